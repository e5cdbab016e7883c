// The template data: what a template sees. Every documented field is present (null or empty when
// the declaration leaves it out), so templates can test optional fields while a typo fails.
// docs/templates.md ("Data") documents every field; keep the two in step.

import { macHostname, parseMac } from "../api/mac.js";
import { objectKey } from "../api/machine.js";
import type { ClusterDesc, Machine, Variables } from "../api/types.js";
import { compareText, indexIn } from "./sorted.js";
import { markFreeForm } from "./strict.js";

export interface InterfaceData {
  /** Interface name (`eth1`); null for the boot interface and unnamed ones. */
  name: string | null;
  mac: string;
  ip: string | null;
  /** True for the boot interface (spec.mac), which comes first. */
  boot: boolean;
}

export interface MachineData {
  name: string;
  namespace: string;
  mac: string;
  macs: string[];
  hostname: string;
  fqdn: string;
  ip: string | null;
  interfaces: InterfaceData[];
  roles: string[];
  isMaster: boolean;
  isEtcd: boolean;
  isWorker: boolean;
  isIngress: boolean;
  flannelInterface: string | null;
  variables: Variables;
}

export interface MachineSummary {
  name: string;
  namespace: string;
  mac: string;
  hostname: string;
  fqdn: string;
  ip: string | null;
  roles: string[];
}

export interface NetworkData {
  bootstrapperIP: string | null;
  subnet: string | null;
  netmask: string | null;
  /** Prefix length of the netmask (`24`), null when the netmask is absent or not contiguous. */
  prefixLength: number | null;
  dhcpRange: { start: string | null; end: string | null } | null;
  routers: string[];
  broadcast: string | null;
  nameservers: string[];
  upstreamNameservers: string[];
  domain: string | null;
  dockerDomain: string | null;
  lease: string | null;
  pxe: boolean | null;
  ntp: boolean | null;
}

export interface ClusterData {
  name: string;
  namespace: string;
  network: NetworkData;
  kubernetes: {
    serviceClusterIPRange: string | null;
    clusterDNS: string | null;
    masterIPs: string[];
    masterDNSNames: string[];
    flannelBackend: string | null;
  };
  os: {
    name: string | null;
    channel: string | null;
    version: string | null;
    updates: { rebootStrategy: string | null; windowStart: string | null; windowLength: string | null };
  };
  serverURL: string;
  sshAuthorizedKeys: string[];
  images: Record<string, string>;
  variables: Variables;
}

export interface EtcdData {
  /** `host=http://host:2380,...` over the etcd members, in name order (legacy format). */
  initialCluster: string;
  /** `http://host:2379,...` over the etcd members. */
  endpoints: string;
  members: { name: string; hostname: string; fqdn: string; ip: string | null }[];
}

export interface MastersData {
  hostnames: string[];
  hostnamesJoined: string;
  members: { name: string; hostname: string; fqdn: string; ip: string | null }[];
}

export interface TemplateData {
  machine: MachineData;
  cluster: ClusterData;
  /** cluster.variables overlaid by machine.variables (shallow). */
  variables: Variables;
  etcd: EtcdData;
  masters: MastersData;
  /** Every machine of the cluster with a valid MAC, sorted by name. */
  machines: MachineSummary[];
  /** The cluster CA and this machine's certificate and key (PEM), in cluster mode; else null. */
  tls: TlsData | null;
}

export interface TlsData {
  /** The cluster CA certificate. */
  ca: string;
  /** This machine's certificate, signed by the cluster CA. */
  cert: string;
  /** This machine's private key. A document that contains it is stored in a Secret. */
  key: string;
}

const DEFAULT_ROLES = ["worker"];

export function namespaceOf(obj: { metadata: { namespace?: string } }): string {
  return obj.metadata.namespace ?? "default";
}

/** `namespace/name`: the key every part of ccts uses for a Machine. */
export const machineKey: (machine: Machine) => string = objectKey;

/** Roles of a machine: spec.roles without repeats, or ["worker"] when absent (legacy default). */
export function rolesOf(machine: Machine): string[] {
  return machine.spec.roles ? [...new Set(machine.spec.roles)] : [...DEFAULT_ROLES];
}

function str(v: string | undefined | null): string | null {
  return v === undefined || v === null || v === "" ? null : v;
}

