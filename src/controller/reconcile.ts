// Reconcile one Machine: re-read everything it depends on, render, write its ConfigMap when the
// content changed, and report in status and events. Level-triggered and idempotent: running it
// twice on unchanged state writes nothing the second time. All I/O goes through the ports below.
import type { FailureReason } from "../api/constants.js";
import { MacError } from "../api/mac.js";
import { machineMacs, namespacedKey, objectKey } from "../api/machine.js";
import type { ClusterDesc, Condition, Machine, MachineStatus } from "../api/types.js";
import { containsPrivateKey } from "../pki/x509.js";
import {
  contentHashWith,
  namesMachineList,
  type RenderedDocument,
  renderMachine,
  resolveTemplates,
} from "../render/index.js";
import type { ClusterPKI, MachineCertificate, SecretObject } from "./certificates.js";
import { type RenderCause, type RenderMemo, renderInputs } from "./render-memo.js";
import {
  CA_OUTPUT,
  type ConfigMapObject,
  documentsSecret,
  documentsSecretRef,
  renderedConfigMap,
  renderedConfigMapName,
  sameRendered,
} from "./rendered-configmap.js";

export const CONDITION_RENDERED = "Rendered";

export type Reason = "Rendered" | FailureReason;

/** Read port: the informer caches. */
export interface ClusterState {
  secret(namespace: string, name: string): SecretObject | undefined;
  machine(namespace: string, name: string): Machine | undefined;
  cluster(namespace: string, name: string): ClusterDesc | undefined;
  configMap(namespace: string, name: string): ConfigMapObject | undefined;
  /**
   * Machines of one ClusterDesc. The render core caches facts by the list's identity and the
   * render memo takes a new list for a change: keep one list while no member's spec changes.
   */
  members(namespace: string, cluster: string): Machine[];
  /** Keys of every Machine that claims this canonical MAC. */
  claimants(mac: string): string[];
}

/**
 * A write the API server refused for what it is (invalid, forbidden, denied by an admission
 * policy, namespace missing): retrying the same object will not help until someone acts, so the
 * Machine's status says so. Transient failures (unreachable, throttled, conflicts) are other errors.
 */
export class RefusedWrite extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RefusedWrite";
  }
}

/** What the API server answered a write with. */
export interface WrittenVersion {
  resourceVersion?: string;
  generation?: number;
}

/** Write port: the API server. Document writes reject with a RefusedWrite when refused for good. */
export interface ClusterWrites {
  /** Server-side applies the ConfigMap; resolves to its new resourceVersion. */
  applyConfigMap(cm: ConfigMapObject): Promise<string | undefined>;
  /**
   * Applies the Machine's status; resolves to the Machine's version and generation as the server
   * answered (undefined when nothing was written).
   */
  patchMachineStatus(machine: Machine, status: MachineStatus): Promise<WrittenVersion | undefined>;
  /** Resolves to the new resourceVersion, when the API server answered with one. */
  applySecret(secret: SecretObject): Promise<string | undefined>;
  deleteSecret(namespace: string, name: string): Promise<void>;
  event(machine: Machine, type: "Normal" | "Warning", reason: string, message: string): Promise<void>;
}

export interface ReconcileDeps {
  state: ClusterState;
  writes: ClusterWrites;
  now: () => Date;
  /** Limit for the sum of a Machine's documents (the ConfigMap size limit, less headroom). */
  maxBytes?: number;
  /** Certificates for templates; absent (embedded tests): templates see `tls` as null. */
  pki?: ClusterPKI;
  /** Told how long each render took, for the render-duration metric. */
  onRender?: (seconds: number) => void;
  /** Where documents Secrets go (`--documents-namespace`); each Machine's own namespace when absent. */
  documentsNamespace?: string;
  /** The inputs of each Machine's last good render: found unchanged, the Machine is not rendered again. */
  memo?: RenderMemo;
}

export interface ReconcileOutcome {
  reason: Reason;
  message: string;
  wroteConfigMap: boolean;
  /** Every input was as at the last good render: nothing rendered, nothing written. */
  unchanged?: boolean;
  /** Rendered, with the render memo on: why its last good render did not stand (a metric). */
  renderCause?: RenderCause;
  /** When the Machine's certificate is due for renewal (reconcile again then). */
  renewAfter?: Date;
}

