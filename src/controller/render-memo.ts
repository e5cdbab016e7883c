// Remembers, per Machine, the inputs of its last good render, so a reconcile that finds every
// input as it was (a periodic resync on a quiet cluster) renders nothing and writes nothing. A
// render costs ~1.5 ms CPU, so a resync of 10,000 Machines cost 12-18 s CPU and left its garbage
// in the controller's heap. Inputs are named by resourceVersion (the API server's version of each
// object read, or the one our own write of it answered); the member list by identity (the cache
// keeps one list while no member's spec changes) when a template names `machines`, else by the
// etcd and master facts it yields, so a worker applied renders only itself; a renewal that falls
// due is an input of its own: time.
import { machineMacs } from "../api/machine.js";
import type { ClusterDesc, Machine } from "../api/types.js";
import { peerFactsKey, templateConfigMapNames } from "../render/index.js";
import { generatedCASecretName, machineCertSecretName } from "./certificates.js";
import type { ClusterState } from "./reconcile.js";
import { documentsSecretRef, renderedConfigMapName } from "./rendered-configmap.js";

/**
 * Objects the reconcile writes itself (the Machine's status, its rendered ConfigMap, its
 * certificate and documents Secrets): a later pass may find them at the version read, or at the
 * one our own write answered, before or after the cache has that write. Both count as unchanged.
 */
export type OwnObject = "machine" | "configMap" | "certificate" | "documents";

export interface RenderInputs {
  /** The versions of what the render reads and never writes: ClusterDesc, templates, CA, MAC claims. */
  readonly read: string;
  readonly cluster: ClusterDesc;
  /** The Machines of the ClusterDesc, as the cache holds them (one list while none changes). */
  readonly members: readonly Machine[];
  /** The versions as read of the objects the reconcile writes itself ("" for none). */
  readonly own: Readonly<Record<OwnObject, string>>;
  /** The versions our own writes of them answered, set as the writes answer. */
  readonly written: Partial<Record<OwnObject, string>>;
  /**
   * Which of them a good render leaves in place (the Machine, its ConfigMap, with certificates
   * its certificate Secret): one found missing was deleted since, and is rendered again.
   */
  readonly required: ReadonlySet<OwnObject>;
}

const ALWAYS_REQUIRED: ReadonlySet<OwnObject> = new Set(["machine", "configMap"]);
const REQUIRED_WITH_PKI: ReadonlySet<OwnObject> = new Set(["machine", "configMap", "certificate"]);

const listIds = new WeakMap<object, number>();
let nextListId = 0;

/** A number for this array object, the same for as long as it lives. */
function listId(list: object): number {
  let id = listIds.get(list);
  if (id === undefined) {
    id = ++nextListId;
    listIds.set(list, id);
  }
  return id;
}

const versionOf = (o: { metadata: { resourceVersion?: string } } | undefined) =>
  o?.metadata.resourceVersion ?? "";

/**
 * What a render of this Machine would read, by version; undefined when there is nothing to
 * remember (no ClusterDesc, a MAC that does not parse: the reconcile reports that anyway).
 */
export function renderInputs(
  state: ClusterState,
  machine: Machine,
  options: { pki: boolean; documentsNamespace?: string },
): RenderInputs | undefined {
  const namespace = machine.metadata.namespace ?? "default";
  const name = machine.metadata.name;
  const cluster = state.cluster(namespace, machine.spec.clusterDesc);
  if (!cluster) return undefined;
  let macs: string[];
  try {
    macs = machineMacs(machine);
  } catch {
    return undefined;
  }
  const documents = documentsSecretRef({ namespace, name }, options.documentsNamespace);
  const read = [
    versionOf(cluster),
    // Every ConfigMap the ClusterDesc takes templates from (its dnsmasq template's too: harmless).
    ...templateConfigMapNames(cluster).map((cm) => `${cm}=${versionOf(state.configMap(namespace, cm))}`),
    // A MAC claimed twice is served to neither: who claims each MAC is an input.
    ...macs.map((mac) => `${mac}=${state.claimants(mac).join(",")}`),
  ];
  if (options.pki) {
    const ca = cluster.spec.pki?.caSecretName ?? generatedCASecretName(cluster.metadata.name);
    read.push(`ca=${versionOf(state.secret(namespace, ca))}`);
  }
  return {
    read: read.join(" "),
    cluster,
    members: state.members(namespace, cluster.metadata.name),
    own: {
      machine: versionOf(machine),
      configMap: versionOf(state.configMap(namespace, renderedConfigMapName(name))),
      certificate: options.pki ? versionOf(state.secret(namespace, machineCertSecretName(name))) : "",
      documents: versionOf(state.secret(documents.namespace, documents.name)),
    },
    written: {},
    required: options.pki ? REQUIRED_WITH_PKI : ALWAYS_REQUIRED,
  };
}

