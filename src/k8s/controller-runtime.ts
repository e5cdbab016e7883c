// Wires the controller to the API server: informers feed the caches and the fan-out, the work
// queue runs reconcileMachine, writes go through server-side apply. Only the leader reconciles.
import type { Logger } from "pino";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { LABEL_KIND, LABEL_MANAGED_BY } from "../api/constants.js";
import { owningMachine } from "../api/labels.js";
import { namespacedKey, objectKey } from "../api/machine.js";
import type { ClusterDesc, Machine, MachineStatus } from "../api/types.js";
import {
  ClusterPKI,
  generatedCASecretName,
  type SecretObject,
  withoutUnreadSecretData,
} from "../controller/certificates.js";
import {
  CLUSTER_KEY_PREFIX,
  clusterDocumentsKey,
  type LastClusterRender,
  reconcileClusterDocuments,
} from "../controller/cluster-documents.js";
import { clusterChanged, machineChanged, templateConfigMapChanged } from "../controller/fanout.js";
import { OwnEchoes } from "../controller/own-echoes.js";
import { WorkQueue } from "../controller/queue.js";
import { reconcileMachine } from "../controller/reconcile.js";
import { RenderMemo } from "../controller/render-memo.js";
import {
  type ConfigMapObject,
  MANAGED_BY,
  renderedConfigMapEntry,
} from "../controller/rendered-configmap.js";
import { WriteMemory } from "../controller/write-memory.js";
import { resolveTemplates } from "../render/index.js";
import type { KubeClient } from "./client.js";
import { Informer } from "./informer.js";
import { MachineCache, withSharedStrings } from "./machine-cache.js";
import { paths } from "./paths.js";
import { ApiWrites, FIELD_MANAGER } from "./writes.js";

/** The shortest renewal horizon (ControllerOptions.renewalHorizonMs). */
export const DAY_MS = 86_400_000;

export interface ControllerOptions {
  client: KubeClient;
  /** Watch one namespace; all namespaces when absent. */
  namespace?: string;
  concurrency?: number;
  logger: Logger;
  metrics: Registry;
  now?: () => Date;
  maxBytes?: number;
  /**
   * Namespace for the Secrets of documents that hold private keys (`--documents-namespace`), so
   * the server can be allowed to read Secrets there and nowhere else. Each Machine's own
   * namespace when absent.
   */
  documentsNamespace?: string;
  /**
   * How far ahead a certificate renewal gets a timer of its own; one due later is found by a
   * resync (keep this above the resync interval). One timer per Machine cost ~0.3 KB each and
   * fired, at the timers' cap, every 24 days for a renewal months away. Default one day.
   */
  renewalHorizonMs?: number;
  /**
   * How long a Machine change waits before its ClusterDesc's documents (dnsmasq.conf, one line per
   * Machine) are rendered, so the changes of that while share one render. Default 1 s.
   */
  clusterDocumentsDelayMs?: number;
}

export class ControllerRuntime {
  readonly cache: MachineCache;
  readonly queue: WorkQueue;
  private reconciling = false;
  /** Tells the watch events of our own writes (ConfigMaps, Secrets, Machine status) from others' changes. */
  private readonly echoes = new OwnEchoes();
  readonly writes = { configmap: 0, secret: 0, status: 0, event: 0 };
  private readonly memory: WriteMemory;
  private readonly renderMemo = new RenderMemo();
  private readonly pki: ClusterPKI;
  private readonly clusterFailures = new Map<string, string>();
  private readonly clusterRenders = new Map<string, LastClusterRender>();

