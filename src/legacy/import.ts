// Turns the legacy cloud-config-server's cluster-desc.yml into one ClusterDesc and one Machine per
// node. Every legacy field lands somewhere: known fields in their typed place, anything else under
// spec.variables.legacy with its original key, so nothing an old template used is lost.
import yaml from "js-yaml";
import { API_VERSION } from "../api/constants.js";
import { macHostname, parseMac } from "../api/mac.js";
import type { ClusterDesc, ClusterDescSpec, Machine, MachineSpec } from "../api/types.js";
import { checkObject } from "../api/validate.js";

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

/**
 * The legacy server read this file with Go's yaml.v2 into typed fields, and a string field keeps a
 * scalar's text as written: `cur_host_name: 0042` was "0042" and `coreos_version: 1.10` "1.10",
 * where js-yaml's YAML 1.2 reading gives the numbers 42 and 1.1. So the fields the legacy server
 * knew are read with this schema, which resolves nothing but nulls (and merge keys, which yaml.v2
 * also had); legacyBool and legacyInt then read bools and the one int the way yaml.v2 did.
 */
const LEGACY_TEXT_SCHEMA = yaml.FAILSAFE_SCHEMA.extend({
  implicit: [
    new yaml.Type("tag:yaml.org,2002:null", {
      kind: "scalar",
      resolve: (text: string) => ["", "~", "null", "Null", "NULL"].includes(text),
      construct: () => null,
    }),
    new yaml.Type("tag:yaml.org,2002:merge", { kind: "scalar", resolve: (text: string) => text === "<<" }),
  ],
});

/** yaml.v2's YAML 1.1 bools, each in lower, Title and UPPER case. */
const yaml11Forms = (words: string[]) =>
  new Set(words.flatMap((w) => [w, w.charAt(0).toUpperCase() + w.slice(1), w.toUpperCase()]));
const YAML11_TRUE = yaml11Forms(["y", "yes", "on", "true"]);
const YAML11_FALSE = yaml11Forms(["n", "no", "off", "false"]);

function legacyBool(v: unknown): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (YAML11_TRUE.has(String(v))) return true;
  if (YAML11_FALSE.has(String(v))) return false;
  throw new Error(`expected a yes/no value, got ${JSON.stringify(v)}`);
}

/**
 * An int as yaml.v2 read one: Go's strconv.ParseInt with its base prefixes, underscores dropped,
 * and a float cut to its whole part (`5.0` and `1e3` were 5 and 1000).
 */
function legacyInt(v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  const text = String(v);
  const plain = text.replaceAll("_", "");
  let value: number;
  const int = /^([-+]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$/.exec(plain);
  if (int) {
    const [, sign, digits = ""] = int;
    const magnitude = /^0[0-7]/.test(digits) ? Number.parseInt(digits, 8) : Number(digits);
    value = sign === "-" ? -magnitude : magnitude;
  } else if (/^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/.test(plain)) {
    value = Math.trunc(Number(plain));
  } else if (/^-\.(inf|Inf|INF)$/.test(plain)) {
    value = Number.NEGATIVE_INFINITY; // Go made it the smallest int64; refused below as out of range
  } else {
    throw new Error(`expected an integer, got ${JSON.stringify(v)}`);
  }
  if (!Number.isSafeInteger(value)) throw new Error(`integer out of range: ${text}`);
  return value;
}

/** A legacy string field: its text, or undefined where Go saw "" (null, ~, empty). */
function str(v: unknown): string | undefined {
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v === "object")
    throw new Error(`expected a string, got a ${Array.isArray(v) ? "list" : "mapping"}`);
  return String(v);
}

/** A legacy []string: a null item was "" to Go. A lone string is taken as a one-item list. */
function strList(v: unknown): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  return (Array.isArray(v) ? v : [v]).map((item) => str(item) ?? "");
}

/** A nested legacy struct (coreos, ceph): a mapping, or empty where absent. */
function section(v: unknown): Legacy {
  if (v === undefined || v === null) return {};
  if (typeof v !== "object" || Array.isArray(v)) throw new Error("expected a mapping");
  return v as Legacy;
}

/** A legacy map[string]string, such as images. */
function strMap(v: unknown): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  const map = section(v);
  return Object.fromEntries(Object.keys(map).map((k) => [k, read(map, k, str) ?? ""]));
}