export async function reconcileMachine(
  deps: ReconcileDeps,
  namespace: string,
  name: string,
): Promise<ReconcileOutcome | undefined> {
  const { state } = deps;
  const machine = state.machine(namespace, name);
  const secretRef = documentsSecretRef({ namespace, name }, deps.documentsNamespace);
  const key = namespacedKey(namespace, name);
  if (!machine) {
    deps.memo?.forget(key);
    // Deleted: garbage collection removes what the owner references reach; a documents Secret in
    // another namespace has none, so it goes here.
    if (secretRef.namespace !== namespace && state.secret(secretRef.namespace, secretRef.name)) {
      await deps.writes.deleteSecret(secretRef.namespace, secretRef.name);
    }
    return undefined;
  }
  const inputs =
    deps.memo &&
    renderInputs(state, machine, { pki: !!deps.pki, documentsNamespace: deps.documentsNamespace });
  const memo = inputs && deps.memo!.check(key, inputs, deps.now());
  if (memo && "unchanged" in memo) {
    return {
      reason: "Rendered",
      message: "unchanged since the last render",
      wroteConfigMap: false,
      unchanged: true,
      ...memo.unchanged,
    };
  }
  const existing = state.configMap(namespace, renderedConfigMapName(name));
  const outcome = await renderOutcome(deps, machine);
  // A certificate issued now was written now: its Secret's new version is ours.
  if (inputs && outcome.certificate?.written) inputs.written.certificate = outcome.certificate.written;

  // A failed render never touches the last good documents; a duplicate MAC rewrites the
  // ConfigMap without that MAC's label. The documents' writes go out together; the status after
  // them (below), so a status that says Rendered names documents that are stored.
  const writes: Promise<unknown>[] = [];
  const wroteConfigMap = !!outcome.desired && !sameRendered(existing, outcome.desired);
  if (wroteConfigMap) {
    writes.push(
      deps.writes.applyConfigMap(outcome.desired!).then((version) => {
        if (inputs && version) inputs.written.configMap = version;
      }),
    );
  }
  if (outcome.desired && outcome.privateSecret) {
    writes.push(
      deps.writes.applySecret(outcome.privateSecret).then((version) => {
        if (inputs && version) inputs.written.documents = version;
      }),
    );
  } else if (outcome.desired && state.secret(secretRef.namespace, secretRef.name)) {
    writes.push(deps.writes.deleteSecret(secretRef.namespace, secretRef.name));
  }

  // All settle before an error propagates (the queue retries the whole reconcile).
  const failed = (await Promise.allSettled(writes)).find((r) => r.status === "rejected");
  deps.memo?.forget(key); // remembered again below once the reconcile ends well
  if (failed) {
    if (failed.reason instanceof RefusedWrite) {
      // Said in status and an event; the documents stored before stay served.
      const message = `the API server refused the documents: ${failed.reason.message}; the last stored documents are served`;
      const refused = { ...outcome, reason: "WriteRefused" as const, message, desired: undefined };
      await report(deps, machine, existing, refused).catch(() => {}); // the refusal is the error to retry
    }
    throw failed.reason;
  }
  const written = await report(deps, machine, existing, outcome);
  // Our own status write, of the spec rendered (a spec change since would be a new generation).
  if (inputs && written?.resourceVersion && written.generation === machine.metadata.generation) {
    inputs.written.machine = written.resourceVersion;
  }
  // Only a good render is remembered: a failure is rendered again each time (rare, and its cause
  // may be outside the inputs, as an API server refusing a write is).
  if (inputs && outcome.reason === "Rendered") {
    deps.memo!.remember(key, inputs, {
      renewAfter: outcome.certificate?.renewAfter,
      namesMachineList: outcome.namesMachineList ?? true,
    });
  }
  return {
    reason: outcome.reason,
    message: outcome.message,
    wroteConfigMap,
    renewAfter: outcome.certificate?.renewAfter,
    renderCause: memo && "render" in memo ? memo.render : undefined,
  };
}