/** Prefix length of a dotted IPv4 netmask, or null when it is not one. */
export function prefixLength(netmask: string | null | undefined): number | null {
  if (!netmask) return null;
  const parts = netmask.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return null;
  const bits = parts.map((p) => Number(p).toString(2).padStart(8, "0")).join("");
  const ones = bits.indexOf("0") < 0 ? 32 : bits.indexOf("0");
  return bits.slice(ones).includes("1") ? null : ones;
}

function fqdnOf(hostname: string, domain: string | null): string {
  return domain ? `${hostname}.${domain}` : hostname;
}

/** Per-cluster facts, shared by every machine of one render pass. */
interface ClusterFacts {
  cluster: ClusterData;
  etcd: EtcdData;
  masters: MastersData;
  machines: MachineSummary[];
}

export function clusterData(cluster: ClusterDesc): ClusterData {
  const spec = cluster.spec;
  const n = spec.network ?? ({} as ClusterDesc["spec"]["network"]);
  const k = spec.kubernetes ?? {};
  const os = spec.os ?? {};
  const bootstrapperIP = str(n.bootstrapperIP);
  const serverURL = str(spec.serverURL) ?? (bootstrapperIP ? `http://${bootstrapperIP}:8080` : "");
  return {
    name: cluster.metadata.name,
    namespace: namespaceOf(cluster),
    network: {
      bootstrapperIP,
      subnet: str(n.subnet),
      netmask: str(n.netmask),
      prefixLength: prefixLength(n.netmask),
      dhcpRange: n.dhcpRange ? { start: str(n.dhcpRange.start), end: str(n.dhcpRange.end) } : null,
      routers: [...(n.routers ?? [])],
      broadcast: str(n.broadcast),
      nameservers: [...(n.nameservers ?? [])],
      upstreamNameservers: [...(n.upstreamNameservers ?? [])],
      domain: str(n.domain),
      dockerDomain: str(n.dockerDomain),
      lease: str(n.lease),
      pxe: n.pxe ?? null,
      ntp: n.ntp ?? null,
    },
    kubernetes: {
      serviceClusterIPRange: str(k.serviceClusterIPRange),
      clusterDNS: str(k.clusterDNS),
      masterIPs: [...(k.masterIPs ?? [])],
      masterDNSNames: [...(k.masterDNSNames ?? [])],
      flannelBackend: str(k.flannelBackend),
    },
    os: {
      name: str(os.name),
      channel: str(os.channel),
      version: str(os.version),
      updates: {
        rebootStrategy: str(os.updates?.rebootStrategy),
        windowStart: str(os.updates?.windowStart),
        windowLength: str(os.updates?.windowLength),
      },
    },
    serverURL: serverURL.replace(/\/+$/, ""),
    sshAuthorizedKeys: [...(spec.sshAuthorizedKeys ?? [])],
    images: markFreeForm({ ...(spec.images ?? {}) }),
    variables: markFreeForm({ ...(spec.variables ?? {}) }),
  };
}

/** Machines of the cluster, `self` in place of its namesake, without repeats, sorted by name. */
export function membersOf(
  cluster: ClusterDesc,
  machines: readonly Machine[],
  self: Machine | undefined,
): readonly Machine[] {
  const ns = namespaceOf(cluster);
  // The controller's member lists are already that: taken as they are.
  if (!self && isSorted(machines) && machines.every((m) => ofCluster(m, cluster, ns))) return machines;
  const byKey = new Map<string, Machine>();
  for (const m of machines) {
    if (ofCluster(m, cluster, ns)) byKey.set(machineKey(m), m);
  }
  if (self) byKey.set(machineKey(self), self);
  // Sorted by the keys made above, not by keys made again in every comparison.
  return [...byKey].sort(([a], [b]) => compareText(a, b)).map(([, m]) => m);
}

/**
 * Each Machine's summary for one domain, kept while its object lives: a member list one Machine
 * longer (a Machine applied) reuses the other 10,000 summaries instead of making them again
 * (~17 ms and ~3 MiB promoted to the old space per list). Keyed by the long-lived objects of a
 * controller's cache or a loaded folder, never by objects of one render.
 */
const summaries = new WeakMap<Machine, { domain: string | null; summary: MachineSummary | undefined }>();

