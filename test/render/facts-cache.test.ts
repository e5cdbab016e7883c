// The per-cluster facts (etcd, masters, machine list) are computed once per member list, also when
// the controller hands in a fresh copy of the rendered Machine after each status write.
import { describe, expect, it } from "vitest";
import type { ClusterDesc, Machine } from "../../src/api/types.js";
import { clusterFacts, membersOf } from "../../src/render/data.js";

const cluster: ClusterDesc = {
  apiVersion: "ccts.io/v1alpha1",
  kind: "ClusterDesc",
  metadata: { name: "lab", namespace: "default" },
  spec: {
    network: { bootstrapperIP: "10.0.0.2", subnet: "10.0.0.0", netmask: "255.255.255.0", domain: "lab" },
  },
};
const machine = (n: number, generation = 1): Machine => ({
  apiVersion: "ccts.io/v1alpha1",
  kind: "Machine",
  metadata: { name: `m-${n}`, namespace: "default", generation },
  spec: { clusterDesc: "lab", mac: `52:54:00:00:00:${n.toString(16).padStart(2, "0")}`, roles: ["etcd"] },
});

describe("clusterFacts cache", () => {
  const list = [machine(1), machine(2), machine(3)];

  it("reuses the facts for a fresh copy of a listed Machine with the same generation", () => {
    const first = clusterFacts(cluster, list, list[0]!);
    expect(clusterFacts(cluster, list, structuredClone(list[0]!))).toBe(first);
    expect(first.etcd.members.map((m) => m.hostname)).toEqual([
      "52-54-00-00-00-01",
      "52-54-00-00-00-02",
      "52-54-00-00-00-03",
    ]);
  });

  it("recomputes with the newer spec when the Machine changed since the list was built", () => {
    const first = clusterFacts(cluster, list, list[0]!);
    const changed = { ...machine(1, 2), spec: { ...machine(1).spec, hostname: "renamed" } };
    const facts = clusterFacts(cluster, list, changed);
    expect(facts).not.toBe(first);
    expect(facts.etcd.members.map((m) => m.hostname)).toContain("renamed");
  });

  it("a list one Machine longer reuses the summaries of the Machines it shares", () => {
    const first = clusterFacts(cluster, list, list[0]!);
    const longer = [...list, machine(4)];
    const facts = clusterFacts(cluster, longer, longer[3]!);
    expect(facts).not.toBe(first);
    expect(facts.machines.slice(0, 3)).toEqual(first.machines);
    for (const [i, summary] of first.machines.entries()) expect(facts.machines[i]).toBe(summary);
    expect(facts.machines[3]!.name).toBe("m-4");
  });

  it("makes new summaries for another domain", () => {
    const first = clusterFacts(cluster, list, list[0]!);
    const renamed = {
      ...cluster,
      spec: { ...cluster.spec, network: { ...cluster.spec.network, domain: "lab2" } },
    };
    const facts = clusterFacts(renamed, list, list[0]!);
    expect(first.machines[0]!.fqdn).toBe("52-54-00-00-00-01.lab");
    expect(facts.machines[0]!.fqdn).toBe("52-54-00-00-00-01.lab2");
  });

  describe("member lists in name order (the controller's) and in any other order", () => {
    const hostnames = (facts: ReturnType<typeof clusterFacts>) => facts.machines.map((m) => m.name);
    const sorted = [machine(1), machine(2), machine(3), machine(4)];
    const shuffled = [sorted[2]!, sorted[0]!, sorted[3]!, sorted[1]!];

    it("takes a sorted list of the cluster's Machines as it is", () => {
      expect(membersOf(cluster, sorted, undefined)).toBe(sorted);
      expect(membersOf(cluster, shuffled, undefined)).toEqual(sorted);
    });

    it("gives the same facts for both orders, and reuses them for a fresh copy of a member", () => {
      for (const list of [sorted, shuffled]) {
        const facts = clusterFacts(cluster, list, list[1]!);
        expect(hostnames(facts)).toEqual(["m-1", "m-2", "m-3", "m-4"]);
        expect(clusterFacts(cluster, list, structuredClone(list[1]!))).toBe(facts);
        expect(clusterFacts(cluster, list, structuredClone(list[3]!))).toBe(facts);
      }
    });

    it("adds a Machine the sorted list does not have, and a newer spec of one it has", () => {
      const facts = clusterFacts(cluster, sorted, machine(9));
      expect(hostnames(facts)).toEqual(["m-1", "m-2", "m-3", "m-4", "m-9"]);
      const renamed = { ...machine(3, 2), spec: { ...machine(3).spec, hostname: "renamed" } };
      const newer = clusterFacts(cluster, sorted, renamed);
      expect(newer.machines.map((m) => m.hostname)[2]).toBe("renamed");
    });

    it("leaves out Machines of another cluster or namespace and repeats, also in name order", () => {
      const other = { ...machine(5), spec: { ...machine(5).spec, clusterDesc: "other" } };
      const elsewhere = { ...machine(6), metadata: { ...machine(6).metadata, namespace: "lab" } };
      const repeated = [machine(1), machine(1), machine(2)];
      expect(membersOf(cluster, [...sorted, other], undefined).map((m) => m.metadata.name)).toEqual([
        "m-1",
        "m-2",
        "m-3",
        "m-4",
      ]);
      // "default" sorts before "lab": the list is in namespace and name order.
      expect(membersOf(cluster, [...sorted, elsewhere], undefined)).toHaveLength(4);
      expect(membersOf(cluster, repeated, undefined)).toHaveLength(2);
    });
  });
});
