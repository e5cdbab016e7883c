import { readFileSync } from "node:fs";
import yaml from "js-yaml";
import { describe, expect, it } from "vitest";
import { checkObject } from "../../src/api/validate.js";
import { checkImported, importLegacy, toManifests } from "../../src/legacy/import.js";
import { LEGACY_CLUSTER_DESC as LEGACY_FILE } from "../support/shared.js";

const legacyText = readFileSync(LEGACY_FILE, "utf8");

describe("importLegacy", () => {
  const result = importLegacy(legacyText, { name: "lab", namespace: "ops" });

  it("maps every cluster field to its place", () => {
    const spec = result.cluster.spec;
    expect(result.cluster.metadata).toEqual({ name: "lab", namespace: "ops" });
    expect(spec.network).toEqual({
      bootstrapperIP: "10.20.0.2",
      subnet: "10.20.0.0",
      netmask: "255.255.255.0",
      dhcpRange: { start: "10.20.0.100", end: "10.20.0.200" },
      routers: ["10.20.0.1"],
      broadcast: "10.20.0.255",
      nameservers: ["10.20.0.2"],
      upstreamNameservers: ["9.9.9.9", "1.1.1.1"],
      domain: "lab.example.org",
      dockerDomain: "bootstrapper",
      lease: "12h",
      pxe: true,
      ntp: true,
    });
    expect(spec.kubernetes).toEqual({
      serviceClusterIPRange: "10.96.0.0/16",
      clusterDNS: "10.96.0.10",
      masterIPs: ["10.96.0.1", "10.20.0.11"],
      masterDNSNames: ["k8s-api.lab.example.org"],
      flannelBackend: "vxlan",
    });
    expect(spec.os).toEqual({
      name: "CoreOS",
      channel: "stable",
      version: "4152.2.0",
      updates: { rebootStrategy: "etcd-lock", windowStart: "03:00", windowLength: "3h" },
    });
    expect(spec.images).toEqual({
      hyperkube: "bootstrapper:5000/hyperkube:v1.31.2",
      pause: "bootstrapper:5000/pause:3.10",
      flannel: "bootstrapper:5000/flannel:v0.26.1",
    });
    expect(spec.variables).toEqual({ ceph: { zapAndStartOSD: false, osdJournalSize: 5000 } });
    expect(spec.sshAuthorizedKeys).toEqual([
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleKeyOnlyForTestsDoNotUse0000000001 ops@lab",
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleKeyOnlyForTestsDoNotUse0000000002 oncall@lab",
    ]);
  });

  it("makes one Machine per node with canonical MACs, hostnames and roles", () => {
    const summary = result.machines.map((m) => [
      m.metadata.name,
      m.spec.mac,
      m.spec.hostname,
      m.spec.roles,
      m.spec.flannelInterface,
    ]);
    expect(summary).toEqual([
      ["master-1", "52:54:00:0a:00:11", "master-1", ["master", "etcd"], undefined],
      ["etcd-2", "52:54:00:0a:00:12", "etcd-2", ["worker", "etcd"], undefined],
      ["52-54-00-0a-00-13", "52:54:00:0a:00:13", undefined, ["worker", "etcd", "ingress"], undefined],
      ["52-54-00-0a-00-21", "52:54:00:0a:00:21", undefined, ["worker"], "eth1"],
      ["52-54-00-0a-00-22", "52:54:00:0a:00:22", undefined, ["worker"], undefined],
    ]);
    for (const m of result.machines) {
      expect(m.spec.clusterDesc).toBe("lab");
      expect(m.metadata.namespace).toBe("ops");
    }
  });

  it("emits manifests that pass validation and read back identically", () => {
    const docs = yaml.loadAll(toManifests(result));
    expect(docs).toHaveLength(6);
    expect(docs.map((d) => checkObject(d).kind)).toEqual(["ClusterDesc", ...Array(5).fill("Machine")]);
    expect(docs[0]).toEqual(result.cluster);
  });

  it("says at import what the cluster would refuse, naming each object", () => {
    expect(() => checkImported(result)).not.toThrow();
    const text = legacyText
      .replace("iplow: 10.20.0.100", "iplow: 10.20.0.300")
      .replace('cur_host_name: "etcd-2"', "cur_host_name: etcd_2");
    const r = importLegacy(text, { name: "lab", namespace: "ops" });
    expect(() => checkImported(r)).toThrow(
      /the cluster would refuse what this file imports to:\n {2}ClusterDesc lab: spec\.network\.dhcpRange\.start: must be of format ipv4/,
    );
    expect(() => checkImported(r)).not.toThrow(/etcd/); // etcd_2 becomes the valid name etcd-2
  });

  it("keeps unknown legacy fields as variables instead of dropping them", () => {
    const r = importLegacy(`${legacyText}\nnginx_root_dir: /var/www\ngpu_drivers_version: "550"\n`, {
      name: "x",
      namespace: "default",
    });
    expect(r.cluster.spec.variables?.legacy).toEqual({
      nginx_root_dir: "/var/www",
      gpu_drivers_version: "550",
    });
    expect(r.notes.join("\n")).toMatch(/nginx_root_dir, gpu_drivers_version/);
  });

  it("reads values as the legacy server's YAML 1.1 reader did, and extras as YAML 1.2", () => {
    const text = legacyText
      .replace('cur_host_name: "etcd-2"', "cur_host_name: 0042")
      .replace('coreos_version: "4152.2.0"', "coreos_version: 1.10")
      .replace('lease: "12h"', "lease: ~")
      .replace("osd_journal_size: 5000", "osd_journal_size: 010");
    const r = importLegacy(`${text}\ngpu_nodes: 3\ningress_hostnetwork: Yes\ngpu_drivers_version: 384.90\n`, {
      name: "x",
      namespace: "default",
    });
    expect(r.machines[1]?.spec.hostname).toBe("0042");
    expect(r.machines[1]?.metadata.name).toBe("0042");
    expect(r.cluster.spec.os?.version).toBe("1.10");
    expect(r.cluster.spec.network.lease).toBeUndefined();
    expect(r.cluster.spec.variables?.ceph).toEqual({ zapAndStartOSD: false, osdJournalSize: 8 });
    // gpu_drivers_version was a string to the legacy server; gpu_nodes it never knew.
    expect(r.cluster.spec.variables?.legacy).toEqual({
      gpu_nodes: 3,
      ingress_hostnetwork: true,
      gpu_drivers_version: "384.90",
    });
  });

  it("takes ingresslabel, the key the legacy server's struct read, as ingress_label", () => {
    const text = legacyText.replace(/ingress_label: y/, "ingresslabel: yes");
    const r = importLegacy(text, { name: "x", namespace: "default" });
    expect(r.machines[2]?.spec.roles).toEqual(["worker", "etcd", "ingress"]);
    expect(r.machines[2]?.spec.variables).toBeUndefined();
  });

  it.each([
    ["not a mapping", "- a\n- b\n", /must be a YAML mapping/],
    [
      "missing bootstrapper",
      "subnet: 1.2.3.0\nnetmask: 255.255.255.0\ndomainname: x\n",
      /bootstrapper is required/,
    ],
    [
      "bad MAC",
      `${legacyText.replace('"52:54:00:0a:00:22"', '"52:54:00:0a:00"')}`,
      /nodes\[4\]\.mac: invalid MAC address/,
    ],
    [
      "bad flag",
      `${legacyText.replace("kube_master: y", "kube_master: maybe")}`,
      /nodes\[0\]\.kube_master: expected a yes\/no value/,
    ],
    [
      "a list for a string",
      legacyText.replace('lease: "12h"', "lease: [12h]"),
      /^lease: expected a string, got a list$/,
    ],
    [
      "a bad integer",
      `${legacyText.replace("osd_journal_size: 5000", "osd_journal_size: 5k")}`,
      /ceph\.osd_journal_size: expected an integer/,
    ],
    [
      "coreos not a mapping",
      `${legacyText.replace(/^coreos:\n( {2}.*\n)+/m, "coreos: stable\n")}`,
      /^coreos: expected a mapping$/,
    ],
    [
      "one MAC on two nodes, in two notations",
      legacyText.replace('"52:54:00:0a:00:21"', '"52-54-00-0A-00-11"'),
      /nodes\[3\]\.mac: 52:54:00:0a:00:11 is also the MAC of nodes\[0\]/,
    ],
    [
      "duplicate names",
      `${legacyText.replace('cur_host_name: "etcd-2"', 'cur_host_name: "master-1"')}`,
      /two nodes would both be named master-1/,
    ],
  ])("rejects %s with a clear error", (_name, text, error) => {
    expect(() => importLegacy(text, { name: "x", namespace: "default" })).toThrow(error);
  });
});
