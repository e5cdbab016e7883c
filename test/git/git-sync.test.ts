// Templates from git, end to end against the real test API server and a real git server
// (git-http-backend on loopback with basic auth): initial sync renders the Machines with the
// repository's templates, a push is picked up within the interval, an unchanged commit writes
// nothing, and every failure (broken template after a force-push, missing path, bad credentials,
// git server down) keeps the last good templates, says why in status and an Event, and leaks no
// credential into status, events or logs. A restart while git is down restores from the disk cache.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { ClusterDesc, Condition, Machine } from "../../src/api/types.js";
import type { ConfigMapObject } from "../../src/controller/rendered-configmap.js";
import { renderedConfigMapName } from "../../src/controller/rendered-configmap.js";
import type { KubeClient } from "../../src/k8s/client.js";
import { ControllerRuntime } from "../../src/k8s/controller-runtime.js";
import { ANNOTATION_GIT_RESTORED, GitSync } from "../../src/k8s/git-sync.js";
import { ANNOTATION_GIT_COMMIT } from "../../src/render/git-templates.js";
import { testNamespace } from "../control-plane/namespace.js";
import { create, exampleObjects, get, kubeClient, listEvents, mergePatch, remove } from "../support/kube.js";
import { waitFor } from "../support/wait.js";
import { Author, type GitServer, startGitServer } from "./git-server.js";

const PASSWORD = "s3cret-Pa55word-7d1e0b";
const WRONG = "wr0ng-Pa55word-4aa9c2";
const INTERVAL_MS = 2000;
const b64 = (s: string) => Buffer.from(s).toString("base64");

let client: KubeClient;
let ns: string;
let cleanup: () => Promise<void>;
let runtime: ControllerRuntime;
let gitSync: GitSync;
let server: GitServer;
let author: Author;
let cacheDir: string;
const logs: string[] = [];
const logger = pino({ level: "debug" }, { write: (line: string) => logs.push(line) });
let machineNames: string[] = [];
const commits: Record<string, string> = {};

const tpl = (version: string) => `#cloud-config\nhostname: {{machine.hostname}}\n# ${version}\n`;
const clusterDesc = () => get<ClusterDesc>(client, "ClusterDesc", ns, "lab");
const gitCM = () => get<ConfigMapObject>(client, "ConfigMap", ns, "ccts-git-lab");
const renderedCM = (name: string) =>
  get<ConfigMapObject>(client, "ConfigMap", ns, renderedConfigMapName(name));
const synced = (c: ClusterDesc | undefined): Condition | undefined =>
  c?.status?.conditions?.find((x) => x.type === "TemplatesSynced");

async function waitSynced(reason: string, timeoutMs = 15_000): Promise<ClusterDesc> {
  return waitFor(
    `TemplatesSynced reason ${reason}`,
    async () => {
      const c = await clusterDesc();
      return synced(c)?.reason === reason ? c : undefined;
    },
    timeoutMs,
  );
}

async function waitAllRendered(text: string, timeoutMs = 15_000): Promise<void> {
  for (const name of machineNames) {
    await waitFor(
      `${name} rendered with "${text}"`,
      async () => (await renderedCM(name))?.data?.["cloud-config"]?.includes(text),
      timeoutMs,
    );
  }
}

const clusterEvent = (reason: string) =>
  waitFor(`a ${reason} event on the ClusterDesc`, async () =>
    (await listEvents(client, ns)).find((e) => e.involvedObject.name === "lab" && e.reason === reason),
  );

function startGitSync(): GitSync {
  const sync = new GitSync({
    client,
    cache: runtime.cache,
    cacheDir,
    logger,
    tickMs: 200,
    fetchTimeoutMs: 3000,
  });
  sync.start();
  return sync;
}

