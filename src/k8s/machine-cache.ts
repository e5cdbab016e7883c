// Informer-backed read side of the controller: caches of Machines, ClusterDescs and ConfigMaps,
// with the indexes reconcile and fan-out need (members of a cluster, claimants of a MAC).
import { machineMacs, objectKey } from "../api/machine.js";
import type { ClusterDesc, Machine } from "../api/types.js";
import type { SecretObject } from "../controller/certificates.js";
import type { FanoutIndex } from "../controller/fanout.js";
import type { ClusterState } from "../controller/reconcile.js";
import type { ConfigMapObject } from "../controller/rendered-configmap.js";
import { shared, sharedTime } from "../controller/shared-strings.js";
import { compareText } from "../render/sorted.js";
import type { Informer } from "./informer.js";

/**
 * Key -> the values indexed under it (Machine keys by MAC, Machine names by `namespace/cluster`):
 * the value itself while there is one (nearly every MAC has a single claimant; a Set each cost
 * ~0.2 KB per Machine), a Set once there are more.
 */
type MultiIndex = Map<string, string | Set<string>>;

function addTo(index: MultiIndex, key: string, value: string): void {
  const current = index.get(key);
  if (current === undefined) index.set(key, value);
  else if (typeof current !== "string") current.add(value);
  else if (current !== value) index.set(key, new Set([current, value]));
}

function removeFrom(index: MultiIndex, key: string, value: string): void {
  const current = index.get(key);
  if (current === undefined) return;
  if (typeof current === "string") {
    if (current === value) index.delete(key);
    return;
  }
  current.delete(value);
  if (current.size === 0) index.delete(key);
}

function valuesOf(index: MultiIndex, key: string): string[] {
  const current = index.get(key);
  return current === undefined ? [] : typeof current === "string" ? [current] : [...current];
}

function macsOf(m: Machine): string[] {
  try {
    return machineMacs(m);
  } catch {
    return [];
  }
}

/**
 * What the controller's cache keeps of a Machine: the object with one shared copy of the strings
 * every Machine repeats (output names, condition texts, apiVersion and kind; ~0.5 KB each) and of
 * its timestamps (many Machines are created, and rendered, within the same second).
 */
export function withSharedStrings(machine: Machine): Machine {
  const { metadata, status } = machine;
  return {
    ...machine,
    apiVersion: shared(machine.apiVersion) as Machine["apiVersion"],
    kind: shared(machine.kind) as Machine["kind"],
    metadata: metadata.creationTimestamp
      ? { ...metadata, creationTimestamp: sharedTime(metadata.creationTimestamp) }
      : metadata,
    ...(status && {
      status: {
        ...status,
        ...(status.outputs && { outputs: status.outputs.map(shared) }),
        ...(status.conditions && {
          conditions: status.conditions.map((c) => ({
            ...c,
            type: shared(c.type),
            status: shared(c.status) as typeof c.status,
            reason: shared(c.reason),
            message: shared(c.message),
            lastTransitionTime: sharedTime(c.lastTransitionTime),
          })),
        }),
        ...(status.certificate && {
          certificate: {
            ...status.certificate,
            notAfter: sharedTime(status.certificate.notAfter),
            renewAfter: sharedTime(status.certificate.renewAfter),
          },
        }),
      },
    }),
  };
}

export class MachineCache implements ClusterState, FanoutIndex {
  private readonly byCluster: MultiIndex = new Map();
  private readonly byMac: MultiIndex = new Map();
  /**
   * Member lists handed to the render core, kept while no member's spec changes: the core caches
   * per-cluster facts (etcd, masters) by list identity, so a fan-out over 10,000 Machines computes
   * them once rather than once per Machine.
   */
  private readonly memberLists = new Map<string, Machine[]>();

  constructor(
    readonly machines: Informer<Machine>,
    readonly clusterDescs: Informer<ClusterDesc>,
    /** ConfigMaps the controller renders, from their metadata (see renderedConfigMapEntry). */
    readonly renderedConfigMaps: Informer<ConfigMapObject>,
    /** Every other ConfigMap, whole (templates). */
    readonly templateConfigMaps: Informer<ConfigMapObject>,
    /** Secrets the controller writes (certificates, generated CAs, documents), without unread data. */
    readonly secrets: Informer<SecretObject>,
    /** Every other Secret, metadata only: whoever needs one's data fetches it. */
    readonly otherSecrets: Informer<SecretObject>,
    /** Documents Secrets in a namespace the other informers do not watch (--documents-namespace). */
    readonly documentSecrets?: Informer<SecretObject>,
  ) {}

  secret(namespace: string, name: string): SecretObject | undefined {
    return (
      this.secrets.get(namespace, name) ??
      this.documentSecrets?.get(namespace, name) ??
      this.otherSecrets.get(namespace, name)
    );
  }

  /** Keeps the indexes current; call from the Machine informer's event handler before fan-out. */
  index(old: Machine | undefined, next: Machine | undefined): void {
    const specChanged = !old || !next || old.metadata.generation !== next.metadata.generation;
    if (specChanged) {
      if (old) this.memberLists.delete(`${old.metadata.namespace}/${old.spec.clusterDesc}`);
      if (next) this.memberLists.delete(`${next.metadata.namespace}/${next.spec.clusterDesc}`);
    } else if (old && next) {
      // Status only: the same list with the new object in the old one's place, so the list does not
      // keep a stale copy of every Machine and the facts cached for it stay valid (same specs).
      const list = this.memberLists.get(`${next.metadata.namespace}/${next.spec.clusterDesc}`);
      const at = list ? list.indexOf(old) : -1;
      if (at >= 0) list![at] = next;
    }
    if (old) {
      const key = objectKey(old);
      removeFrom(this.byCluster, `${old.metadata.namespace}/${old.spec.clusterDesc}`, old.metadata.name);
      for (const mac of macsOf(old)) removeFrom(this.byMac, mac, key);
    }
    if (next) {
      const key = objectKey(next);
      addTo(this.byCluster, `${next.metadata.namespace}/${next.spec.clusterDesc}`, next.metadata.name);
      for (const mac of macsOf(next)) addTo(this.byMac, mac, key);
    }
  }

  machine(namespace: string, name: string): Machine | undefined {
    return this.machines.get(namespace, name);
  }

  cluster(namespace: string, name: string): ClusterDesc | undefined {
    return this.clusterDescs.get(namespace, name);
  }

  configMap(namespace: string, name: string): ConfigMapObject | undefined {
    return this.renderedConfigMaps.get(namespace, name) ?? this.templateConfigMaps.get(namespace, name);
  }

  /**
   * Sorted by name (one namespace): the render core's order, so it takes the list as it is and
   * finds a Machine in it by bisection, instead of indexing and sorting 10,000 keys again for
   * every new list (a Machine applied: ~1 MiB that outlived young collections).
   */
  members(namespace: string, cluster: string): Machine[] {
    const clusterKey = `${namespace}/${cluster}`;
    const cached = this.memberLists.get(clusterKey);
    if (cached) return cached;
    const list: Machine[] = [];
    for (const name of valuesOf(this.byCluster, clusterKey)) {
      const m = this.machines.get(namespace, name);
      if (m) list.push(m);
    }
    list.sort((a, b) => compareText(a.metadata.name, b.metadata.name));
    this.memberLists.set(clusterKey, list);
    return list;
  }

  clusters(namespace: string): ClusterDesc[] {
    return [...this.clusterDescs.list()].filter((c) => c.metadata.namespace === namespace);
  }

  claimants(mac: string): string[] {
    return valuesOf(this.byMac, mac).sort();
  }
}
