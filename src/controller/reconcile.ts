// Reconcile one Machine: re-read everything it depends on, render, write its ConfigMap when the
// content changed, and report in status and events. Level-triggered and idempotent: running it
// twice on unchanged state writes nothing the second time. All I/O goes through the ports below.
import { ANNOTATION_CONTENT_HASH } from "../api/constants.js";
import { machineMacs, objectKey } from "../api/machine.js";
import type { ClusterDesc, Condition, Machine, MachineStatus } from "../api/types.js";
import { renderMachine, resolveTemplates } from "../render/index.js";
import {
  type ConfigMapObject,
  renderedConfigMap,
  renderedConfigMapName,
  sameRendered,
} from "./rendered-configmap.js";

export const CONDITION_RENDERED = "Rendered";

export type Reason =
  | "Rendered"
  | "TemplateError"
  | "InvalidOutput"
  | "OutputTooLarge"
  | "InvalidMachine"
  | "ClusterDescNotFound"
  | "TemplateNotFound"
  | "DuplicateMAC";

/** Read port: the informer caches. */
export interface ClusterState {
  machine(namespace: string, name: string): Machine | undefined;
  cluster(namespace: string, name: string): ClusterDesc | undefined;
  configMap(namespace: string, name: string): ConfigMapObject | undefined;
  /** Machines of one ClusterDesc. */
  members(namespace: string, cluster: string): Machine[];
  /** Keys of every Machine that claims this canonical MAC. */
  claimants(mac: string): string[];
}

/** Write port: the API server. */
export interface ClusterWrites {
  /** Server-side applies the ConfigMap; resolves to its new resourceVersion. */
  applyConfigMap(cm: ConfigMapObject): Promise<string | undefined>;
  patchMachineStatus(machine: Machine, status: MachineStatus): Promise<void>;
  event(machine: Machine, type: "Normal" | "Warning", reason: string, message: string): Promise<void>;
}

export interface ReconcileDeps {
  state: ClusterState;
  writes: ClusterWrites;
  now: () => Date;
  /** Limit for the sum of a Machine's documents (the ConfigMap size limit, less headroom). */
  maxBytes?: number;
  /** Told how long each render took, for the render-duration metric. */
  onRender?: (seconds: number) => void;
}

export interface ReconcileOutcome {
  reason: Reason;
  message: string;
  wroteConfigMap: boolean;
}

export async function reconcileMachine(
  deps: ReconcileDeps,
  namespace: string,
  name: string,
): Promise<ReconcileOutcome | undefined> {
  const { state } = deps;
  const machine = state.machine(namespace, name);
  // Deleted: garbage collection removes the ConfigMap through its owner reference.
  if (!machine) return undefined;
  const key = objectKey(machine);
  const existing = state.configMap(namespace, renderedConfigMapName(name));

  let outcome: { reason: Reason; message: string; desired?: ConfigMapObject };
  const cluster = state.cluster(namespace, machine.spec.clusterDesc);
  if (!cluster) {
    outcome = {
      reason: "ClusterDescNotFound",
      message: `ClusterDesc ${namespace}/${machine.spec.clusterDesc} not found; the machine renders once it exists`,
    };
  } else {
    const resolved = resolveTemplates(cluster, (cm) => state.configMap(namespace, cm)?.data);
    if ("error" in resolved) {
      outcome = { reason: "TemplateNotFound", message: resolved.error };
    } else {
      const started = performance.now();
      const result = renderMachine(
        {
          cluster,
          machine,
          machines: state.members(namespace, cluster.metadata.name),
          templates: resolved.templates,
        },
        { maxBytes: deps.maxBytes },
      );
      deps.onRender?.((performance.now() - started) / 1000);
      if (!result.ok) {
        outcome = { reason: result.failure.reason, message: result.failure.message };
      } else {
        const macs = machineMacs(machine);
        const contested = macs.filter((mac) => state.claimants(mac).some((k) => k !== key));
        const served = macs.filter((mac) => !contested.includes(mac));
        const desired = renderedConfigMap(machine, result.documents, result.hash, served);
        outcome = contested.length
          ? {
              reason: "DuplicateMAC",
              message: `MAC ${contested.join(", ")} is also claimed by ${[
                ...new Set(contested.flatMap((mac) => state.claimants(mac)).filter((k) => k !== key)),
              ].join(", ")}; served to neither`,
              desired,
            }
          : {
              reason: "Rendered",
              message: `rendered ${result.documents.map((d) => d.output).join(", ")}`,
              desired,
            };
      }
    }
  }

  // A failed render never touches the last good ConfigMap; a duplicate MAC rewrites it without that MAC's label.
  let wroteConfigMap = false;
  if (outcome.desired && !sameRendered(existing, outcome.desired)) {
    await deps.writes.applyConfigMap(outcome.desired);
    wroteConfigMap = true;
  }

  const rendered = outcome.desired ?? existing;
  const ok = outcome.reason === "Rendered";
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
    contentHash: rendered?.metadata.annotations?.[ANNOTATION_CONTENT_HASH],
    outputs: rendered?.data ? Object.keys(rendered.data).sort() : undefined,
  };
  if (!sameStatus(machine.status, status)) {
    await deps.writes.patchMachineStatus(machine, status);
  }

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
  return { reason: outcome.reason, message: outcome.message, wroteConfigMap };
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

function sameStatus(a: MachineStatus | undefined, b: MachineStatus): boolean {
  if (!a) return false;
  const strip = (s: MachineStatus) =>
    JSON.stringify({
      observedGeneration: s.observedGeneration,
      configMap: s.configMap,
      contentHash: s.contentHash,
      outputs: s.outputs,
      conditions: s.conditions?.map(
        ({ type, status, reason, message, lastTransitionTime, observedGeneration }) => ({
          type,
          status,
          reason,
          message,
          lastTransitionTime,
          observedGeneration,
        }),
      ),
    });
  return strip(a) === strip(b);
}