  constructor(o: ControllerOptions) {
    const scope = { namespace: o.namespace };
    const log = o.logger;
    const metric = metricsFor(o.metrics);
    const clusterDocumentsDelayMs = o.clusterDocumentsDelayMs ?? 1000;
    const onError = (what: string) => (err: unknown, retryInMs: number) =>
      log.warn({ err: String(err), retryInMs }, `${what} watch failed; retrying`);
    const machines = new Informer<Machine>({
      client: o.client,
      path: paths.machines(scope),
      cached: withSharedStrings,
      onEvent: (type, obj, old) => {
        // The indexes keep what the cache keeps (member lists are swapped object for object).
        const next =
          type === "DELETED" ? undefined : (machines.get(obj.metadata.namespace, obj.metadata.name) ?? obj);
        this.cache.index(old, next);
        if (!next) this.memory.forgetMachine(objectKey(obj));
        if (old && next && old.metadata.generation === next.metadata.generation) {
          // Status or metadata only: nothing to re-render when it was our status write. Someone
          // else's may have changed the status we wrote: reconcile, and write it again if so.
          const key = objectKey(obj);
          const changedByOthers = () => {
            this.memory.forgetMachine(key);
            this.enqueue([key]);
          };
          this.echoes.unlessEcho(type, `machine:${key}`, obj.metadata.resourceVersion, changedByOthers);
          return;
        }
        // The cluster's own documents (dnsmasq reservations) list every Machine: rendered once
        // for the Machine changes of a short while, not once per Machine.
        this.enqueue(
          [old, next]
            .filter((m) => m !== undefined)
            .map((m) => clusterDocumentsKey(m.metadata.namespace, m.spec.clusterDesc)),
          clusterDocumentsDelayMs,
        );
        this.enqueue(
          machineChanged(
            this.cache,
            old,
            next,
            (m) => this.cache.cluster(m.metadata.namespace ?? "", m.spec.clusterDesc),
            (c) => this.templateTexts(c),
          ),
        );
      },
      onError: onError("Machine"),
    });
    const clusterDescs = new Informer<ClusterDesc>({
      client: o.client,
      path: paths.clusterDescs(scope),
      onEvent: (_type, obj, old) => {
        if (old && old.metadata.generation === obj.metadata.generation && _type !== "DELETED") return;
        this.enqueue([clusterDocumentsKey(obj.metadata.namespace, obj.metadata.name)]);
        this.enqueueBulk(clusterChanged(this.cache, obj));
      },
      onError: onError("ClusterDesc"),
    });
    // Rendered ConfigMaps (ours) are watched as metadata only: their documents are never read
    // back, and a fan-out brings one watch event per Machine. Templates are read whole.
    const renderedConfigMaps = new Informer<ConfigMapObject>({
      client: o.client,
      path: paths.configMaps(scope),
      labelSelector: `${LABEL_MANAGED_BY}=${MANAGED_BY}`,
      metadataOnly: true,
      cached: (cm, previous, managedFields) =>
        renderedConfigMapEntry(cm, previous, managedFields, FIELD_MANAGER),
      onEvent: (type, obj) => {
        // A rendered ConfigMap changed or deleted by someone else: put back what it should hold.
        const ns = obj.metadata.namespace;
        const changedByOthers = () => {
          this.memory.forgetConfigMap(`${ns}/${obj.metadata.name}`);
          const owner = obj.metadata.ownerReferences?.[0];
          if (owner?.kind === "ClusterDesc") this.enqueue([clusterDocumentsKey(ns, owner.name)]);
          else if (owner) this.enqueue([namespacedKey(ns, owner.name)]);
        };
        const key = `cm:${ns}/${obj.metadata.name}`;
        this.echoes.unlessEcho(type, key, obj.metadata.resourceVersion, changedByOthers);
      },
      onError: onError("rendered ConfigMap"),
    });
    const templateConfigMaps = new Informer<ConfigMapObject>({
      client: o.client,
      path: paths.configMaps(scope),
      labelSelector: `${LABEL_MANAGED_BY}!=${MANAGED_BY}`,
      onEvent: (_type, obj) =>
        this.enqueueBulk(templateConfigMapChanged(this.cache, obj.metadata.namespace, obj.metadata.name)),
      onError: onError("ConfigMap"),
    });
    const onSecretEvent = (type: string, obj: SecretObject) => {
      const ns = obj.metadata.namespace;
      const key = `${ns}/${obj.metadata.name}`;
      if (obj.metadata.labels?.[LABEL_MANAGED_BY] === MANAGED_BY) {
        const machine = owningMachine(obj.metadata);
        if (machine && obj.metadata.labels[LABEL_KIND] === "certificate" && type !== "DELETED")
          this.pki.informerHas(machine, obj);
        const changedByOthers = () => {
          this.memory.forgetSecret(key);
          if (machine) {
            this.pki.forgetMachine(machine);
            this.enqueue([machine]);
          }
        };
        this.echoes.unlessEcho(type, `secret:${key}`, obj.metadata.resourceVersion, changedByOthers);
      }
      // A CA Secret changed (rotated by the user, or deleted): every Machine of its clusters.
      for (const cluster of this.cache.clusters(ns)) {
        const caSecret = cluster.spec.pki?.caSecretName ?? generatedCASecretName(cluster.metadata.name);
        if (caSecret === obj.metadata.name) this.enqueueBulk(clusterChanged(this.cache, cluster));
      }
    };
    const secrets = new Informer<SecretObject>({
      client: o.client,
      path: paths.secrets(scope),
      labelSelector: `${LABEL_MANAGED_BY}=${MANAGED_BY}`,
      cached: withoutUnreadSecretData,
      onEvent: onSecretEvent,
      onError: onError("Secret"),
    });
    // Every other Secret (of the namespace, or of the cluster) as metadata only: the controller
    // reads two kinds of them (a named CA, fetched when its version changes; git credentials,
    // fetched at each sync) and keeps none of the cluster's other secrets in memory.
    const otherSecrets = new Informer<SecretObject>({
      client: o.client,
      path: paths.secrets(scope),
      labelSelector: `${LABEL_MANAGED_BY}!=${MANAGED_BY}`,
      metadataOnly: true,
      cached: ({ metadata }) => ({ apiVersion: "v1", kind: "Secret", metadata }),
      onEvent: onSecretEvent,
      onError: onError("Secret (metadata)"),
    });
    // Watching one namespace, the documents namespace needs a watch of its own (only our Secrets).
    const documentSecrets =
      o.documentsNamespace && o.namespace !== undefined && o.documentsNamespace !== o.namespace
        ? new Informer<SecretObject>({
            client: o.client,
            path: paths.secrets({ namespace: o.documentsNamespace }),
            labelSelector: `${LABEL_MANAGED_BY}=${MANAGED_BY},${LABEL_KIND}=documents`,
            cached: withoutUnreadSecretData,
            onEvent: onSecretEvent,
            onError: onError("documents Secret"),
          })
        : undefined;
    this.cache = new MachineCache(
      machines,
      clusterDescs,
      renderedConfigMaps,
      templateConfigMaps,
      secrets,
      otherSecrets,
      documentSecrets,
    );

    const apiWrites = new ApiWrites(o.client);
    const version = (answer: string | undefined) => answer;
    const recordingWrites = {
      applyConfigMap: (cm: ConfigMapObject) =>
        this.echoes.write(
          `cm:${cm.metadata.namespace}/${cm.metadata.name}`,
          () => apiWrites.applyConfigMap(cm),
          version,
        ),
      applySecret: (secret: SecretObject) =>
        this.echoes.write(
          `secret:${secret.metadata.namespace}/${secret.metadata.name}`,
          () => apiWrites.applySecret(secret),
          version,
        ),
      deleteSecret: apiWrites.deleteSecret.bind(apiWrites),
      patchMachineStatus: (machine: Machine, status: MachineStatus) =>
        this.echoes.write(
          `machine:${objectKey(machine)}`,
          () => apiWrites.patchMachineStatus(machine, status),
          (answer) => answer?.resourceVersion,
        ),
      event: apiWrites.event.bind(apiWrites),
    };
    this.memory = new WriteMemory(recordingWrites, (kind) => {
      this.writes[kind]++;
      metric.writes.inc({ kind });
    });
    this.pki = new ClusterPKI({
      cached: (ns, name) => this.cache.secret(ns, name),
      get: (ns, name) => apiWrites.getSecret(ns, name),
      create: async (secret) => {
        const created = await apiWrites.createSecret(secret);
        if (created === "created") {
          this.writes.secret++;
          metric.writes.inc({ kind: "secret" });
        }
        return created;
      },
      apply: (secret) => this.memory.applySecret(secret),
    });
    this.queue = new WorkQueue({
      concurrency: o.concurrency ?? 8,
      maxDelayMs: 30_000,
      handler: async (key) => {
        if (key.startsWith(CLUSTER_KEY_PREFIX)) {
          const [ns, name] = key.slice(CLUSTER_KEY_PREFIX.length).split("/") as [string, string];
          await reconcileClusterDocuments(
            {
              state: this.cache,
              applyConfigMap: (cm) => this.memory.applyConfigMap(cm),
              clusterEvent: async (cluster, type, reason, message) => {
                await apiWrites.event(cluster, type, reason, message, "ClusterDesc");
                this.writes.event++;
              },
              lastFailure: this.clusterFailures,
              lastRender: this.clusterRenders,
            },
            ns,
            name,
          );
          return;
        }
        const [ns, name] = key.split("/") as [string, string];
        const outcome = await reconcileMachine(
          {
            state: this.cache,
            writes: this.memory,
            now: o.now ?? (() => new Date()),
            maxBytes: o.maxBytes,
            pki: this.pki,
            documentsNamespace: o.documentsNamespace,
            onRender: (seconds) => metric.render.observe(seconds),
            memo: this.renderMemo,
          },
          ns,
          name,
        );
        if (outcome?.renewAfter) {
          // Due within the horizon: a timer brings the Machine back then. Due later: no timer; a
          // resync reconciles it again before it comes within the horizon.
          const delay = outcome.renewAfter.getTime() - (o.now ?? (() => new Date()))().getTime();
          if (delay <= (o.renewalHorizonMs ?? DAY_MS)) {
            this.queue.addAfter(key, Math.min(Math.max(delay, 1000), 2 ** 31 - 1)); // timers cap at ~24 days
          }
        }
        if (outcome && outcome.reason !== "Rendered") {
          log.warn({ machine: key, reason: outcome.reason }, outcome.message);
        }
        metric.reconciles.inc({ result: outcome?.reason ?? "Deleted" });
        if (outcome?.unchanged) metric.unchanged.inc();
        if (outcome?.renderCause) metric.renderCauses.inc({ cause: outcome.renderCause });
      },
      onError: (key, err, retryInMs) => {
        metric.errors.inc();
        log.error({ machine: key, err: String(err), retryInMs }, "reconcile failed; retrying");
      },
      onDone: (_key, _ok, seconds) => {
        metric.duration.observe(seconds);
        metric.depth.set(this.queue.depth);
      },
    });
    metric.depth.set(0);
  }

