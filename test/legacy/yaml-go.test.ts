// importLegacy against the reader it succeeds: the legacy cloud-config-server decoded
// cluster-desc.yml with Go's gopkg.in/yaml.v2 (YAML 1.1) into string, bool and int fields. Built
// from test/legacy/go-legacy-yaml/, that decoder reads the same documents as ccts: each sets one
// field to a scalar YAML 1.1 and 1.2 read differently (`0042`, `1.10`, `y`, `~`, `010`, ...).
// Where Go accepts a document, ccts must import the same values, or refuse it with one of its
// documented stricter checks. Where Go refuses one, ccts must refuse it too, but for a quoted
// bool or int ("y", '5000'), which it takes as Go takes the unquoted word.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tryParseMac } from "../../src/api/mac.js";
import { type ImportResult, importLegacy } from "../../src/legacy/import.js";
import { buildGoProgram, type GoProgram } from "../support/go.js";

let goLegacyYaml: GoProgram;

beforeAll(() => {
  goLegacyYaml = buildGoProgram(join(import.meta.dirname, "go-legacy-yaml"));
}, 120_000);
afterAll(() => goLegacyYaml?.remove());

/** Scalars YAML 1.1 and 1.2 resolve differently (numbers, dates, bools, nulls), quoted or not. */
const TRICKY = [
  "0042",
  "1.10",
  "1e3",
  "0x1F",
  "0o17",
  "0b101",
  "+12",
  "-0",
  ".5",
  "5.",
  "1_000",
  ".inf",
  "-.Inf",
  ".NaN",
  "2019-01-01",
  "2001-12-14t21:59:43.10-05:00",
  "1:20",
  "03:00",
  "190:20:30",
  "y",
  "N",
  "No",
  "ON",
  "off",
  "true",
  "FALSE",
  "yEs",
  "~",
  "null",
  "Null",
  "",
  "'0042'",
  '"1.10"',
  "'null'",
  '""',
  "'y'",
  "12h",
  "!!str 0042",
  "a b",
];
/** Ints as Go's strconv reads them, and near misses. */
const INTS = [
  "5000",
  "0x10",
  "010",
  "0o10",
  "0b11",
  "1_000",
  "+5",
  "-1",
  "0",
  "5.0",
  "1e3",
  "'5000'",
  "~",
  "",
  "5.5",
  "-5.5",
  "+.5",
  "07.5",
  ".inf",
  "-.inf",
  ".nan",
  "1e30",
  "9007199254740993",
  "99999999999999999999",
  "x",
];
const MACS = ["52:54:00:00:00:01", "52-54-00-00-00-01", "525400000001", "005400000001", "0x525400000001"];

type Kind = "string" | "list" | "bool" | "int" | "mac";
/** Each field of the legacy format: where it sits (dotted, `nodes.` = in the one node) and its Go type. */
const FIELDS: [string, Kind][] = [
  ["bootstrapper", "string"],
  ["subnet", "string"],
  ["netmask", "string"],
  ["domainname", "string"],
  ["broadcast", "string"],
  ["dockerdomain", "string"],
  ["lease", "string"],
  ["k8s_service_cluster_ip_range", "string"],
  ["k8s_cluster_dns", "string"],
  ["flannel_backend", "string"],
  ["os_name", "string"],
  ["coreos_channel", "string"],
  ["coreos_version", "string"],
  ["ssh_authorized_keys", "string"],
  ["coreos.reboot_strategy", "string"],
  ["coreos.start_time", "string"],
  ["coreos.time_length", "string"],
  ["images.hyperkube", "string"],
  ["routers", "list"],
  ["nameservers", "list"],
  ["upstreamnameservers", "list"],
  ["kube_master_ip", "list"],
  ["kube_master_dns", "list"],
  ["start_pxe", "bool"],
  ["set_ntp", "bool"],
  ["ceph.zap_and_start_osd", "bool"],
  ["ceph.osd_journal_size", "int"],
  ["nodes.cur_host_name", "string"],
  ["nodes.ip", "string"],
  ["nodes.flannel_iface", "string"],
  ["nodes.kube_master", "bool"],
  ["nodes.etcd_member", "bool"],
  ["nodes.ingress_label", "bool"],
  ["nodes.ceph_monitor", "bool"],
  ["nodes.mac", "mac"],
];

const BASE: Record<string, string> = {
  bootstrapper: "10.20.0.2",
  subnet: "10.20.0.0",
  netmask: "255.255.255.0",
  domainname: "lab.example.org",
  "nodes.mac": "52:54:00:0a:00:11",
};

/** A legacy document with the base fields, `field` set to `scalar` (a list field as its one item). */
function documentWith(field: string, kind: Kind, scalar: string): string {
  const top: string[] = [];
  const sections: Record<string, string[]> = { coreos: [], ceph: [], images: [], nodes: [] };
  for (const [key, value] of Object.entries({ ...BASE, [field]: kind === "list" ? `[${scalar}]` : scalar })) {
    const [section, name] = key.includes(".") ? key.split(".") : [undefined, key];
    if (section) sections[section]?.push(`${name}: ${value}`);
    else top.push(`${key}: ${value}`);
  }
  const nested = Object.entries(sections)
    .filter(([, lines]) => lines.length)
    .map(([section, lines]) =>
      section === "nodes" ? `nodes:\n  - ${lines.join("\n    ")}` : `${section}:\n  ${lines.join("\n  ")}`,
    );
  return `${[...top, ...nested].join("\n")}\n`;
}

type GoAnswer = { cluster: Record<string, unknown> } | { error: string };

