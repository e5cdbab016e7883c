// Turns the legacy cloud-config-server's cluster-desc.yml into one ClusterDesc and one Machine per
// node. Every legacy field lands somewhere: known fields in their typed place, anything else under
// spec.variables.legacy with its original key, so nothing an old template used is lost.
import yaml from "js-yaml";
import { API_VERSION } from "../api/constants.js";
import { macHostname, parseMac } from "../api/mac.js";
import type { ClusterDesc, ClusterDescSpec, Machine, MachineSpec } from "../api/types.js";

export interface ImportOptions {
  /** Name of the ClusterDesc (and prefix of nothing else). */
  name: string;
  namespace: string;
}

export interface ImportResult {
  cluster: ClusterDesc;
  machines: Machine[];
  /** Human-readable notes: legacy fields kept as variables, defaults applied. */
  notes: string[];
}

type Legacy = Record<string, unknown>;

/** Go's yaml.v2 read `y`, `yes`, `on` and `true` as true; js-yaml (YAML 1.2) reads them as strings. */
function legacyBool(v: unknown): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === "boolean") return v;
  const s = String(v).toLowerCase();
  if (["y", "yes", "true", "on"].includes(s)) return true;
  if (["n", "no", "false", "off"].includes(s)) return false;
  throw new Error(`expected a yes/no value, got ${JSON.stringify(v)}`);
}

function str(v: unknown): string | undefined {
  return v === undefined || v === null ? undefined : String(v);
}

function strList(v: unknown): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  return (Array.isArray(v) ? v : [v]).map(String);
}

/** Drops undefined values (and objects left empty) so the emitted YAML carries only what was set. */
function compact<T>(value: T): T {
  if (Array.isArray(value)) return value.map(compact) as T;
  if (typeof value !== "object" || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const c = compact(v);
    if (c === undefined) continue;
    if (typeof c === "object" && c !== null && !Array.isArray(c) && Object.keys(c).length === 0) continue;
    out[k] = c;
  }
  return out as T;
}

/**
 * The legacy `ssh_authorized_keys` is a string holding a YAML list (it was pasted into the
 * template verbatim). Accept that, a real list, or one key per line.
 */
function sshKeys(v: unknown): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v)) return v.map(String);
  const text = String(v);
  try {
    const parsed = yaml.load(text);
    if (Array.isArray(parsed)) return parsed.map(String);
  } catch {
    // not YAML: fall through to one key per line
  }
  return text
    .split("\n")
    .map((l) =>
      l
        .trim()
        .replace(/^-\s*/, "")
        .replace(/^"(.*)"$/, "$1"),
    )
    .filter((l) => l !== "");
}

const CLUSTER_KEYS = new Set([
  "bootstrapper",
  "subnet",
  "netmask",
  "iplow",
  "iphigh",
  "routers",
  "broadcast",
  "nameservers",
  "upstreamnameservers",
  "domainname",
  "dockerdomain",
  "lease",
  "start_pxe",
  "set_ntp",
  "k8s_service_cluster_ip_range",
  "k8s_cluster_dns",
  "kube_master_ip",
  "kube_master_dns",
  "flannel_backend",
  "os_name",
  "coreos_channel",
  "coreos_version",
  "coreos",
  "ceph",
  "images",
  "ssh_authorized_keys",
  "nodes",
]);
const NODE_KEYS = new Set([
  "mac",
  "cur_host_name",
  "ip",
  "kube_master",
  "etcd_member",
  "ingress_label",
  "ceph_monitor",
  "flannel_iface",
]);

/** A legacy hostname as a Kubernetes object name (RFC 1123: lower case, digits, '-', '.'). */
function objectName(hostname: string): string {
  return hostname
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, "-")
    .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, "")
    .slice(0, 253);
}

function machineFrom(node: Legacy, index: number, opts: ImportOptions, notes: string[]): Machine {
  const where = `nodes[${index}]`;
  if (typeof node !== "object" || node === null) throw new Error(`${where}: not a mapping`);
  if (node.mac === undefined) throw new Error(`${where}: mac is required`);
  let mac: string;
  try {
    mac = parseMac(String(node.mac));
  } catch (e) {
    throw new Error(`${where}: ${(e as Error).message}`);
  }
  const flag = (k: string) => {
    try {
      return legacyBool(node[k]) ?? false;
    } catch (e) {
      throw new Error(`${where}.${k}: ${(e as Error).message}`);
    }
  };
  const roles: string[] = [];
  if (flag("kube_master")) roles.push("master");
  else roles.push("worker");
  if (flag("etcd_member")) roles.push("etcd");
  if (flag("ingress_label")) roles.push("ingress");
  if (flag("ceph_monitor")) roles.push("ceph-monitor");
  const hostname = str(node.cur_host_name);
  const extra = Object.fromEntries(Object.entries(node).filter(([k]) => !NODE_KEYS.has(k)));
  if (Object.keys(extra).length)
    notes.push(`${where}: kept ${Object.keys(extra).join(", ")} as spec.variables.legacy`);
  const spec: MachineSpec = {
    clusterDesc: opts.name,
    mac,
    hostname,
    ip: str(node.ip),
    roles,
    flannelInterface: str(node.flannel_iface),
    variables: Object.keys(extra).length ? { legacy: extra } : undefined,
  };
  return compact({
    apiVersion: API_VERSION,
    kind: "Machine",
    metadata: { name: objectName(hostname ?? macHostname(mac)), namespace: opts.namespace },
    spec,
  });
}