  private templateTexts(cluster: ClusterDesc): string[] {
    const resolved = resolveTemplates(
      cluster,
      (cm) => this.cache.configMap(cluster.metadata.namespace ?? "", cm)?.data,
    );
    return "error" in resolved ? [] : resolved.templates.map((t) => t.text);
  }

  /** Queues keys while reconciling; after `delayMs` when given (a pending timer for a key stands). */
  private enqueue(keys: string[], delayMs?: number): void {
    if (!this.reconciling) return;
    for (const k of keys) {
      if (delayMs === undefined) this.queue.add(k);
      else this.queue.addAfter(k, delayMs);
    }
  }

  /**
   * Keys of a pass over many Machines (a resync, a ClusterDesc's or its templates' fan-out): they
   * wait behind every Machine queued for a change of its own, which is answered in its time.
   */
  private enqueueBulk(keys: string[]): void {
    if (!this.reconciling) return;
    for (const k of keys) this.queue.add(k, "bulk");
  }

  private get informers() {
    const c = this.cache;
    return [
      c.machines,
      c.clusterDescs,
      c.renderedConfigMaps,
      c.templateConfigMaps,
      c.secrets,
      c.otherSecrets,
      ...(c.documentSecrets ? [c.documentSecrets] : []),
    ];
  }

