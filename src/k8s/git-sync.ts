// GitSync: templates from git (ClusterDesc spec.git). For each such ClusterDesc, every interval:
// shallow-fetch the ref (src/git/repo.ts), map the folder's files to templates, trial-render them
// for the cluster's Machines, and only when all of that succeeds server-side apply them as the
// ConfigMap ccts-git-<name> that template resolution reads (src/render/git-templates.ts); the
// controller's fan-out on ConfigMap changes then re-renders the Machines. A failure never touches
// that ConfigMap. Status (status.git, condition TemplatesSynced) and Events on the ClusterDesc say
// what happened; credentials are scrubbed from everything reported. Runs on the leader only.
import { randomBytes } from "node:crypto";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import { API_VERSION, KIND_CLUSTER_DESC, LABEL_CLUSTER, LABEL_MANAGED_BY } from "../api/constants.js";
import type { ClusterDesc, Condition, GitSyncStatus, Machine } from "../api/types.js";
import type { SecretObject } from "../controller/certificates.js";
import type { ConfigMapObject } from "../controller/rendered-configmap.js";
import {
  credentialsFromSecret,
  DEFAULT_FETCH_TIMEOUT_MS,
  fetchFiles,
  type GitCredentials,
  loadLastGood,
  saveLastGood,
  secretValues,
} from "../git/repo.js";
import { normalizePath, parseInterval, scrub, templatesFromFiles } from "../git/source.js";
import { compile } from "../render/engine.js";
import {
  ANNOTATION_GIT_COMMIT,
  ANNOTATION_GIT_PATH,
  ANNOTATION_GIT_URL,
  GIT_MANAGED_BY,
  gitTemplatesConfigMapName,
} from "../render/git-templates.js";
import { renderDnsmasq, renderMachine, templatePart } from "../render/index.js";
import type { TemplateSource } from "../render/types.js";
import type { KubeClient } from "./client.js";
import { paths } from "./paths.js";
import { ApiWrites } from "./writes.js";

export const GIT_FIELD_MANAGER = "ccts-git-sync";
export const CONDITION_TEMPLATES_SYNCED = "TemplatesSynced";
export type GitSyncReason = "Synced" | "FetchFailed" | "PathNotFound" | "RenderFailed";
/** Annotation on the ConfigMap when it was put back from the on-disk cache (git unreachable). */
export const ANNOTATION_GIT_RESTORED = "ccts.io/git-restored-from-cache";
const APPLY = "application/apply-patch+yaml";

/** Read port: the controller's informer caches (MachineCache). */
export interface GitSyncCache {
  readonly clusterDescs: { list(): IterableIterator<ClusterDesc> };
  members(namespace: string, cluster: string): Machine[];
  configMap(namespace: string, name: string): ConfigMapObject | undefined;
  secret(namespace: string, name: string): SecretObject | undefined;
}

export interface GitSyncOptions {
  client: KubeClient;
  cache: GitSyncCache;
  /** Root of the per-ClusterDesc cache folders (<root>/<namespace>/<name>). */
  cacheDir: string;
  logger: Logger;
  fetchTimeoutMs?: number;
  /** How often due ClusterDescs are looked for (default 1 s). */
  tickMs?: number;
  /** ClusterDescs synced at the same time (default 2). */
  concurrency?: number;
  now?: () => Date;
}

/** Stands in for the Machine certificate in trial renders (the controller renders with real ones). */
const PLACEHOLDER_TLS = {
  ca: "-----BEGIN CERTIFICATE-----\nY2N0cy10cmlhbC1yZW5kZXI=\n-----END CERTIFICATE-----\n",
  cert: "-----BEGIN CERTIFICATE-----\nY2N0cy10cmlhbC1yZW5kZXI=\n-----END CERTIFICATE-----\n",
  key: "-----BEGIN PRIVATE KEY-----\nY2N0cy10cmlhbC1yZW5kZXI=\n-----END PRIVATE KEY-----\n",
};

interface Tracked {
  /** What the last sync was started for (spec, generation, Secret version): a change syncs at once. */
  trigger?: string;
  nextAt: number;
  running?: Promise<void>;
  condition?: Condition;
  lastSuccessTime?: string;
}

