// Pure: declarations (ClusterDescs, Machines, template ConfigMaps) -> what each MAC is served.
// A Machine whose render fails keeps the documents of its last good render; a MAC claimed by two
// Machines is served to neither.
import type { FailureReason } from "../api/constants.js";
import { duplicateMacs, machineAddresses, machineMacs, objectKey } from "../api/machine.js";
import type { ClusterDesc, Machine } from "../api/types.js";
import { renderMachine, resolveTemplates } from "../render/index.js";
import type { RenderedDocument } from "../render/types.js";

export interface Declarations {
  clusters: ClusterDesc[];
  machines: Machine[];
  /** Template ConfigMaps by `namespace/name`. */
  configMaps: Map<string, Record<string, string>>;
}

export type { FailureReason };

/** The last good render of one Machine. */
export interface GoodRender {
  macs: string[];
  addresses: string[];
  documents: RenderedDocument[];
  hash: string;
}

export interface MachineOutcome {
  key: string;
  /** The documents served for this Machine: this render's, or the last good one's after a failure. */
  served?: GoodRender;
  failure?: { reason: FailureReason; message: string };
}

export interface Snapshot {
  outcomes: Map<string, MachineOutcome>;
  /** Canonical MAC -> key of the Machine it serves; duplicated MACs are absent. */
  macIndex: Map<string, string>;
  duplicates: Map<string, string[]>;
}

function namespaceOf(obj: { metadata: { namespace?: string } }): string {
  return obj.metadata.namespace ?? "default";
}

export function buildSnapshot(decl: Declarations, previous: ReadonlyMap<string, MachineOutcome>): Snapshot {
  const clusters = new Map(decl.clusters.map((c) => [objectKey(c), c]));
  const membersByCluster = new Map<string, Machine[]>();
  for (const m of decl.machines) {
    const clusterKey = `${namespaceOf(m)}/${m.spec.clusterDesc}`;
    const list = membersByCluster.get(clusterKey);
    if (list) list.push(m);
    else membersByCluster.set(clusterKey, [m]);
  }
  const duplicates = duplicateMacs(decl.machines);
  const outcomes = new Map<string, MachineOutcome>();
  const macIndex = new Map<string, string>();

  for (const machine of decl.machines) {
    const key = objectKey(machine);
    const lastGood = previous.get(key)?.served;
    const fail = (reason: FailureReason, message: string): MachineOutcome => ({
      key,
      served: lastGood,
      failure: { reason, message },
    });
    const clusterKey = `${namespaceOf(machine)}/${machine.spec.clusterDesc}`;
    const cluster = clusters.get(clusterKey);
    let outcome: MachineOutcome;
    if (!cluster) {
      outcome = fail("ClusterDescNotFound", `machine ${key}: ClusterDesc ${clusterKey} not found`);
    } else {
      const resolved = resolveTemplates(cluster, (name) =>
        decl.configMaps.get(`${namespaceOf(cluster)}/${name}`),
      );
      if ("error" in resolved) {
        outcome = fail("TemplateNotFound", `machine ${key}: ${resolved.error}`);
      } else {
        const result = renderMachine({
          cluster,
          machine,
          machines: membersByCluster.get(clusterKey) ?? [],
          templates: resolved.templates,
        });
        outcome = result.ok
          ? {
              key,
              served: {
                macs: machineMacs(machine),
                addresses: machineAddresses(machine),
                documents: result.documents,
                hash: result.hash,
              },
            }
          : fail(result.failure.reason, result.failure.message);
      }
    }
    const claimed = outcome.served ? outcome.served.macs.filter((mac) => duplicates.has(mac)) : [];
    if (claimed.length > 0 && !outcome.failure) {
      const others = claimed.flatMap((mac) => duplicates.get(mac) ?? []).filter((k) => k !== key);
      outcome.failure = {
        reason: "DuplicateMAC",
        message: `machine ${key}: MAC ${claimed.join(", ")} also claimed by ${[...new Set(others)].join(", ")}; served to neither`,
      };
    }
    outcomes.set(key, outcome);
  }
  // Fresh renders claim their MACs first, so a stale last-good render never shadows a current one.
  const ordered = [...outcomes.values()].sort((a, b) => Number(!!a.failure) - Number(!!b.failure));
  for (const outcome of ordered) {
    for (const mac of outcome.served?.macs ?? []) {
      if (!duplicates.has(mac) && !macIndex.has(mac)) macIndex.set(mac, outcome.key);
    }
  }
  return { outcomes, macIndex, duplicates };
}