  /** Starts the informers and waits until every cache has synced. */
  async startInformers(): Promise<void> {
    for (const i of this.informers) i.start();
    await Promise.all(this.informers.map((i) => i.synced()));
  }

  get synced(): boolean {
    return this.informers.every((i) => i.hasSynced);
  }

  /** Starts reconciling (on becoming leader): every Machine is queued once (bulk), then events drive. */
  startReconciling(): void {
    this.reconciling = true;
    this.resync();
  }

  /**
   * Queues every Machine, and every Machine a documents Secret names that is gone (deleted while
   * no controller ran): its reconcile deletes that Secret. With nothing changed, the reconciles
   * that follow render nothing and write nothing (the render memo). In the bulk lane: a
   * Machine's own change goes first.
   */
  resync(): void {
    this.enqueueBulk([...this.cache.machines.list()].map(objectKey));
    const { secrets, documentSecrets } = this.cache;
    for (const informer of [secrets, documentSecrets]) {
      for (const s of informer?.list() ?? []) {
        const machine =
          s.metadata.labels?.[LABEL_KIND] === "documents" ? owningMachine(s.metadata) : undefined;
        const [ns, name] = machine?.split("/") ?? [];
        if (ns && name && !this.cache.machine(ns, name)) this.enqueueBulk([machine!]);
      }
    }
    this.enqueueBulk(
      [...this.cache.clusterDescs.list()].map((c) =>
        clusterDocumentsKey(c.metadata.namespace, c.metadata.name),
      ),
    );
  }