interface Outcome {
  reason: GitSyncReason;
  message: string;
  /** Commit of the templates in use afterwards. */
  commit?: string;
  wrote?: boolean;
}

const seconds = (d: Date) => d.toISOString().replace(/\.\d+Z$/, "Z");

export class GitSync {
  private readonly tracked = new Map<string, Tracked>();
  private readonly cleared = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private readonly log: Logger;
  private readonly now: () => Date;
  /** Reads a credentials Secret's data (the cache holds other Secrets as metadata only). */
  private readonly api: ApiWrites;
  /** Writes done, for tests and metrics. */
  readonly writes = { configmap: 0, status: 0, event: 0 };

  constructor(private readonly o: GitSyncOptions) {
    this.log = o.logger.child({ component: "git-sync" });
    this.now = o.now ?? (() => new Date());
    this.api = new ApiWrites(o.client);
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), this.o.tickMs ?? 1000);
    this.tick();
  }

  /** Stops looking for due ClusterDescs and waits for syncs in flight. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await Promise.all([...this.tracked.values()].map((t) => t.running));
  }

  private tick(): void {
    const seen = new Set<string>();
    let active = [...this.tracked.values()].filter((t) => t.running).length;
    for (const cluster of this.o.cache.clusterDescs.list()) {
      const ns = cluster.metadata.namespace ?? "default";
      const key = `${ns}/${cluster.metadata.name}`;
      if (!cluster.spec.git?.url) {
        // Once no sync is in flight (its report would put the status back), clear ours.
        if (cluster.status?.git && !this.cleared.has(key) && !this.tracked.get(key)?.running) {
          this.cleared.add(key);
          this.tracked.delete(key);
          this.clearStatus(cluster).catch((e) => {
            setTimeout(() => this.cleared.delete(key), 5000).unref();
            this.log.warn({ clusterDesc: key, err: String(e) }, "clearing status failed");
          });
        }
        continue;
      }
      this.cleared.delete(key);
      seen.add(key);
      let t = this.tracked.get(key);
      if (!t) {
        t = {
          nextAt: 0,
          condition: cluster.status?.conditions?.find((c) => c.type === CONDITION_TEMPLATES_SYNCED),
          lastSuccessTime: cluster.status?.git?.lastSuccessTime,
        };
        this.tracked.set(key, t);
      }
      if (t.running) continue;
      const secretName = cluster.spec.git.secretRef?.name;
      const secretVersion = secretName
        ? (this.o.cache.secret(ns, secretName)?.metadata.resourceVersion ?? "-")
        : "";
      const trigger = JSON.stringify([
        cluster.metadata.uid,
        cluster.metadata.generation,
        cluster.spec.git,
        secretVersion,
      ]);
      if (trigger === t.trigger && Date.now() < t.nextAt) continue;
      if (active >= (this.o.concurrency ?? 2)) continue;
      active++;
      t.trigger = trigger;
      const tracked = t;
      tracked.running = this.sync(cluster, tracked)
        .catch((e) => {
          // API errors (status, ConfigMap writes): try again soon.
          tracked.nextAt = Date.now() + 5000;
          tracked.trigger = undefined;
          this.log.error({ clusterDesc: key, err: String(e) }, "git sync failed; retrying");
        })
        .finally(() => {
          tracked.running = undefined;
        });
    }
    for (const [key, t] of this.tracked) {
      if (seen.has(key) || t.running) continue;
      this.tracked.delete(key);
      const [ns, name] = key.split("/") as [string, string];
      // The ClusterDesc is gone: so is its cache (its ConfigMap goes by garbage collection).
      if (
        ![...this.o.cache.clusterDescs.list()].some(
          (c) => c.metadata.namespace === ns && c.metadata.name === name,
        )
      ) {
        rm(this.dirOf(ns, name), { recursive: true, force: true }).catch(() => {});
      }
    }
  }

  private dirOf(namespace: string, name: string): string {
    return join(this.o.cacheDir, namespace, name);
  }

  /** One attempt for one ClusterDesc; resolves after status (and maybe ConfigMap, events) are written. */
  async sync(cluster: ClusterDesc, tracked?: Tracked): Promise<void> {
    const ns = cluster.metadata.namespace ?? "default";
    const name = cluster.metadata.name;
    const key = `${ns}/${name}`;
    const t = tracked ?? this.tracked.get(key) ?? { nextAt: 0 };
    const git = cluster.spec.git!;
    const fetchTime = this.now();
    let interval: number;
    try {
      interval = parseInterval(git.interval);
    } catch (e) {
      t.nextAt = Date.now() + parseInterval(undefined);
      return this.report(cluster, t, fetchTime, { reason: "FetchFailed", message: (e as Error).message });
    }
    t.nextAt = Date.now() + interval;

    let credentials: GitCredentials | undefined;
    if (git.secretRef?.name) {
      // The cache holds Secrets ccts did not make as metadata only: the data is fetched.
      const secret = this.o.cache.secret(ns, git.secretRef.name)
        ? await this.api.getSecret(ns, git.secretRef.name)
        : undefined;
      if (!secret) {
        return this.report(cluster, t, fetchTime, {
          reason: "FetchFailed",
          message: `Secret ${git.secretRef.name} (spec.git.secretRef) not found`,
        });
      }
      credentials = credentialsFromSecret(secret.data);
    }
    const secrets = secretValues(credentials);
    const dir = this.dirOf(ns, name);
    const cmName = gitTemplatesConfigMapName(name);
    const pathShown = (() => {
      const p = normalizePath(git.path);
      return "path" in p ? p.path || "/" : (git.path ?? "/");
    })();
    const existing = this.o.cache.configMap(ns, cmName);
    const inUse = existing?.metadata.annotations?.[ANNOTATION_GIT_COMMIT];

    const fetched = await fetchFiles({
      dir,
      url: git.url,
      ref: git.ref,
      path: git.path,
      credentials,
      timeoutMs: this.o.fetchTimeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS,
    });
    if (!fetched.ok) {
      let commit = inUse;
      if (!existing) commit = (await this.restoreFromDisk(cluster, dir, pathShown)) ?? commit;
      return this.report(
        cluster,
        t,
        fetchTime,
        { reason: fetched.reason, message: fetched.message, commit },
        secrets,
      );
    }
    const short = fetched.commit.slice(0, 12);
    const mapped = templatesFromFiles(fetched.files);
    if ("error" in mapped) {
      return this.report(
        cluster,
        t,
        fetchTime,
        {
          reason: mapped.reason,
          message: `commit ${short}, path ${pathShown}: ${mapped.error}`,
          commit: inUse,
        },
        secrets,
      );
    }
    const unchanged =
      existing !== undefined &&
      inUse === fetched.commit &&
      existing.metadata.annotations?.[ANNOTATION_GIT_PATH] === pathShown &&
      !existing.metadata.annotations?.[ANNOTATION_GIT_RESTORED] &&
      sameData(existing.data, mapped.templates);
    let wrote = false;
    if (!unchanged) {
      const problem = this.trialRender(cluster, mapped.templates, `git@${short}:${pathShown}`);
      if (problem) {
        return this.report(
          cluster,
          t,
          fetchTime,
          { reason: "RenderFailed", message: `commit ${short}: ${problem}`, commit: inUse },
          secrets,
        );
      }
      await this.applyConfigMap(cluster, mapped.templates, fetched.commit, pathShown, git.url);
      wrote = true;
    }
    if (wrote || (await loadLastGood(dir))?.commit !== fetched.commit) {
      await saveLastGood(dir, {
        url: git.url,
        ref: git.ref ?? "HEAD",
        path: pathShown,
        commit: fetched.commit,
        time: seconds(fetchTime),
        templates: mapped.templates,
      });
    }
    const count = Object.keys(mapped.templates).length;
    return this.report(
      cluster,
      t,
      fetchTime,
      {
        reason: "Synced",
        message: `${count} template${count === 1 ? "" : "s"} from commit ${short} (${git.ref ?? "HEAD"}, path ${pathShown})`,
        commit: fetched.commit,
        wrote,
      },
      secrets,
    );
  }

  /**
   * The ConfigMap is gone and git is unreachable (say, a fresh namespace restore or an operator's
   * delete): put back the last good templates kept on disk, if they are for the same source.
   */
  private async restoreFromDisk(
    cluster: ClusterDesc,
    dir: string,
    pathShown: string,
  ): Promise<string | undefined> {
    const git = cluster.spec.git!;
    const last = await loadLastGood(dir);
    if (!last || last.url !== git.url || last.ref !== (git.ref ?? "HEAD") || last.path !== pathShown)
      return undefined;
    if (this.trialRender(cluster, last.templates, `cache@${last.commit.slice(0, 12)}:${pathShown}`))
      return undefined;
    await this.applyConfigMap(cluster, last.templates, last.commit, pathShown, git.url, true);
    this.log.warn(
      { clusterDesc: `${cluster.metadata.namespace}/${cluster.metadata.name}`, commit: last.commit },
      "git unreachable: templates restored from the on-disk cache",
    );
    return last.commit;
  }

  /** Why the templates cannot be used for every Machine of the cluster, or undefined. */
  private trialRender(
    cluster: ClusterDesc,
    data: Record<string, string>,
    origin: string,
  ): string | undefined {
    const templates: TemplateSource[] = Object.entries(data).map(([output, text]) => ({
      output,
      origin: `${origin}/${output}`,
      text,
    }));
    const machines = this.o.cache.members(cluster.metadata.namespace ?? "default", cluster.metadata.name);
    // A dnsmasq.conf is the ClusterDesc's own template: rendered once, as the controller will, not
    // once per Machine (10,000 renders of 10,000 reservations).
    const dnsmasq = templates.find((t) => templatePart(t.output) === "dnsmasq");
    if (dnsmasq) {
      const result = renderDnsmasq(cluster, machines, dnsmasq);
      // Two Machines with one IP are theirs to fix (the ClusterDesc's events say so), not the template's.
      if (!result.ok && result.failure.reason !== "DuplicateIP") return result.failure.message;
    }
    const perMachine = templates.filter((t) => t !== dnsmasq);
    if (machines.length === 0) {
      // No Machine to render for: at least every template must parse.
      for (const t of perMachine) {
        try {
          compile(t.text);
        } catch (e) {
          return `template ${t.output}: ${(e as Error).message}`;
        }
      }
      return undefined;
    }
    if (perMachine.length === 0) return undefined; // the Machines render the built-in set
    for (const machine of machines) {
      const result = renderMachine({
        cluster,
        machine,
        machines,
        templates: perMachine,
        tls: PLACEHOLDER_TLS,
      });
      // A Machine that is itself invalid is its own problem (its status says so), not the templates'.
      if (!result.ok && result.failure.reason !== "InvalidMachine") return result.failure.message;
    }
    return undefined;
  }

  private async applyConfigMap(
    cluster: ClusterDesc,
    templates: Record<string, string>,
    commit: string,
    path: string,
    url: string,
    restored = false,
  ): Promise<void> {
    const ns = cluster.metadata.namespace ?? "default";
    const name = gitTemplatesConfigMapName(cluster.metadata.name);
    const annotations: Record<string, string> = {
      [ANNOTATION_GIT_COMMIT]: commit,
      [ANNOTATION_GIT_PATH]: path,
      [ANNOTATION_GIT_URL]: scrub(url),
    };
    if (restored) annotations[ANNOTATION_GIT_RESTORED] = "true";
    const cm: ConfigMapObject = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: {
        name,
        namespace: ns,
        labels: { [LABEL_MANAGED_BY]: GIT_MANAGED_BY, [LABEL_CLUSTER]: cluster.metadata.name },
        annotations,
        // No blockOwnerDeletion: it would need update on clusterdescs/finalizers.
        ownerReferences: [
          {
            apiVersion: API_VERSION,
            kind: KIND_CLUSTER_DESC,
            name: cluster.metadata.name,
            uid: cluster.metadata.uid ?? "",
            controller: true,
          },
        ],
      },
      data: templates,
    };
    await this.o.client.request("PATCH", paths.one(paths.configMaps({ namespace: ns }), name), {
      query: { fieldManager: GIT_FIELD_MANAGER, force: true },
      contentType: APPLY,
      body: cm,
    });
    this.writes.configmap++;
  }

  private async report(
    cluster: ClusterDesc,
    t: Tracked,
    fetchTime: Date,
    outcome: Outcome,
    secrets: string[] = [],
  ): Promise<void> {
    const ns = cluster.metadata.namespace ?? "default";
    const key = `${ns}/${cluster.metadata.name}`;
    const message = scrub(outcome.message, secrets).slice(0, 4000);
    const ok = outcome.reason === "Synced";
    const prev = t.condition;
    const now = seconds(fetchTime);
    const condition: Condition = {
      type: CONDITION_TEMPLATES_SYNCED,
      status: ok ? "True" : "False",
      reason: outcome.reason,
      message,
      lastTransitionTime: prev && prev.status === (ok ? "True" : "False") ? prev.lastTransitionTime : now,
      observedGeneration: cluster.metadata.generation,
    };
    if (ok) t.lastSuccessTime = now;
    const git: GitSyncStatus = {
      commit: outcome.commit ?? cluster.status?.git?.commit,
      lastFetchTime: now,
      lastSuccessTime: t.lastSuccessTime,
      lastError: ok ? undefined : message,
    };
    await this.o.client.request(
      "PATCH",
      `${paths.one(paths.clusterDescs({ namespace: ns }), cluster.metadata.name)}/status`,
      {
        query: { fieldManager: GIT_FIELD_MANAGER, force: true },
        contentType: APPLY,
        body: {
          apiVersion: API_VERSION,
          kind: KIND_CLUSTER_DESC,
          metadata: { name: cluster.metadata.name, namespace: ns },
          status: { git, conditions: [condition] },
        },
      },
    );
    this.writes.status++;
    t.condition = condition;

    if (!ok) {
      this.log.warn({ clusterDesc: key, reason: outcome.reason }, message);
      if (prev?.reason !== outcome.reason || prev?.message !== message) {
        await this.event(cluster, "Warning", outcome.reason, message);
      }
    } else if (prev && prev.status !== "True") {
      this.log.info({ clusterDesc: key, commit: outcome.commit }, message);
      await this.event(
        cluster,
        "Normal",
        "Recovered",
        `${message} (was ${prev.reason}: ${prev.message})`.slice(0, 1024),
      );
    } else if (outcome.wrote) {
      this.log.info({ clusterDesc: key, commit: outcome.commit }, message);
      await this.event(cluster, "Normal", "Synced", message);
    }
  }

  /**
   * Removes status.git and TemplatesSynced once spec.git is gone. A merge patch, not an apply:
   * applying an empty status would leave status null, which the schema refuses. The
   * resourceVersion makes it fail rather than drop a condition someone else wrote meanwhile.
   */
  private async clearStatus(cluster: ClusterDesc): Promise<void> {
    const ns = cluster.metadata.namespace ?? "default";
    const others = (cluster.status?.conditions ?? []).filter((c) => c.type !== CONDITION_TEMPLATES_SYNCED);
    await this.o.client.request(
      "PATCH",
      `${paths.one(paths.clusterDescs({ namespace: ns }), cluster.metadata.name)}/status`,
      {
        query: { fieldManager: GIT_FIELD_MANAGER },
        contentType: "application/merge-patch+json",
        body: {
          metadata: { resourceVersion: cluster.metadata.resourceVersion },
          status: { git: null, conditions: others.length ? others : null },
        },
      },
    );
    this.writes.status++;
  }

  private async event(cluster: ClusterDesc, type: "Normal" | "Warning", reason: string, message: string) {
    const ns = cluster.metadata.namespace ?? "default";
    const now = new Date().toISOString();
    try {
      await this.o.client.request("POST", paths.events(ns), {
        body: {
          apiVersion: "v1",
          kind: "Event",
          metadata: { name: `${cluster.metadata.name}.${randomBytes(8).toString("hex")}`, namespace: ns },
          involvedObject: {
            apiVersion: API_VERSION,
            kind: KIND_CLUSTER_DESC,
            name: cluster.metadata.name,
            namespace: ns,
            uid: cluster.metadata.uid,
          },
          type,
          reason,
          message: message.slice(0, 1024),
          source: { component: GIT_FIELD_MANAGER },
          reportingComponent: GIT_FIELD_MANAGER,
          reportingInstance: process.env.HOSTNAME ?? GIT_FIELD_MANAGER,
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
      });
      this.writes.event++;
    } catch (e) {
      this.log.warn({ err: String(e) }, "event not recorded");
    }
  }
}

function sameData(a: Record<string, string> | undefined, b: Record<string, string>): boolean {
  const keys = Object.keys(b);
  return !!a && Object.keys(a).length === keys.length && keys.every((k) => a[k] === b[k]);
}