/** The summary of a Machine as other Machines' templates see it; undefined for an invalid MAC. */
function summaryOf(m: Machine, domain: string | null): MachineSummary | undefined {
  const known = summaries.get(m);
  if (known && known.domain === domain) return known.summary;
  let summary: MachineSummary | undefined;
  try {
    const mac = parseMac(m.spec.mac);
    const hostname = m.spec.hostname || macHostname(mac);
    summary = {
      name: m.metadata.name,
      namespace: namespaceOf(m),
      mac,
      hostname,
      fqdn: fqdnOf(hostname, domain),
      ip: str(m.spec.ip),
      roles: rolesOf(m),
    };
  } catch {
    summary = undefined; // Not served and reported on its own render (InvalidMachine).
  }
  summaries.set(m, { domain, summary });
  return summary;
}

function computeFacts(cluster: ClusterDesc, members: readonly Machine[]): ClusterFacts {
  const data = clusterData(cluster);
  const domain = data.network.domain;
  const machines: MachineSummary[] = [];
  for (const m of members) {
    const summary = summaryOf(m, domain);
    if (summary) machines.push(summary);
  }
  const member = (s: MachineSummary) => ({ name: s.name, hostname: s.hostname, fqdn: s.fqdn, ip: s.ip });
  const etcd = machines.filter((s) => s.roles.includes("etcd"));
  const masters = machines.filter((s) => s.roles.includes("master"));
  return {
    cluster: data,
    etcd: {
      initialCluster: etcd.map((s) => `${s.hostname}=http://${s.hostname}:2380`).join(","),
      endpoints: etcd.map((s) => `http://${s.hostname}:2379`).join(","),
      members: etcd.map(member),
    },
    masters: {
      hostnames: masters.map((s) => s.hostname),
      hostnamesJoined: masters.map((s) => s.hostname).join(","),
      members: masters.map(member),
    },
    machines,
  };
}

// A cluster of 10,000 machines renders 10,000 times with the same ClusterDesc and machine list:
// compute the cluster facts once per (ClusterDesc object, machines array) pair. Inputs are
// treated as immutable; a caller that mutates them in place must pass new arrays.
const factsCache = new WeakMap<ClusterDesc, WeakMap<readonly Machine[], ClusterFacts>>();
/**
 * Each list's machines by key, to find `self` in it without a scan: the spec generation, or the
 * object itself when it has none (embedded mode). Not the objects: the list outlives status
 * writes, and keeping each Machine as it was held a stale copy of all of them (~0.9 KB each).
 * SORTED for a list in namespace and name order (the controller's): searched by bisection, as a
 * Map of 10,000 keys for every new list outlived young collections (~1 MiB per Machine applied).
 */
const listIndex = new WeakMap<readonly Machine[], Map<string, number | Machine> | typeof SORTED>();
const SORTED = Symbol("sorted");

/**
 * True when the list already describes `self`: the same object, or (a controller's cache hands
 * out a fresh object after every status write) the same spec generation of the same Machine.
 */
function listHas(machines: readonly Machine[], self: Machine): boolean {
  let index = listIndex.get(machines);
  if (!index) {
    index = isSorted(machines)
      ? SORTED
      : new Map(machines.map((m) => [machineKey(m), m.metadata.generation ?? m]));
    listIndex.set(machines, index);
  }
  let listed: number | Machine | undefined;
  if (index === SORTED) {
    const found = machines[indexIn(machines, (m) => compareMachines(m, self))];
    listed = found && (found.metadata.generation ?? found);
  } else listed = index.get(machineKey(self));
  return typeof listed === "number" ? listed === self.metadata.generation : listed === self;
}

/** True for a Machine of the ClusterDesc (its name, in namespace `ns`, the ClusterDesc's). */
export const ofCluster = (m: Machine, cluster: ClusterDesc, ns = namespaceOf(cluster)) =>
  m.spec?.clusterDesc === cluster.metadata.name && namespaceOf(m) === ns;

/** Orders Machines by namespace, then name, without making their keys. */
function compareMachines(a: Machine, b: Machine): number {
  const an = namespaceOf(a);
  const bn = namespaceOf(b);
  return an !== bn ? compareText(an, bn) : compareText(a.metadata.name, b.metadata.name);
}

/** In namespace and name order, without repeats. */
function isSorted(machines: readonly Machine[]): boolean {
  for (let i = 1; i < machines.length; i++)
    if (compareMachines(machines[i - 1]!, machines[i]!) >= 0) return false;
  return true;
}

export function clusterFacts(
  cluster: ClusterDesc,
  machines: readonly Machine[],
  self: Machine,
): ClusterFacts {
  if (!listHas(machines, self)) return computeFacts(cluster, membersOf(cluster, machines, self));
  return listFacts(cluster, machines);
}