  /** Finishes reconciles in flight, then stops the informers. */
  async stop(): Promise<void> {
    this.reconciling = false;
    await this.queue.shutDown();
    await Promise.all(this.informers.map((i) => i.stop()));
  }
}

function metricsFor(registry: Registry) {
  return {
    reconciles: new Counter({
      name: "ccts_controller_reconcile_total",
      help: "Machine reconciles by result reason",
      labelNames: ["result"],
      registers: [registry],
    }),
    unchanged: new Counter({
      name: "ccts_controller_reconcile_unchanged_total",
      help: "Reconciles that found every input as at the Machine's last good render: nothing rendered",
      registers: [registry],
    }),
    renderCauses: new Counter({
      name: "ccts_controller_render_causes_total",
      help: "Machines rendered, by why the last good render did not stand: first (none remembered), machine, configmap, certificate, documents, inputs, members, renewal",
      labelNames: ["cause"],
      registers: [registry],
    }),
    errors: new Counter({
      name: "ccts_controller_reconcile_errors_total",
      help: "Reconciles that failed and were retried",
      registers: [registry],
    }),
    duration: new Histogram({
      name: "ccts_controller_reconcile_duration_seconds",
      help: "Time to reconcile one Machine (render and writes)",
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: [registry],
    }),
    render: new Histogram({
      name: "ccts_render_duration_seconds",
      help: "Time to render one Machine's documents",
      buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1],
      registers: [registry],
    }),
    depth: new Gauge({
      name: "ccts_controller_queue_depth",
      help: "Machines waiting to be reconciled",
      registers: [registry],
    }),
    writes: new Counter({
      name: "ccts_controller_writes_total",
      help: "API writes by kind (configmap, status, event)",
      labelNames: ["kind"],
      registers: [registry],
    }),
  };
}
