// Two `ccts controller` processes against the real API server: one leads and writes, the other
// stands by; killing the leader hands over within the lease duration; SIGTERM releases the lease.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Machine } from "../../src/api/types.js";
import type { KubeClient } from "../../src/k8s/client.js";
import { testNamespace } from "../control-plane/namespace.js";
import { create, exampleObjects, get, kubeClient, mergePatch } from "../support/kube.js";
import { BUILD_INFO_LINE, freePort, PACKAGE_VERSION, type Running, startCli } from "../support/processes.js";
import { waitFor } from "../support/wait.js";

let client: KubeClient;
let ns: string;
let cleanup: () => Promise<void>;
const replicas = new Map<string, { proc: Running; metrics: string }>();

interface Lease {
  spec: { holderIdentity?: string | null; leaseTransitions?: number };
}
const lease = () =>
  client.request<Lease>("GET", `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/ccts-controller`);

async function writesOf(metrics: string): Promise<number> {
  const text = await (await fetch(`${metrics}/metrics`)).text();
  return text
    .split("\n")
    .filter((l) => l.startsWith("ccts_controller_writes_total{"))
    .reduce((sum, l) => sum + Number(l.split(" ").pop()), 0);
}

async function startReplica(identity: string): Promise<void> {
  const port = await freePort();
  const proc = startCli([
    "controller",
    "--kubeconfig",
    inject("kubeconfig"),
    "--namespace",
    ns,
    "--lease-namespace",
    ns,
    "--metrics-port",
    String(port),
    "--metrics-host",
    "127.0.0.1",
    "--identity",
    identity,
    "--lease-duration",
    "10s",
  ]);
  const metrics = `http://127.0.0.1:${port}`;
  replicas.set(identity, { proc, metrics });
  await waitFor(`${identity} ready`, async () => (await fetch(`${metrics}/readyz`)).status === 200, 30_000);
}

const allRendered = async (generationOf?: string) => {
  for (const m of exampleObjects(ns).machines) {
    const got = await get<Machine>(client, "Machine", ns, m.metadata.name);
    const ok = got?.status?.conditions?.find((c) => c.type === "Rendered")?.status === "True";
    if (!ok) return false;
    if (generationOf && got?.status?.observedGeneration !== got?.metadata.generation) return false;
  }
  return true;
};

beforeAll(async () => {
  ({ name: ns, cleanup } = await testNamespace("leader"));
  client = await kubeClient(inject("kubeconfig"));
  const { cluster, machines } = exampleObjects(ns);
  await create(client, cluster);
  for (const m of machines) await create(client, m);
  await startReplica("replica-a");
  await startReplica("replica-b");
});

afterAll(async () => {
  for (const r of replicas.values()) await r.proc.stop("SIGKILL");
  client?.close();
  await cleanup?.();
});

describe("leader election", () => {
  let leader: string;
  let standby: string;

  it("one replica leads and writes; the other stands by and writes nothing", async () => {
    await waitFor("every machine rendered", () => allRendered(), 30_000);
    leader = (await lease()).spec.holderIdentity!;
    expect(["replica-a", "replica-b"]).toContain(leader);
    standby = leader === "replica-a" ? "replica-b" : "replica-a";
    expect(await writesOf(replicas.get(leader)!.metrics)).toBeGreaterThan(0);
    expect(await writesOf(replicas.get(standby)!.metrics)).toBe(0);
  });

  it("each replica says which ccts it is: in its start-up line and in /metrics", async () => {
    for (const { proc, metrics } of replicas.values()) {
      expect(proc.output()).toMatch(new RegExp(`"version":"${PACKAGE_VERSION}"[^\n]*"msg":"starting"`));
      expect(await (await fetch(`${metrics}/metrics`)).text()).toMatch(BUILD_INFO_LINE);
    }
  });

  it("the standby takes over within 15 s after the leader is killed", async () => {
    const killed = Date.now();
    await replicas.get(leader)!.proc.stop("SIGKILL");
    await waitFor(
      "the standby to hold the lease",
      async () => (await lease()).spec.holderIdentity === standby,
      15_000,
      100,
    );
    console.log(`takeover after SIGKILL of the leader: ${Date.now() - killed} ms`);
    await mergePatch(client, "ClusterDesc", ns, "lab", {
      spec: { sshAuthorizedKeys: ["ssh-ed25519 AAAAtakeover t@test"] },
    });
    await waitFor(
      "the new leader to render the change",
      async () => {
        const cm = await get<{ data: Record<string, string> }>(
          client,
          "ConfigMap",
          ns,
          "ccts-machine-worker-2",
        );
        return cm?.data["cloud-config"]?.includes("AAAAtakeover");
      },
      15_000,
    );
    expect(await writesOf(replicas.get(standby)!.metrics)).toBeGreaterThan(0);
  }, 40_000);

  it("SIGTERM finishes, exits 0 and releases the lease at once", async () => {
    const started = Date.now();
    expect(await replicas.get(standby)!.proc.stop("SIGTERM")).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect((await lease()).spec.holderIdentity ?? null).toBeNull();
    expect(replicas.get(standby)!.proc.output()).toMatch(/"msg":"stopped"/);
  });
});