function goAnswers(docs: string[]): GoAnswer[] {
  const stdin = `${docs.map((d) => JSON.stringify(d)).join("\n")}\n`;
  const out = execFileSync(goLegacyYaml.binary, { input: stdin, encoding: "utf8", maxBuffer: 64 << 20 });
  return out
    .trimEnd()
    .split("\n")
    .map((line) => JSON.parse(line) as GoAnswer);
}

/** What ccts imported, in the shape of Go's struct: "" for an unset string, false for an unset bool. */
function asGo(r: ImportResult): Record<string, unknown> {
  const { network: n, kubernetes: k, os, images, sshAuthorizedKeys } = r.cluster.spec;
  const ceph = (r.cluster.spec.variables?.ceph ?? {}) as {
    zapAndStartOSD?: boolean;
    osdJournalSize?: number;
  };
  const node = r.machines[0];
  const roles = node?.spec.roles ?? [];
  return {
    bootstrapper: n.bootstrapperIP,
    subnet: n.subnet,
    netmask: n.netmask,
    domainname: n.domain,
    iplow: n.dhcpRange?.start ?? "",
    iphigh: n.dhcpRange?.end ?? "",
    broadcast: n.broadcast ?? "",
    dockerdomain: n.dockerDomain ?? "",
    lease: n.lease ?? "",
    k8s_service_cluster_ip_range: k?.serviceClusterIPRange ?? "",
    k8s_cluster_dns: k?.clusterDNS ?? "",
    flannel_backend: k?.flannelBackend ?? "",
    os_name: os?.name ?? "",
    coreos_channel: os?.channel ?? "",
    coreos_version: os?.version ?? "",
    ssh_authorized_keys: sshAuthorizedKeys ?? [],
    coreos: {
      reboot_strategy: os?.updates?.rebootStrategy ?? "",
      start_time: os?.updates?.windowStart ?? "",
      time_length: os?.updates?.windowLength ?? "",
    },
    images: images ?? null,
    routers: n.routers ?? null,
    nameservers: n.nameservers ?? null,
    upstreamnameservers: n.upstreamNameservers ?? null,
    kube_master_ip: k?.masterIPs ?? null,
    kube_master_dns: k?.masterDNSNames ?? null,
    start_pxe: n.pxe ?? false,
    set_ntp: n.ntp ?? false,
    ceph: { zap_and_start_osd: ceph.zapAndStartOSD ?? false, osd_journal_size: ceph.osdJournalSize ?? 0 },
    nodes: [
      {
        mac: node?.spec.mac,
        cur_host_name: node?.spec.hostname ?? "",
        ip: node?.spec.ip ?? "",
        flannel_iface: node?.spec.flannelInterface ?? "",
        kube_master: roles.includes("master"),
        etcd_member: roles.includes("etcd"),
        ingress_label: roles.includes("ingress"),
        ceph_monitor: roles.includes("ceph-monitor"),
      },
    ],
  };
}

/** Go's struct with the fields ccts reads differently by design: the MAC canonical, the keys a list. */
function goComparable(go: Record<string, unknown>): Record<string, unknown> {
  const nodes = go.nodes as Record<string, unknown>[];
  const keys = String(go.ssh_authorized_keys);
  return {
    ...go,
    ssh_authorized_keys: keys === "" ? [] : [keys],
    nodes: nodes.map((node) => ({ ...node, mac: tryParseMac(String(node.mac)) })),
  };
}

/** Refusals ccts adds on purpose: a required field left empty, a MAC Go would only fail on later. */
const STRICTER = /is required|invalid MAC|out of range/;

describe("importLegacy reads scalars as the legacy server's yaml.v2 did", () => {
  const cases = FIELDS.flatMap(([field, kind]) =>
    (kind === "int" ? INTS : kind === "mac" ? MACS : TRICKY).map((scalar) => ({
      field,
      kind,
      scalar,
      doc: documentWith(field, kind, scalar),
    })),
  );

  it(`agrees with Go on ${cases.length} documents`, () => {
    const answers = goAnswers(cases.map((c) => c.doc));
    const disagreements: string[] = [];
    let bothAccepted = 0;
    cases.forEach(({ field, kind, scalar, doc }, i) => {
      const go = answers[i] as GoAnswer;
      let ours: Record<string, unknown> | Error;
      try {
        ours = asGo(importLegacy(doc, { name: "lab", namespace: "ops" }));
      } catch (e) {
        ours = e as Error;
      }
      const where = `${field}: ${scalar || "(empty)"}`;
      if ("error" in go) {
        const lenient = /^['"]/.test(scalar) && (kind === "bool" || kind === "int");
        if (!(ours instanceof Error) && !lenient)
          disagreements.push(`${where}: Go refused (${go.error}), ccts took it`);
        return;
      }
      if (ours instanceof Error) {
        if (!STRICTER.test(ours.message))
          disagreements.push(`${where}: Go took it, ccts refused: ${ours.message}`);
        return;
      }
      bothAccepted++;
      const expected = goComparable(go.cluster);
      // ssh_authorized_keys is a YAML list inside a string: compare only when it is one plain key.
      if (field !== "ssh_authorized_keys") expected.ssh_authorized_keys = ours.ssh_authorized_keys;
      const differing = Object.keys(expected).filter((k) => !isDeepStrictEqual(expected[k], ours[k]));
      for (const k of differing)
        disagreements.push(
          `${where}: ${k} is ${JSON.stringify(expected[k])} to Go, ${JSON.stringify(ours[k])} to ccts`,
        );
    });
    expect(disagreements).toEqual([]);
    // The cases must exercise agreement, not only refusals on both sides.
    expect(bothAccepted).toBeGreaterThan(cases.length / 2);
  });
});
