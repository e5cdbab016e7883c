// Fan-out facts against what the legacy Go cloud-config-server computed for the legacy
// cluster-desc.yml (test/fixtures/shared/): etcd peers and masters by hostname (its dnsmasq
// resolved them), a node without cur_host_name named after its MAC (`52-54-00-0a-00-13`).
import { describe, expect, it } from "vitest";
import type { Machine, MachineSpec } from "../../src/api/types.js";
import { builtinTemplates, renderMachine, templateData } from "../../src/render/index.js";
import { cluster } from "./fixtures.js";

/** The legacy file's `nodes`, in file order, as Machine specs (roles from kube_master/etcd_member/ingress_label). */
const LEGACY_NODES: Omit<MachineSpec, "clusterDesc">[] = [
  { mac: "52:54:00:0A:00:11", hostname: "master-1", roles: ["master", "etcd"] },
  { mac: "52-54-00-0a-00-12", hostname: "etcd-2", roles: ["etcd"] },
  { mac: "52:54:00:0a:00:13", roles: ["etcd", "ingress"] },
  { mac: "52:54:00:0a:00:21", flannelInterface: "eth1" },
  { mac: "52:54:00:0a:00:22" },
];

/** What the legacy server wrote for `--initial-cluster`: file order, hostnames. */
const LEGACY_INITIAL_CLUSTER =
  "master-1=http://master-1:2380,etcd-2=http://etcd-2:2380,52-54-00-0a-00-13=http://52-54-00-0a-00-13:2380";
const LEGACY_ENDPOINTS = "http://master-1:2379,http://etcd-2:2379,http://52-54-00-0a-00-13:2379";

function machines(name: (spec: Omit<MachineSpec, "clusterDesc">, i: number) => string): Machine[] {
  return LEGACY_NODES.map((spec, i) => ({
    apiVersion: "ccts.io/v1alpha1",
    kind: "Machine",
    metadata: { name: name(spec, i), namespace: "default" },
    spec: { clusterDesc: "lab", ...spec },
  }));
}

const legacyCluster = cluster({
  network: {
    bootstrapperIP: "10.20.0.2",
    subnet: "10.20.0.0",
    netmask: "255.255.255.0",
    routers: ["10.20.0.1"],
    nameservers: ["10.20.0.2"],
    domain: "lab.example.org",
  },
  kubernetes: { serviceClusterIPRange: "10.96.0.0/16", clusterDNS: "10.96.0.10", flannelBackend: "vxlan" },
});

describe("legacy fan-out facts", () => {
  it("reproduces the legacy initial cluster exactly when machine names sort in file order", () => {
    const ms = machines((_, i) => `node-${i + 1}`);
    for (const m of ms) {
      const d = templateData(legacyCluster, m, ms);
      expect(d.etcd.initialCluster).toBe(LEGACY_INITIAL_CLUSTER);
      expect(d.etcd.endpoints).toBe(LEGACY_ENDPOINTS);
      expect(d.etcd.members.map((x) => x.hostname)).toEqual(["master-1", "etcd-2", "52-54-00-0a-00-13"]);
      expect(d.masters.hostnames).toEqual(["master-1"]);
      expect(d.masters.hostnamesJoined).toBe("master-1");
    }
  });

  it("has the same members, in name order, when machines are named after their hostnames", () => {
    // `ccts import` names each Machine after its hostname; etcd does not depend on the order of
    // --initial-cluster (member and cluster IDs derive from the sorted peer URLs).
    const ms = machines((spec) => spec.hostname ?? spec.mac.toLowerCase().replaceAll(":", "-"));
    const d = templateData(legacyCluster, ms[0]!, [...ms].reverse());
    expect(d.etcd.initialCluster).toBe(
      "52-54-00-0a-00-13=http://52-54-00-0a-00-13:2380,etcd-2=http://etcd-2:2380,master-1=http://master-1:2380",
    );
    expect(new Set(d.etcd.initialCluster.split(","))).toEqual(new Set(LEGACY_INITIAL_CLUSTER.split(",")));
  });

  it("derives roles, hostnames and flannel interfaces like the legacy server", () => {
    const ms = machines((_, i) => `node-${i + 1}`);
    const facts = ms.map((m) => templateData(legacyCluster, m, ms).machine);
    expect(facts.map((f) => [f.hostname, f.mac, f.roles, f.flannelInterface])).toEqual([
      ["master-1", "52:54:00:0a:00:11", ["master", "etcd"], null],
      ["etcd-2", "52:54:00:0a:00:12", ["etcd"], null],
      ["52-54-00-0a-00-13", "52:54:00:0a:00:13", ["etcd", "ingress"], null],
      ["52-54-00-0a-00-21", "52:54:00:0a:00:21", ["worker"], "eth1"],
      ["52-54-00-0a-00-22", "52:54:00:0a:00:22", ["worker"], null],
    ]);
  });

  it("puts the facts into the built-in cloud-config of etcd members only", () => {
    const ms = machines((_, i) => `node-${i + 1}`);
    for (const m of ms) {
      const r = renderMachine({
        cluster: legacyCluster,
        machine: m,
        machines: ms,
        templates: [...builtinTemplates()],
      });
      if (!r.ok) throw new Error(r.failure.message);
      const cc = r.documents.find((d) => d.output === "cloud-config")!.content;
      const isEtcd = (m.spec.roles ?? []).includes("etcd");
      expect(cc.includes(`ETCD_INITIAL_CLUSTER='${LEGACY_INITIAL_CLUSTER}'`)).toBe(isEtcd);
      expect(cc).toContain(`ETCD_ENDPOINTS='${LEGACY_ENDPOINTS}'`);
      expect(cc).toContain("KUBE_MASTERS='master-1'");
    }
  });
});