/** The facts of a member list, computed once per (ClusterDesc object, machines array) pair. */
function listFacts(cluster: ClusterDesc, machines: readonly Machine[]): ClusterFacts {
  let perList = factsCache.get(cluster);
  if (!perList) {
    perList = new WeakMap();
    factsCache.set(cluster, perList);
  }
  let facts = perList.get(machines);
  if (!facts) {
    facts = computeFacts(cluster, membersOf(cluster, machines, undefined));
    perList.set(machines, facts);
  }
  return facts;
}

const peerKeys = new WeakMap<ClusterFacts, string>();

/**
 * What templates that do not name `machines` see of the member list: its etcd and master facts,
 * as one string. Two lists with the same key render such templates alike, so a Machine applied
 * among 10,000 workers changes nothing the others' documents say (the controller's render memo).
 */
export function peerFactsKey(cluster: ClusterDesc, machines: readonly Machine[]): string {
  const facts = listFacts(cluster, machines);
  let key = peerKeys.get(facts);
  if (key === undefined) {
    key = JSON.stringify([facts.etcd, facts.masters]);
    peerKeys.set(facts, key);
  }
  return key;
}

/** Thrown for a machine whose spec cannot be rendered at all (InvalidMachine). */
export class InvalidMachineError extends Error {
  override name = "InvalidMachineError";
}

function canonical(mac: string, what: string): string {
  try {
    return parseMac(mac);
  } catch (err) {
    throw new InvalidMachineError(`${what}: ${(err as Error).message}`);
  }
}

export function machineData(machine: Machine, cluster: ClusterData): MachineData {
  const spec = machine.spec;
  if (typeof spec?.mac !== "string") throw new InvalidMachineError("spec.mac is missing");
  const mac = canonical(spec.mac, "spec.mac");
  const interfaces: InterfaceData[] = [{ name: null, mac, ip: str(spec.ip), boot: true }];
  for (const [i, itf] of (spec.interfaces ?? []).entries()) {
    const imac = canonical(itf.mac, `spec.interfaces[${i}].mac`);
    if (interfaces.some((x) => x.mac === imac)) {
      throw new InvalidMachineError(`spec.interfaces[${i}].mac: ${imac} appears twice on this machine`);
    }
    interfaces.push({ name: str(itf.name), mac: imac, ip: str(itf.ip), boot: false });
  }
  const hostname = spec.hostname || macHostname(mac);
  const roles = rolesOf(machine);
  return {
    name: machine.metadata.name,
    namespace: namespaceOf(machine),
    mac,
    macs: interfaces.map((x) => x.mac),
    hostname,
    fqdn: fqdnOf(hostname, cluster.network.domain),
    ip: str(spec.ip),
    interfaces,
    roles,
    isMaster: roles.includes("master"),
    isEtcd: roles.includes("etcd"),
    isWorker: roles.includes("worker"),
    isIngress: roles.includes("ingress"),
    flannelInterface: str(spec.flannelInterface),
    variables: markFreeForm({ ...(spec.variables ?? {}) }),
  };
}

/** Builds the template data of one machine; throws InvalidMachineError for a bad spec. */
export function templateData(
  cluster: ClusterDesc,
  machine: Machine,
  machines: readonly Machine[],
  tls?: TlsData,
): TemplateData {
  const facts = clusterFacts(cluster, machines, machine);
  const m = machineData(machine, facts.cluster);
  return {
    machine: m,
    cluster: facts.cluster,
    variables: markFreeForm({ ...facts.cluster.variables, ...m.variables }),
    etcd: facts.etcd,
    masters: facts.masters,
    machines: facts.machines,
    // A copy: the render makes the data's objects strict in place (strict.ts), never the caller's.
    tls: tls ? { ca: tls.ca, cert: tls.cert, key: tls.key } : null,
  };
}

/**
 * The cluster-wide template data of a ClusterDesc without a machine being rendered (documents per
 * ClusterDesc such as the dnsmasq configuration): `machines` are those of this ClusterDesc with a
 * valid MAC, in name order, as every machine's templates see them.
 */
export function clusterTemplateData(
  cluster: ClusterDesc,
  machines: readonly Machine[],
): { cluster: ClusterData; etcd: EtcdData; masters: MastersData; machines: MachineSummary[] } {
  return computeFacts(cluster, membersOf(cluster, machines, undefined));
}
