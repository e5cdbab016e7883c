// Cluster mode end to end on a private control plane (so the API server can be stopped without
// disturbing other test files): the controller renders, `ccts server` processes serve, and both
// live through an API server outage and a server restart during it.
import { copyFile, mkdtemp, readdir, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Machine } from "../../src/api/types.js";
import { DiskCache, JOURNAL } from "../../src/cache/disk-cache.js";
import type { ConfigMapObject } from "../../src/controller/rendered-configmap.js";
import { renderedConfigMapName } from "../../src/controller/rendered-configmap.js";
import type { KubeClient } from "../../src/k8s/client.js";
import { ControllerRuntime } from "../../src/k8s/controller-runtime.js";
import { type ControlPlane, startControlPlane } from "../control-plane/harness.js";
import { create, exampleObjects, get, kubeClient, mergePatch, remove } from "../support/kube.js";
import { BUILD_INFO_LINE, freePort, type Running, startCli, waitReady } from "../support/processes.js";
import { waitFor } from "../support/wait.js";

const ns = "serving";
/** --documents-namespace of the controller and the servers, as deploy/ runs them. */
const docsNs = "serving-documents";
let cp: ControlPlane;
let client: KubeClient;
let controller: ControllerRuntime;
const servers: Running[] = [];
const { machines } = exampleObjects(ns);

/** The keys a server's disk cache holds, read from a copy of its journal (the server keeps appending). */
async function cachedKeys(cacheDir: string): Promise<string[]> {
  const copy = await mkdtemp(join(tmpdir(), "ccts-cache-copy-"));
  await copyFile(join(cacheDir, JOURNAL), join(copy, JOURNAL));
  const keys: string[] = [];
  const cache = new DiskCache(copy);
  await cache.load((e) => keys.push(e.key));
  await cache.close();
  return keys;
}

async function startServer(
  cacheDir: string,
  port?: number,
  extraArgs: string[] = [],
): Promise<{ base: string; proc: Running }> {
  const p = port ?? (await freePort());
  const proc = startCli([
    "server",
    "--kubeconfig",
    cp.kubeconfig,
    "--namespace",
    ns,
    "--documents-namespace",
    docsNs,
    "--port",
    String(p),
    "--host",
    "127.0.0.1",
    "--cache-dir",
    cacheDir,
    // No --rate-limit: the tests poll fast from one address, which `server` allows by default.
    ...extraArgs,
  ]);
  servers.push(proc);
  const base = `http://127.0.0.1:${p}`;
  await waitReady(base, 30_000);
  return { base, proc };
}

const cloudConfig = async (base: string, mac: string) => {
  const res = await fetch(`${base}/cloud-config/${mac}`);
  return res.status === 200 ? res.text() : `status ${res.status}`;
};
const renderedCM = async (name: string) =>
  get<ConfigMapObject>(client, "ConfigMap", ns, renderedConfigMapName(name));

async function expectAllServed(base: string): Promise<void> {
  for (const m of machines) {
    const cm = (await renderedCM(m.metadata.name))!;
    expect(await cloudConfig(base, m.spec.mac)).toBe(cm.data?.["cloud-config"]);
  }
}

let a: { base: string; proc: Running };
let b: { base: string; proc: Running };
let cacheA: string;

beforeAll(async () => {
  cp = await startControlPlane();
  client = await kubeClient(cp.kubeconfig);
  for (const name of [ns, docsNs]) {
    await client.request("POST", "/api/v1/namespaces", {
      body: { apiVersion: "v1", kind: "Namespace", metadata: { name } },
    });
  }
  controller = new ControllerRuntime({
    client,
    namespace: ns,
    documentsNamespace: docsNs,
    logger: pino({ level: "silent" }),
    metrics: new Registry(),
  });
  await controller.startInformers();
  controller.startReconciling();
  const { cluster } = exampleObjects(ns);
  await create(client, cluster);
  for (const m of machines) await create(client, m);
  for (const m of machines) {
    await waitFor(
      `${m.metadata.name} rendered`,
      async () => (await renderedCM(m.metadata.name)) !== undefined,
    );
  }
  cacheA = await mkdtemp(join(tmpdir(), "ccts-cache-a-"));
  a = await startServer(cacheA);
  b = await startServer(await mkdtemp(join(tmpdir(), "ccts-cache-b-")));
}, 180_000);

afterAll(async () => {
  for (const s of servers) await s.stop();
  await controller?.stop();
  client?.close();
  await cp?.stop();
});