/**
 * Why a Machine is rendered: nothing remembered (never rendered by this process, or its last
 * reconcile failed), or the first input found changed: the Machine (a spec change, or someone
 * else's write), its rendered ConfigMap, its certificate or documents Secret, the other versions
 * read (ClusterDesc, templates, CA, who claims its MACs), the member list as its templates see
 * it, a renewal due.
 */
export type RenderCause =
  | "first"
  | "machine"
  | "configmap"
  | "certificate"
  | "documents"
  | "inputs"
  | "members"
  | "renewal";

const OWN_CAUSES: readonly [OwnObject, RenderCause][] = [
  ["machine", "machine"],
  ["configMap", "configmap"],
  ["certificate", "certificate"],
  ["documents", "documents"],
];

interface Remembered {
  read: string;
  /**
   * For each object the reconcile writes itself, the versions that mean "as rendered": the one
   * read, and the one our own write answered. A cache that has not yet seen our write still holds
   * the one read (it never goes back to it after), so a pass in that window renders nothing either.
   */
  own: Record<OwnObject, readonly string[]>;
  /**
   * Whether the templates name `machines` (then any new member list is a change), and the member
   * list as they see it: the list itself (by identity), or only its etcd and master facts.
   */
  wholeList: boolean;
  members: number | string;
  /** When the Machine's certificate is due for renewal (ms since the epoch). */
  renewAfterMs?: number;
}

export class RenderMemo {
  private readonly last = new Map<string, Remembered>();

  /**
   * The last good render of the Machine `key` when it read exactly these inputs and no renewal
   * has fallen due since (`unchanged`); else why the Machine must be rendered (`render`).
   */
  check(
    key: string,
    inputs: RenderInputs,
    now: Date,
  ): { unchanged: { renewAfter?: Date } } | { render: RenderCause } {
    const last = this.last.get(key);
    if (!last) return { render: "first" };
    for (const [object, cause] of OWN_CAUSES) {
      if (!last.own[object].includes(inputs.own[object])) return { render: cause };
    }
    if (last.read !== inputs.read) return { render: "inputs" };
    if (last.members !== membersSeen(inputs, last.wholeList)) return { render: "members" };
    if (last.renewAfterMs !== undefined && now.getTime() >= last.renewAfterMs) return { render: "renewal" };
    return {
      unchanged: { renewAfter: last.renewAfterMs === undefined ? undefined : new Date(last.renewAfterMs) },
    };
  }

  /**
   * A good render of these inputs is stored; `namesMachineList` when one of its templates names
   * `machines` (render/templates.ts).
   */
  remember(
    key: string,
    inputs: RenderInputs,
    rendered: { renewAfter?: Date; namesMachineList: boolean },
  ): void {
    const { renewAfter, namesMachineList: wholeList } = rendered;
    const own = {} as Record<OwnObject, readonly string[]>;
    for (const [object] of OWN_CAUSES) own[object] = asRendered(inputs, object);
    this.last.set(key, {
      read: inputs.read,
      own,
      wholeList,
      members: membersSeen(inputs, wholeList),
      renewAfterMs: renewAfter?.getTime(),
    });
  }

  /** The Machine is gone, or its last reconcile did not end in a good render. */
  forget(key: string): void {
    this.last.delete(key);
  }

  get size(): number {
    return this.last.size;
  }
}

/** The member list as the templates see it (see Remembered.members). */
function membersSeen(inputs: RenderInputs, wholeList: boolean): number | string {
  return wholeList ? listId(inputs.members) : peerFactsKey(inputs.cluster, inputs.members);
}

/**
 * The versions of `object` that mean "as rendered". Absence ("") only for one the render does not
 * require and did not write: none before our write of it is no "as rendered" (one deleted after
 * it must be rendered again), nor is a required one missing.
 */
function asRendered(inputs: RenderInputs, object: OwnObject): readonly string[] {
  const read = inputs.own[object];
  const written = inputs.written[object];
  const absentStands = written === undefined && !inputs.required.has(object);
  const readStands = read !== "" || absentStands;
  const writtenStands = written !== undefined && written !== "" && written !== read;
  // Array literals, sized as they are: four lists per Machine are kept, and lists grown by push
  // or filter keep room for 17 (5.8 MiB at 10,000 Machines, a heap snapshot).
  if (readStands && writtenStands) return [read, written];
  if (readStands) return [read];
  return writtenStands ? [written] : NONE;
}

const NONE: readonly string[] = [];
