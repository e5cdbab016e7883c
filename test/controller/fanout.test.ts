// Which keys a template ConfigMap's change queues (pure; the index is plain data).
import { describe, expect, it } from "vitest";
import type { ClusterDesc, Machine } from "../../src/api/types.js";
import { type FanoutIndex, templateConfigMapChanged } from "../../src/controller/fanout.js";

const cluster = (name: string, templates: NonNullable<ClusterDesc["spec"]["templates"]>): ClusterDesc =>
  ({
    apiVersion: "ccts.io/v1alpha1",
    kind: "ClusterDesc",
    metadata: { name, namespace: "ns" },
    spec: { templates },
  }) as ClusterDesc;
const member = (name: string, clusterDesc: string): Machine => ({
  apiVersion: "ccts.io/v1alpha1",
  kind: "Machine",
  metadata: { name, namespace: "ns" },
  spec: { clusterDesc, mac: "52:54:00:00:00:01" },
});

describe("templateConfigMapChanged", () => {
  const clusters = [
    cluster("a", [
      { output: "cloud-config", configMapKeyRef: { name: "machine-templates", key: "cc" } },
      { output: "dnsmasq.conf", configMapKeyRef: { name: "dnsmasq-template", key: "conf" } },
    ]),
    cluster("b", [{ output: "dnsmasq.conf", configMapKeyRef: { name: "machine-templates", key: "dns" } }]),
  ];
  const members: Record<string, Machine[]> = {
    a: [member("a1", "a"), member("a2", "a")],
    b: [member("b1", "b")],
  };
  const index: FanoutIndex = {
    clusters: () => clusters,
    members: (_ns, c) => members[c] ?? [],
    claimants: () => [],
  };

  it("queues the Machines whose templates come from it, and the ClusterDesc whose dnsmasq.conf does", () => {
    expect(templateConfigMapChanged(index, "ns", "machine-templates")).toEqual([
      "ns/a1",
      "ns/a2",
      "cluster:ns/b",
    ]);
    // A dnsmasq template re-renders the cluster's documents only, not its 10,000 Machines.
    expect(templateConfigMapChanged(index, "ns", "dnsmasq-template")).toEqual(["cluster:ns/a"]);
    expect(templateConfigMapChanged(index, "ns", "unrelated")).toEqual([]);
  });
});