beforeAll(async () => {
  ({ name: ns, cleanup } = await testNamespace("git-sync"));
  client = await kubeClient(inject("kubeconfig"));
  server = await startGitServer({ username: "ccts", password: PASSWORD });
  author = new Author(server);
  commits.v1 = author.commit({
    "clusters/lab/cloud-config.hbs": tpl("v1"),
    "clusters/lab/motd": "welcome to {{machine.hostname}}\n",
    "clusters/lab/README.md": "templates of the lab cluster\n",
    "clusters/other/cloud-config.hbs": "#cloud-config\n",
  });
  cacheDir = mkdtempSync(join(tmpdir(), "ccts-git-sync-"));
  runtime = new ControllerRuntime({ client, namespace: ns, logger, metrics: new Registry() });
  await runtime.startInformers();
  runtime.startReconciling();
  gitSync = startGitSync();
  await create(client, {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "git-creds", namespace: ns },
    data: { username: b64("ccts"), password: b64(PASSWORD) },
  });
  const { cluster, machines } = exampleObjects(ns);
  cluster.spec.git = {
    url: server.url,
    ref: "main",
    path: "clusters/lab",
    secretRef: { name: "git-creds" },
    interval: `${INTERVAL_MS / 1000}s`,
  };
  await create(client, cluster);
  for (const m of machines) await create(client, m);
  machineNames = machines.map((m) => m.metadata.name);
});

afterAll(async () => {
  await gitSync?.stop();
  await runtime?.stop();
  client?.close();
  await server?.close();
  author?.close();
  if (cacheDir) rmSync(cacheDir, { recursive: true, force: true });
  await cleanup?.();
});

