// The per-ClusterDesc documents reconcile against an in-memory state (the informer caches' read
// port; test/controller/controller.test.ts runs the same against a real API server).
import { describe, expect, it } from "vitest";
import type { ClusterDesc, Machine } from "../../src/api/types.js";
import {
  type ClusterDocumentsPorts,
  clusterDocumentsName,
  type LastClusterRender,
  reconcileClusterDocuments,
} from "../../src/controller/cluster-documents.js";
import { RefusedWrite } from "../../src/controller/reconcile.js";
import type { ConfigMapObject } from "../../src/controller/rendered-configmap.js";
import { exampleObjects } from "../support/kube.js";

const NS = "lab-ns";

function setup() {
  const { cluster, machines } = exampleObjects(NS);
  const state = {
    cluster: cluster as ClusterDesc | undefined,
    members: machines as Machine[],
    configMap: undefined as ConfigMapObject | undefined,
  };
  const applied: ConfigMapObject[] = [];
  const events: string[] = [];
  const lastRender = new Map<string, LastClusterRender>();
  const ports: ClusterDocumentsPorts = {
    state: {
      secret: () => undefined,
      machine: () => undefined,
      cluster: () => state.cluster,
      configMap: (_ns, name) => (name === state.configMap?.metadata.name ? state.configMap : undefined),
      members: () => state.members,
      claimants: () => [],
    },
    applyConfigMap: async (cm) => {
      applied.push(cm);
      state.configMap = cm;
    },
    clusterEvent: async (_cluster, type, reason) => {
      events.push(`${type} ${reason}`);
    },
    lastFailure: new Map(),
    lastRender,
  };
  const name = cluster.metadata.name;
  const reconcile = () => reconcileClusterDocuments(ports, NS, name);
  const last = () => lastRender.get(`${NS}/${name}`);
  return { cluster, machines, state, applied, events, ports, lastRender, reconcile, last };
}

describe("cluster documents (dnsmasq.conf) reconcile", () => {
  it("renders once for the same ClusterDesc and member list, and writes only what changed", async () => {
    const { state, applied, reconcile, last } = setup();
    await reconcile();
    expect(applied).toHaveLength(1);
    expect(applied[0]!.metadata.name).toBe(clusterDocumentsName("lab"));
    const first = last()!.desired;

    // A resync: same objects. No render (the remembered ConfigMap is the same object), no write.
    await reconcile();
    expect(last()!.desired).toBe(first);
    expect(applied).toHaveLength(1);

    // Someone deletes the ConfigMap: written back, still without a render.
    state.configMap = undefined;
    await reconcile();
    expect(applied).toHaveLength(2);
    expect(applied[1]).toBe(first);
  });

  it("renders again when the member list or the ClusterDesc is another object", async () => {
    const { cluster, machines, state, applied, reconcile, last } = setup();
    await reconcile();
    const extra: Machine = {
      ...machines[1]!,
      metadata: { ...machines[1]!.metadata, name: "worker-9" },
      spec: { ...machines[1]!.spec, mac: "52:54:00:12:35:99", hostname: "worker-9", ip: "10.10.0.99" },
    };
    state.members = [...machines, extra];
    await reconcile();
    expect(applied).toHaveLength(2);
    expect(applied[1]!.data?.["dnsmasq.conf"]).toContain("dhcp-host=52:54:00:12:35:99,10.10.0.99,worker-9");

    // A new ClusterDesc object with the same spec renders again and writes nothing new.
    state.cluster = { ...cluster };
    const before = last()!.desired;
    await reconcile();
    expect(last()!.desired).not.toBe(before);
    expect(applied).toHaveLength(2);
  });

  it("says a refused write once, retries without rendering again, and says Recovered once it is stored", async () => {
    const { applied, events, ports, reconcile, last } = setup();
    const store = ports.applyConfigMap;
    let refusals = 3;
    ports.applyConfigMap = async (cm) => {
      if (refusals-- > 0) throw new RefusedWrite("admission webhook denied the request");
      await store(cm);
    };
    await expect(reconcile()).rejects.toThrow(RefusedWrite);
    const rendered = last()!.desired;
    for (let i = 0; i < 2; i++) await expect(reconcile()).rejects.toThrow(RefusedWrite);
    expect(events).toEqual(["Warning WriteRefused"]);
    await reconcile();
    expect(applied).toEqual([rendered]); // the render of the first try, stored at last
    expect(events).toEqual(["Warning WriteRefused", "Normal Recovered"]);
    await reconcile();
    expect(events).toHaveLength(2);
  });

  it("forgets the last render when the ClusterDesc is gone or fails to render", async () => {
    const { machines, state, lastRender, reconcile } = setup();
    await reconcile();
    expect(lastRender.size).toBe(1);
    // Two Machines with one IP fail the render: the last good ConfigMap stays, the memory goes.
    state.members = [
      ...machines,
      {
        ...machines[2]!,
        metadata: { ...machines[2]!.metadata, name: "master-3-copy" },
        spec: { ...machines[2]!.spec, mac: "52:54:00:aa:bb:cc", hostname: "master-3-copy" },
      },
    ];
    await reconcile();
    expect(lastRender.size).toBe(0);
    state.members = machines;
    await reconcile();
    expect(lastRender.size).toBe(1);
    state.cluster = undefined;
    await reconcile();
    expect(lastRender.size).toBe(0);
  });
});