describe("ccts server in cluster mode", () => {
  it("serves every Machine's documents by every MAC, with ETags", async () => {
    await waitFor("server A to know every machine", async () => {
      for (const m of machines)
        if ((await fetch(`${a.base}/cloud-config/${m.spec.mac}`)).status !== 200) return false;
      return true;
    });
    await expectAllServed(a.base);
    expect(await cloudConfig(a.base, "52-54-00-12-35-11")).toContain("worker-1");
    const res = await fetch(`${a.base}/cloud-config/52:54:00:12:34:01`);
    const etag = res.headers.get("etag");
    expect(etag).toMatch(/^"[^"]+"$/);
    const again = await fetch(`${a.base}/cloud-config/52:54:00:12:34:01`, {
      headers: { "if-none-match": etag! },
    });
    expect(again.status).toBe(304);
  });

  it("has no per-client rate limit by default (behind a Service or proxy one address is many machines)", async () => {
    // Beyond the burst of 100 that `serve` allows one client.
    const statuses = await Promise.all(
      Array.from({ length: 300 }, () =>
        fetch(`${a.base}/cloud-config/${machines[0]!.spec.mac}`).then((r) => r.status),
      ),
    );
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
  });

  it("keeps the documents' bytes in a document file, unlinked, in the cache directory", async () => {
    const text = await (await fetch(`${a.base}/metrics`)).text();
    expect(text).toMatch(BUILD_INFO_LINE);
    const live = Number(/^ccts_document_file_bytes\{state="live"\} (\d+)$/m.exec(text)?.[1]);
    // Every Machine's documents, at least the cloud-configs served above.
    let served = 0;
    for (const m of machines) served += Buffer.byteLength(await cloudConfig(a.base, m.spec.mac));
    expect(live).toBeGreaterThan(served);
    // The document file is unlinked: the directory shows the disk cache's journal only.
    expect(await readdir(cacheA)).toEqual([JOURNAL]);
    // The journal's size, as its metric tells it (live: at least the served cloud-configs).
    await waitFor("the disk cache metric to match the journal's size", async () => {
      const m = await (await fetch(`${a.base}/metrics`)).text();
      const bytes = (state: string) =>
        Number(new RegExp(`^ccts_disk_cache_bytes\\{state="${state}"\\} (\\d+)$`, "m").exec(m)?.[1]);
      return (
        bytes("live") > served &&
        bytes("live") + bytes("garbage") === (await stat(join(cacheA, JOURNAL))).size
      );
    });
  });

  it("keeps the documents in memory with --documents-in-memory", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ccts-cache-memory-"));
    const inMemory = await startServer(dir, undefined, ["--documents-in-memory"]);
    await expectAllServed(inMemory.base);
    const text = await (await fetch(`${inMemory.base}/metrics`)).text();
    expect(text).not.toMatch(/^ccts_document_file_bytes/m);
    expect(inMemory.proc.output()).toMatch(/"documents":"memory"/);
    await inMemory.proc.stop();
  });

  it("serves the cluster's dnsmasq configuration", async () => {
    // The controller renders it about a second after the last Machine change.
    const conf = await waitFor("/dnsmasq.conf with every Machine", async () => {
      const res = await fetch(`${a.base}/dnsmasq.conf`);
      const text = res.status === 200 ? await res.text() : "";
      return machines.every((m) => text.includes(`dhcp-host=${m.spec.mac},`)) ? text : undefined;
    });
    expect(conf).toContain("dhcp-host=52:54:00:12:34:01,10.20.0.11,master-1");
  });

  it("two replicas give the same answers", async () => {
    await waitFor(
      "server B to know every machine",
      async () => (await fetch(`${b.base}/cloud-config/${machines[4]!.spec.mac}`)).status === 200,
    );
    for (const m of machines) {
      for (const output of ["cloud-config", "meta-data", "network-config"]) {
        const [ra, rb] = await Promise.all(
          [a.base, b.base].map((base) => fetch(`${base}/nocloud/${m.spec.mac}/${output}`)),
        );
        expect(await ra!.text()).toBe(await rb!.text());
        expect(ra!.headers.get("etag")).toBe(rb!.headers.get("etag"));
      }
    }
  });

  it("serves documents holding a private key from the documents namespace's Secrets", async () => {
    const { cluster } = exampleObjects(ns);
    cluster.metadata.name = "keyed";
    cluster.spec.templates = [
      { output: "cloud-config", inline: "#cloud-config\nhostname: {{machine.hostname}}\n" },
      { output: "node.key", inline: "{{tls.key}}" },
    ];
    await create(client, cluster);
    const keyed: Machine = {
      apiVersion: "ccts.io/v1alpha1",
      kind: "Machine",
      metadata: { name: "keyed-1", namespace: ns },
      spec: { clusterDesc: "keyed", mac: "52:54:00:12:77:01", hostname: "keyed-1", roles: ["worker"] },
    };
    await create(client, keyed);
    const secret = await waitFor("the documents Secret", () =>
      get<{ data: Record<string, string> }>(client, "Secret", docsNs, `ccts-machine-${ns}.keyed-1-documents`),
    );
    const key = Buffer.from(secret.data["node.key"]!, "base64").toString("utf8");
    expect(key).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    for (const base of [a.base, b.base]) {
      await waitFor("the key to be served", async () => {
        const res = await fetch(`${base}/machines/52:54:00:12:77:01/node.key`);
        return res.status === 200 && (await res.text()) === key;
      });
    }
    expect(await get(client, "Secret", ns, "ccts-machine-keyed-1-documents")).toBeUndefined();
    await remove(client, "Machine", ns, "keyed-1");
    await remove(client, "ClusterDesc", ns, "keyed");
    await waitFor(
      "the Secret to go with its Machine",
      async () => !(await get(client, "Secret", docsNs, `ccts-machine-${ns}.keyed-1-documents`)),
    );
  });

  it("serves a change soon after the ConfigMap changes", async () => {
    await mergePatch(client, "ClusterDesc", ns, "lab", {
      spec: { sshAuthorizedKeys: ["ssh-ed25519 AAAAchange change@test"] },
    });
    const cm = await waitFor(
      "the ConfigMap to change",
      async () => {
        const c = await renderedCM("master-1");
        return c?.data?.["cloud-config"]?.includes("AAAAchange") ? c : undefined;
      },
      15_000,
      10,
    );
    const seen = Date.now();
    await waitFor(
      "server A to serve it",
      async () => (await cloudConfig(a.base, "52:54:00:12:34:01")) === cm.data?.["cloud-config"],
      5_000,
      10,
    );
    console.log(`ConfigMap change to served: ${Date.now() - seen} ms`);
  });

  it("keeps serving through an API server outage, also after a restart from its disk cache", async () => {
    // Let the last change settle everywhere first: the controller may still be rendering it.
    await controller.queue.idle();
    const before = new Map<string, string>();
    for (const m of machines) {
      const cm = await waitFor(`${m.metadata.name} served alike by both replicas`, async () => {
        const want = (await renderedCM(m.metadata.name))?.data?.["cloud-config"];
        const [fromA, fromB] = [await cloudConfig(a.base, m.spec.mac), await cloudConfig(b.base, m.spec.mac)];
        return want !== undefined && fromA === want && fromB === want ? want : undefined;
      });
      before.set(m.spec.mac, cm);
    }
    await cp.stopApiServer();
    try {
      for (const [mac, text] of before) {
        expect(await cloudConfig(a.base, mac)).toBe(text);
        expect(await cloudConfig(b.base, mac)).toBe(text);
      }
      // Restart server A while the API server is still down: it serves from its cache at once.
      const port = Number(new URL(a.base).port);
      expect(await a.proc.stop()).toBe(0);
      a = await startServer(cacheA, port);
      expect((await fetch(`${a.base}/readyz`)).status).toBe(200);
      for (const [mac, text] of before) expect(await cloudConfig(a.base, mac)).toBe(text);
    } finally {
      await cp.startApiServer();
    }
    // Back: the controller (running all along) and the restarted server pick up new changes.
    await mergePatch(client, "ClusterDesc", ns, "lab", {
      spec: { sshAuthorizedKeys: ["ssh-ed25519 AAAAafter after@test"] },
    });
    await waitFor(
      "the restarted server to serve a change made after the outage",
      async () => (await cloudConfig(a.base, "52:54:00:12:34:02")).includes("AAAAafter"),
      30_000,
    );
  });

  it("forgets a Machine that is deleted, in memory and in the cache", async () => {
    const victim: Machine = machines[4]!;
    const cacheKey = `${ns}/${renderedConfigMapName(victim.metadata.name)}`;
    expect(await cachedKeys(cacheA)).toContain(cacheKey);
    await remove(client, "Machine", ns, victim.metadata.name);
    await waitFor(
      "server A to answer 404",
      async () => (await fetch(`${a.base}/cloud-config/${victim.spec.mac}`)).status === 404,
      30_000,
    );
    await waitFor("the cache entry to go", async () => !(await cachedKeys(cacheA)).includes(cacheKey));
  });
});