/** Converts field `key` of a legacy mapping, naming the field in any error. */
function read<T>(from: Legacy, key: string, convert: (v: unknown) => T, where = ""): T {
  try {
    return convert(from[key]);
  } catch (e) {
    throw new Error(`${where}${key}: ${(e as Error).message}`);
  }
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
  if (Array.isArray(v)) return strList(v);
  const text = str(v);
  if (text === undefined) return undefined;
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
        .replace(/^-(\s+|$)/, "")
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
type Convert = (v: unknown) => unknown;
/** Fields the legacy server had that ccts has no place for: kept as variables, typed as it typed them. */
const KNOWN_EXTRAS: Record<string, Convert> = {
  ingress_hostnetwork: legacyBool,
  gpu_drivers_version: str,
  set_yum_repo: str,
  nginx_root_dir: str,
};
const NODE_KEYS = new Set([
  "mac",
  "cur_host_name",
  "ip",
  "kube_master",
  "etcd_member",
  "ingress_label",
  "ingresslabel",
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

/** `node` as the legacy server read it; `typedNode`, the same node in YAML 1.2, gives the extras. */
function machineFrom(
  node: Legacy,
  typedNode: Legacy,
  index: number,
  opts: ImportOptions,
  notes: string[],
): Machine {
  const where = `nodes[${index}]`;
  if (typeof node !== "object" || node === null || Array.isArray(node))
    throw new Error(`${where}: not a mapping`);
  const requiredMac = (v: unknown) => {
    const text = str(v);
    if (text === undefined) throw new Error("is required");
    return parseMac(text);
  };
  const mac = read(node, "mac", requiredMac, `${where}.`);
  const flag = (k: string) => read(node, k, legacyBool, `${where}.`) ?? false;
  const roles: string[] = [];
  if (flag("kube_master")) roles.push("master");
  else roles.push("worker");
  if (flag("etcd_member")) roles.push("etcd");
  // The legacy Go struct's IngressLabel had no yaml tag, so yaml.v2 read `ingresslabel`, though
  // its own sample (and the shared legacy file) say `ingress_label`: either makes the role.
  if (flag("ingress_label") || flag("ingresslabel")) roles.push("ingress");
  if (flag("ceph_monitor")) roles.push("ceph-monitor");
  const hostname = read(node, "cur_host_name", str, `${where}.`);
  const extra = Object.fromEntries(Object.entries(typedNode).filter(([k]) => !NODE_KEYS.has(k)));
  if (Object.keys(extra).length)
    notes.push(`${where}: kept ${Object.keys(extra).join(", ")} as spec.variables.legacy`);
  const spec: MachineSpec = {
    clusterDesc: opts.name,
    mac,
    hostname,
    ip: read(node, "ip", str, `${where}.`),
    roles,
    flannelInterface: read(node, "flannel_iface", str, `${where}.`),
    variables: Object.keys(extra).length ? { legacy: extra } : undefined,
  };
  return compact({
    apiVersion: API_VERSION,
    kind: "Machine",
    metadata: { name: objectName(hostname ?? macHostname(mac)), namespace: opts.namespace },
    spec,
  });
}

function mapping(doc: unknown): Legacy {
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw new Error("legacy cluster description must be a YAML mapping");
  }
  return doc as Legacy;
}

export function importLegacy(text: string, opts: ImportOptions): ImportResult {
  const legacy = mapping(yaml.load(text, { schema: LEGACY_TEXT_SCHEMA }));
  // Fields the legacy server did not know were never typed by it: they keep YAML 1.2's reading, so
  // a template sees true and 3 rather than "true" and "3".
  const typed = mapping(yaml.load(text));
  const notes: string[] = [];
  for (const required of ["bootstrapper", "subnet", "netmask", "domainname"]) {
    if (read(legacy, required, str) === undefined) throw new Error(`${required} is required`);
  }
  const coreos = read(legacy, "coreos", section);
  const ceph = legacy.ceph === undefined || legacy.ceph === null ? undefined : read(legacy, "ceph", section);
  const extra = Object.fromEntries(
    Object.entries(typed)
      .filter(([k]) => !CLUSTER_KEYS.has(k))
      .map(([k, v]) => [k, Object.hasOwn(KNOWN_EXTRAS, k) ? read(legacy, k, KNOWN_EXTRAS[k] as Convert) : v]),
  );
  const variables: Record<string, unknown> = {};
  if (ceph) {
    variables.ceph = compact({
      zapAndStartOSD: read(ceph, "zap_and_start_osd", legacyBool, "ceph."),
      osdJournalSize: read(ceph, "osd_journal_size", legacyInt, "ceph."),
    });
  }
  if (Object.keys(extra).length) {
    variables.legacy = extra;
    notes.push(`kept ${Object.keys(extra).join(", ")} as spec.variables.legacy`);
  }
  const low = read(legacy, "iplow", str);
  const high = read(legacy, "iphigh", str);
  if ((low === undefined) !== (high === undefined))
    throw new Error("iplow and iphigh must be given together");
  const spec: ClusterDescSpec = {
    network: {
      bootstrapperIP: read(legacy, "bootstrapper", str) as string,
      subnet: read(legacy, "subnet", str) as string,
      netmask: read(legacy, "netmask", str) as string,
      dhcpRange: low && high ? { start: low, end: high } : undefined,
      routers: read(legacy, "routers", strList),
      broadcast: read(legacy, "broadcast", str),
      nameservers: read(legacy, "nameservers", strList),
      upstreamNameservers: read(legacy, "upstreamnameservers", strList),
      domain: read(legacy, "domainname", str) as string,
      dockerDomain: read(legacy, "dockerdomain", str),
      lease: read(legacy, "lease", str),
      pxe: read(legacy, "start_pxe", legacyBool),
      ntp: read(legacy, "set_ntp", legacyBool),
    },
    kubernetes: {
      serviceClusterIPRange: read(legacy, "k8s_service_cluster_ip_range", str),
      clusterDNS: read(legacy, "k8s_cluster_dns", str),
      masterIPs: read(legacy, "kube_master_ip", strList),
      masterDNSNames: read(legacy, "kube_master_dns", strList),
      flannelBackend: read(legacy, "flannel_backend", str),
    },
    os: {
      name: read(legacy, "os_name", str),
      channel: read(legacy, "coreos_channel", str),
      version: read(legacy, "coreos_version", str),
      updates: {
        rebootStrategy: read(coreos, "reboot_strategy", str, "coreos."),
        windowStart: read(coreos, "start_time", str, "coreos."),
        windowLength: read(coreos, "time_length", str, "coreos."),
      },
    },
    sshAuthorizedKeys: read(legacy, "ssh_authorized_keys", sshKeys),
    images: read(legacy, "images", strMap),
    variables: Object.keys(variables).length ? variables : undefined,
  };
  const nodes = legacy.nodes ?? [];
  if (!Array.isArray(nodes)) throw new Error("nodes must be a list");
  const typedNodes = typed.nodes as Legacy[];
  const machines = nodes.map((n, i) => machineFrom(n as Legacy, typedNodes[i] as Legacy, i, opts, notes));
  const names = new Set<string>();
  const macs = new Map<string, number>();
  machines.forEach((m, i) => {
    if (names.has(m.metadata.name)) throw new Error(`two nodes would both be named ${m.metadata.name}`);
    names.add(m.metadata.name);
    // Two Machines with one MAC would both be refused (DuplicateMAC): that machine could not boot.
    const first = macs.get(m.spec.mac);
    if (first !== undefined)
      throw new Error(`nodes[${i}].mac: ${m.spec.mac} is also the MAC of nodes[${first}]`);
    macs.set(m.spec.mac, i);
  });
  const cluster: ClusterDesc = compact({
    apiVersion: API_VERSION,
    kind: "ClusterDesc",
    metadata: { name: opts.name, namespace: opts.namespace },
    spec,
  });
  return { cluster, machines, notes };
}

/**
 * Throws when the cluster (or `ccts serve --dir`) would refuse what the import made, say an
 * `iplow: 10.20.0.300`: better told at import than at `kubectl apply`. Apart from importLegacy,
 * which only reads the file as the legacy server read it.
 */
export function checkImported(result: ImportResult): void {
  const problems: string[] = [];
  for (const object of [result.cluster, ...result.machines]) {
    try {
      checkObject(object);
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  if (problems.length)
    throw new Error(`the cluster would refuse what this file imports to:\n  ${problems.join("\n  ")}`);
}

/** The import as multi-document YAML, ready for `kubectl apply -f` or `ccts serve --dir`. */
export function toManifests(result: ImportResult): string {
  return [result.cluster, ...result.machines]
    .map((o) => `---\n${yaml.dump(o, { lineWidth: -1, noRefs: true })}`)
    .join("");
}