export function importLegacy(text: string, opts: ImportOptions): ImportResult {
  const doc = yaml.load(text);
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw new Error("legacy cluster description must be a YAML mapping");
  }
  const legacy = doc as Legacy;
  const notes: string[] = [];
  for (const required of ["bootstrapper", "subnet", "netmask", "domainname"]) {
    if (legacy[required] === undefined) throw new Error(`${required} is required`);
  }
  const coreos = (legacy.coreos ?? {}) as Legacy;
  const ceph = legacy.ceph as Legacy | undefined;
  const extra = Object.fromEntries(Object.entries(legacy).filter(([k]) => !CLUSTER_KEYS.has(k)));
  const variables: Record<string, unknown> = {};
  if (ceph) {
    variables.ceph = compact({
      zapAndStartOSD: legacyBool(ceph.zap_and_start_osd),
      osdJournalSize: ceph.osd_journal_size,
    });
  }
  if (Object.keys(extra).length) {
    variables.legacy = extra;
    notes.push(`kept ${Object.keys(extra).join(", ")} as spec.variables.legacy`);
  }
  const low = str(legacy.iplow);
  const high = str(legacy.iphigh);
  if ((low === undefined) !== (high === undefined))
    throw new Error("iplow and iphigh must be given together");
  const spec: ClusterDescSpec = {
    network: {
      bootstrapperIP: String(legacy.bootstrapper),
      subnet: String(legacy.subnet),
      netmask: String(legacy.netmask),
      dhcpRange: low && high ? { start: low, end: high } : undefined,
      routers: strList(legacy.routers),
      broadcast: str(legacy.broadcast),
      nameservers: strList(legacy.nameservers),
      upstreamNameservers: strList(legacy.upstreamnameservers),
      domain: String(legacy.domainname),
      dockerDomain: str(legacy.dockerdomain),
      lease: str(legacy.lease),
      pxe: legacyBool(legacy.start_pxe),
      ntp: legacyBool(legacy.set_ntp),
    },
    kubernetes: {
      serviceClusterIPRange: str(legacy.k8s_service_cluster_ip_range),
      clusterDNS: str(legacy.k8s_cluster_dns),
      masterIPs: strList(legacy.kube_master_ip),
      masterDNSNames: strList(legacy.kube_master_dns),
      flannelBackend: str(legacy.flannel_backend),
    },
    os: {
      name: str(legacy.os_name),
      channel: str(legacy.coreos_channel),
      version: str(legacy.coreos_version),
      updates: {
        rebootStrategy: str(coreos.reboot_strategy),
        windowStart: str(coreos.start_time),
        windowLength: str(coreos.time_length),
      },
    },
    sshAuthorizedKeys: sshKeys(legacy.ssh_authorized_keys),
    images: legacy.images as Record<string, string> | undefined,
    variables: Object.keys(variables).length ? variables : undefined,
  };
  const nodes = legacy.nodes ?? [];
  if (!Array.isArray(nodes)) throw new Error("nodes must be a list");
  const machines = nodes.map((n, i) => machineFrom(n as Legacy, i, opts, notes));
  const names = new Set<string>();
  for (const m of machines) {
    if (names.has(m.metadata.name)) throw new Error(`two nodes would both be named ${m.metadata.name}`);
    names.add(m.metadata.name);
  }
  const cluster: ClusterDesc = compact({
    apiVersion: API_VERSION,
    kind: "ClusterDesc",
    metadata: { name: opts.name, namespace: opts.namespace },
    spec,
  });
  return { cluster, machines, notes };
}

/** The import as multi-document YAML, ready for `kubectl apply -f` or `ccts serve --dir`. */
export function toManifests(result: ImportResult): string {
  return [result.cluster, ...result.machines]
    .map((o) => `---\n${yaml.dump(o, { lineWidth: -1, noRefs: true })}`)
    .join("");
}