describe("templates from git", () => {
  it("syncs the folder into ccts-git-<name> and renders every Machine with it", async () => {
    const started = Date.now();
    await waitAllRendered("# v1");
    console.log(
      `ClusterDesc created -> all ${machineNames.length} Machines rendered from git: ${Date.now() - started} ms`,
    );
    const cm = (await gitCM())!;
    expect(Object.keys(cm.data ?? {}).sort()).toEqual(["cloud-config", "motd"]);
    expect(cm.metadata.labels?.["app.kubernetes.io/managed-by"]).toBe("ccts-git");
    expect(cm.metadata.annotations?.[ANNOTATION_GIT_COMMIT]).toBe(commits.v1);
    const cluster = await waitSynced("Synced");
    expect(cm.metadata.ownerReferences).toEqual([
      expect.objectContaining({ kind: "ClusterDesc", name: "lab", uid: cluster.metadata.uid }),
    ]);
    expect(synced(cluster)?.status).toBe("True");
    expect(cluster.status?.git).toMatchObject({ commit: commits.v1 });
    expect(cluster.status?.git?.lastSuccessTime).toBeDefined();
    expect(cluster.status?.git?.lastError).toBeUndefined();
    expect((await renderedCM(machineNames[0]!))?.data?.motd).toMatch(/^welcome to /);
  });

  it("re-renders within the interval after a push", async () => {
    commits.v2 = author.commit({ "clusters/lab/cloud-config.hbs": tpl("v2") });
    const started = Date.now();
    await waitAllRendered("# v2");
    const ms = Date.now() - started;
    console.log(`push -> all Machines re-rendered: ${ms} ms (interval ${INTERVAL_MS} ms)`);
    expect(ms).toBeLessThan(INTERVAL_MS + 5000);
    // Status follows the ConfigMap write (the Machines may be re-rendered first).
    await waitFor("status to show v2", async () => (await clusterDesc())?.status?.git?.commit === commits.v2);
  });

  it("writes no ConfigMap while the commit is unchanged", async () => {
    await waitFor("status to show v2", async () => (await clusterDesc())?.status?.git?.commit === commits.v2);
    const before = (await gitCM())!.metadata.resourceVersion;
    const writes = gitSync.writes.configmap;
    const requests = server.requests;
    const renders = { ...runtime.writes };
    await new Promise((r) => setTimeout(r, 2.5 * INTERVAL_MS));
    expect(server.requests).toBeGreaterThan(requests); // it did fetch
    expect(gitSync.writes.configmap).toBe(writes);
    expect((await gitCM())!.metadata.resourceVersion).toBe(before);
    expect(runtime.writes.configmap).toBe(renders.configmap);
  });

  it("keeps the last good templates when a force-push brings a broken one (RenderFailed), and recovers", async () => {
    const good = (await renderedCM("worker-1"))!.data;
    const goodTemplates = (await gitCM())!.data;
    author.forcePushOrphan({
      "clusters/lab/cloud-config.hbs": "#cloud-config\nhostname: {{machine.hostnam}}\n",
    });
    const failed = await waitSynced("RenderFailed");
    expect(synced(failed)?.status).toBe("False");
    expect(synced(failed)?.message).toMatch(/hostnam/);
    expect(failed.status?.git?.commit).toBe(commits.v2);
    expect(failed.status?.git?.lastError).toMatch(/hostnam/);
    expect((await clusterEvent("RenderFailed")).message).toMatch(/hostnam/);
    expect((await gitCM())!.data).toEqual(goodTemplates);
    expect((await renderedCM("worker-1"))!.data).toEqual(good);

    commits.v3 = author.commit({ "clusters/lab/cloud-config.hbs": tpl("v3"), "clusters/lab/motd": "hi\n" });
    await waitSynced("Synced");
    await clusterEvent("Recovered");
    await waitAllRendered("# v3");
  });

  it("checks a dnsmasq.conf from git as the ClusterDesc's dnsmasq template before using it", async () => {
    const clusterConf = async () =>
      (await get<ConfigMapObject>(client, "ConfigMap", ns, "ccts-cluster-lab"))?.data?.["dnsmasq.conf"];
    const atCommit = (commit: string) =>
      waitFor(`status.git.commit ${commit.slice(0, 8)}`, async () => {
        const c = await clusterDesc();
        return c?.status?.git?.commit === commit && synced(c)?.reason === "Synced" ? c : undefined;
      });
    // Valid as text, not as a dnsmasq configuration: refused, like a template that does not render.
    author.commit({ "clusters/lab/dnsmasq.conf.hbs": "port=0\n  indented=1\n" });
    const failed = await waitSynced("RenderFailed");
    expect(synced(failed)?.message).toMatch(/dnsmasq\.conf .* not a dnsmasq option line/);
    expect(Object.keys((await gitCM())!.data!)).not.toContain("dnsmasq.conf");

    const own = "port=0\n{{#each machines}}\ndhcp-host={{mac}},{{hostname}}\n{{/each}}\n";
    const good = author.commit({ "clusters/lab/dnsmasq.conf.hbs": own });
    await atCommit(good);
    await waitFor("the cluster's dnsmasq.conf from git", async () =>
      (await clusterConf())?.startsWith("port=0\n"),
    );
    expect(await clusterConf()).toContain("dhcp-host=");
    // The Machines keep their outputs from git and get no dnsmasq.conf.
    await waitFor("worker-1 rendered", async () => (await renderedCM("worker-1"))?.data?.["cloud-config"]);
    expect(Object.keys((await renderedCM("worker-1"))!.data!)).not.toContain("dnsmasq.conf");

    const without = author.commit({ "clusters/lab/dnsmasq.conf.hbs": null });
    await atCommit(without);
    commits.v3 = without; // v3's templates again, at this commit (the tests below start from it)
    await waitFor("the built-in dnsmasq.conf again", async () =>
      (await clusterConf())?.startsWith("# ccts built-in dnsmasq configuration"),
    );
  });

  it("reports a missing path (PathNotFound) and keeps the templates", async () => {
    const before = (await gitCM())!;
    await mergePatch(client, "ClusterDesc", ns, "lab", { spec: { git: { path: "clusters/nope" } } });
    const failed = await waitSynced("PathNotFound");
    expect(synced(failed)?.message).toMatch(/clusters\/nope/);
    await clusterEvent("PathNotFound");
    expect((await gitCM())!.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
    await mergePatch(client, "ClusterDesc", ns, "lab", { spec: { git: { path: "clusters/lab" } } });
    await waitSynced("Synced");
  });

  it("reports bad credentials (FetchFailed) without showing them anywhere", async () => {
    const before = (await gitCM())!;
    await mergePatch(client, "Secret", ns, "git-creds", { data: { password: b64(WRONG) } });
    const failed = await waitSynced("FetchFailed");
    expect(synced(failed)?.message).toMatch(/Authentication failed|401/);
    await clusterEvent("FetchFailed");
    expect((await gitCM())!.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
    await mergePatch(client, "Secret", ns, "git-creds", { data: { password: b64(PASSWORD) } });
    await waitSynced("Synced");
  });

  it("keeps serving when the git server is down, says why, and catches up when it is back", async () => {
    const templates = (await gitCM())!;
    const docs = (await renderedCM("worker-2"))!;
    await server.stop();
    const failed = await waitSynced("FetchFailed");
    expect(synced(failed)?.message).toMatch(/Failed to connect|Connection refused|unable to access/);
    expect(failed.status?.git?.commit).toBe(commits.v3);
    await waitFor("a FetchFailed event saying why", async () =>
      (await listEvents(client, ns)).find(
        (e) =>
          e.involvedObject.name === "lab" &&
          e.reason === "FetchFailed" &&
          /connect|refused|unable to access/i.test(e.message),
      ),
    );
    await new Promise((r) => setTimeout(r, INTERVAL_MS));
    expect((await gitCM())!.metadata.resourceVersion).toBe(templates.metadata.resourceVersion);
    expect((await renderedCM("worker-2"))!.metadata.resourceVersion).toBe(docs.metadata.resourceVersion);

    // A controller restart while git is down, and the ConfigMap lost: the disk cache brings it back.
    await gitSync.stop();
    await remove(client, "ConfigMap", ns, "ccts-git-lab");
    await waitFor("the ConfigMap to be gone", async () => (await gitCM()) === undefined);
    gitSync = startGitSync();
    const restored = await waitFor("the ConfigMap restored from the disk cache", async () => {
      const cm = await gitCM();
      return cm?.metadata.annotations?.[ANNOTATION_GIT_RESTORED] === "true" ? cm : undefined;
    });
    expect(restored.data).toEqual(templates.data);
    expect(restored.metadata.annotations?.[ANNOTATION_GIT_COMMIT]).toBe(commits.v3);
    expect(synced(await clusterDesc())?.reason).toBe("FetchFailed");

    await server.start();
    await waitSynced("Synced");
    await waitFor(
      "the restored mark to go",
      async () => !(await gitCM())?.metadata.annotations?.[ANNOTATION_GIT_RESTORED],
    );
    const m = await get<Machine>(client, "Machine", ns, "worker-2");
    expect(m?.status?.conditions?.find((c) => c.type === "Rendered")?.status).toBe("True");
  });

  it("clears status.git and TemplatesSynced when spec.git is removed", async () => {
    await mergePatch(client, "ClusterDesc", ns, "lab", { spec: { git: null } });
    const cleared = await waitFor("status.git to go", async () => {
      const c = await clusterDesc();
      return c && !c.status?.git && !synced(c) ? c : undefined;
    });
    expect(cleared.spec.git).toBeUndefined();
    // The built-in set again.
    await waitFor("worker-1 rendered from the built-in templates", async () =>
      (await renderedCM("worker-1"))?.data?.ipxe?.startsWith("#!ipxe"),
    );
  });

  it("never shows the credentials in status, events or logs", async () => {
    const everything = [
      JSON.stringify(await clusterDesc()),
      JSON.stringify(await listEvents(client, ns)),
      JSON.stringify((await get<ConfigMapObject>(client, "ConfigMap", ns, "ccts-git-lab"))?.metadata),
      logs.join("\n"),
    ].join("\n");
    expect(logs.some((l) => l.includes("Authentication failed"))).toBe(true);
    for (const secret of [PASSWORD, WRONG, b64(PASSWORD), b64(WRONG)])
      expect(everything).not.toContain(secret);
  });
});