/**
 * Status (patched only when it changed) and an event when the reason or message changed; resolves
 * to the Machine's version as the status write answered, when there was one.
 */
async function report(
  deps: ReconcileDeps,
  machine: Machine,
  existing: ConfigMapObject | undefined,
  outcome: Outcome,
): Promise<WrittenVersion | undefined> {
  const namespace = machine.metadata.namespace ?? "default";
  const secretRef = documentsSecretRef({ namespace, name: machine.metadata.name }, deps.documentsNamespace);
  const rendered = outcome.desired ?? existing;
  const ok = outcome.reason === "Rendered";
  const privateOutputs = outcome.desired
    ? Object.keys(outcome.privateSecret?.data ?? {})
    : (machine.status?.outputs ?? []).filter((o) => !(o in (existing?.data ?? {})));
  const status: MachineStatus = {
    observedGeneration: machine.metadata.generation,
    conditions: [
      condition(machine.status?.conditions, {
        type: CONDITION_RENDERED,
        status: ok ? "True" : "False",
        reason: outcome.reason,
        message: outcome.message,
        observedGeneration: machine.metadata.generation,
        now: deps.now(),
      }),
    ],
    configMap: rendered?.metadata.name,
    outputs: rendered?.data ? [...Object.keys(rendered.data), ...privateOutputs].sort() : undefined,
    secret: privateOutputs.length > 0 ? secretName(namespace, secretRef) : undefined,
    certificate: outcome.certificate?.status ?? machine.status?.certificate,
  };
  // One more round trip only when the status changes: not in a fan-out, where only content does.
  const written = sameStatus(machine.status, status)
    ? undefined
    : await deps.writes.patchMachineStatus(machine, status);

  const before = machine.status?.conditions?.find((c) => c.type === CONDITION_RENDERED);
  if (!ok && (before?.reason !== outcome.reason || before?.message !== outcome.message)) {
    await deps.writes.event(machine, "Warning", outcome.reason, outcome.message);
  } else if (ok && before && before.status !== "True") {
    await deps.writes.event(
      machine,
      "Normal",
      "Recovered",
      `${outcome.message} (was ${before.reason}: ${before.message})`,
    );
  }
  return written;
}

interface Outcome {
  reason: Reason;
  message: string;
  /** The ConfigMap to write (public documents); absent when the render failed. */
  desired?: ConfigMapObject;
  /** The Secret to write with documents that hold private key material. */
  privateSecret?: SecretObject;
  certificate?: MachineCertificate;
  /** A good render's templates name `machines`: every member list is an input (the render memo). */
  namesMachineList?: boolean;
}

async function renderOutcome(deps: ReconcileDeps, machine: Machine): Promise<Outcome> {
  const { state } = deps;
  const namespace = machine.metadata.namespace ?? "default";
  const key = objectKey(machine);
  const cluster = state.cluster(namespace, machine.spec.clusterDesc);
  if (!cluster) {
    return {
      reason: "ClusterDescNotFound",
      message: `ClusterDesc ${namespace}/${machine.spec.clusterDesc} not found; the machine renders once it exists`,
    };
  }
  const resolved = resolveTemplates(cluster, (cm) => state.configMap(namespace, cm)?.data);
  if ("error" in resolved) return { reason: "TemplateNotFound", message: resolved.error };

  let certificate: MachineCertificate | undefined;
  let caPem: string | undefined;
  if (deps.pki) {
    const ca = await deps.pki.clusterCA(cluster, deps.now());
    if (!ca.ok) return { reason: ca.reason, message: ca.message };
    try {
      certificate = await deps.pki.machineCertificate(cluster, machine, ca.ca, deps.now());
    } catch (e) {
      if (e instanceof MacError) return { reason: "InvalidMachine", message: `machine ${key}: ${e.message}` };
      throw e;
    }
    caPem = ca.ca.certPem;
  }

  const started = performance.now();
  const result = renderMachine(
    {
      cluster,
      machine,
      machines: state.members(namespace, cluster.metadata.name),
      templates: resolved.templates,
      tls:
        certificate && caPem ? { ca: caPem, cert: certificate.certPem, key: certificate.keyPem } : undefined,
    },
    { maxBytes: deps.maxBytes },
  );
  deps.onRender?.((performance.now() - started) / 1000);
  if (!result.ok) return { reason: result.failure.reason, message: result.failure.message, certificate };

  // Documents holding a private key go to a Secret; no ConfigMap ever carries one.
  const privateDocs: RenderedDocument[] = [];
  const publicDocs: RenderedDocument[] = [];
  for (const d of result.documents) (containsPrivateKey(d.content) ? privateDocs : publicDocs).push(d);
  let hash = result.hash;
  if (caPem && !publicDocs.some((d) => d.output === CA_OUTPUT)) {
    const caDocument = {
      output: CA_OUTPUT,
      format: "text",
      contentType: "application/x-pem-file",
      content: caPem,
    } as const;
    publicDocs.push(caDocument);
    // The content hash names everything served: the server's ETags and disk cache, and the
    // controller's cache of what it wrote, go by it, and a new CA changes no rendered document.
    hash = contentHashWith(result.hash, caDocument);
  }
  const macs = machineMacs(machine);
  const contested = macs.filter((mac) => state.claimants(mac).some((k) => k !== key));
  const served = macs.filter((mac) => !contested.includes(mac));
  const desired = renderedConfigMap(machine, publicDocs, hash, served);
  const privateSecret = privateDocs.length
    ? documentsSecret(machine, privateDocs, hash, deps.documentsNamespace)
    : undefined;
  if (contested.length) {
    const others = [...new Set(contested.flatMap((mac) => state.claimants(mac)).filter((k) => k !== key))];
    return {
      reason: "DuplicateMAC",
      message: `MAC ${contested.join(", ")} is also claimed by ${others.join(", ")}; served to neither`,
      desired,
      privateSecret,
      certificate,
    };
  }
  return {
    reason: "Rendered",
    message: `rendered ${result.documents.map((d) => d.output).join(", ")}`,
    desired,
    privateSecret,
    certificate,
    namesMachineList: resolved.templates.some((t) => namesMachineList(t.text)),
  };
}

/** How status names the documents Secret: by name beside the Machine, else `namespace/name`. */
function secretName(machineNamespace: string, ref: { namespace: string; name: string }): string {
  return ref.namespace === machineNamespace ? ref.name : `${ref.namespace}/${ref.name}`;
}

function condition(
  previous: Condition[] | undefined,
  next: Omit<Condition, "lastTransitionTime"> & { now: Date },
): Condition {
  const old = previous?.find((c) => c.type === next.type);
  const { now, ...rest } = next;
  return {
    ...rest,
    lastTransitionTime:
      old && old.status === next.status ? old.lastTransitionTime : now.toISOString().replace(/\.\d+Z$/, "Z"),
  };
}

/**
 * True when status `a` says what `b` would: field by field (a fan-out compares 10,000 of them; two
 * JSON texts per Machine were 2% of a render's CPU), fields ccts does not write left out.
 */
function sameStatus(a: MachineStatus | undefined, b: MachineStatus): boolean {
  if (!a) return false;
  const ac = a.certificate;
  const bc = b.certificate;
  return (
    a.observedGeneration === b.observedGeneration &&
    a.configMap === b.configMap &&
    a.secret === b.secret &&
    sameList(a.outputs, b.outputs) &&
    (ac === bc ||
      (ac !== undefined &&
        bc !== undefined &&
        ac.secretName === bc.secretName &&
        ac.notAfter === bc.notAfter &&
        ac.renewAfter === bc.renewAfter)) &&
    sameList(a.conditions, b.conditions, sameCondition)
  );
}

function sameCondition(a: Condition, b: Condition): boolean {
  return (
    a.type === b.type &&
    a.status === b.status &&
    a.reason === b.reason &&
    a.message === b.message &&
    a.lastTransitionTime === b.lastTransitionTime &&
    a.observedGeneration === b.observedGeneration
  );
}

function sameList<T>(
  a: readonly T[] | undefined,
  b: readonly T[] | undefined,
  same: (x: T, y: T) => boolean = (x, y) => x === y,
): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.length === b.length && a.every((x, i) => same(x, b[i]!));
}
