import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FolderStore } from "../../src/store/folder-store.js";
import { EXAMPLE_DIR } from "../support/kube.js";
import { waitFor } from "../support/wait.js";

const MASTER1 = "52:54:00:12:34:01";
const WORKER1_ETH1 = "52:54:00:12:35:11";

let stores: FolderStore[] = [];
afterEach(() => {
  for (const s of stores) s.close();
  stores = [];
});

async function exampleCopy(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "ccts-store-"));
  await cp(EXAMPLE_DIR, dir, { recursive: true });
  return dir;
}

async function open(dir: string): Promise<FolderStore> {
  const store = new FolderStore(dir, { debounceMs: 20, pollMs: 200 });
  stores.push(store);
  await store.load();
  return store;
}

const served = (store: FolderStore, mac: string, output = "cloud-config") =>
  store.lookup.machine(mac)?.documents.get(output)?.body.toString();

describe("FolderStore", () => {
  it("loads the example and serves every machine under every MAC", async () => {
    const store = await open(EXAMPLE_DIR);
    expect(store.report()).toEqual({ files: [], machines: [], clusters: [] });
    const dnsmasq = store.lookup.clusters()[0]?.documents.get("dnsmasq.conf")?.body.toString();
    expect(dnsmasq).toContain("dhcp-host=52:54:00:12:34:01,10.20.0.11,master-1");
    expect(store.lookup.ready()).toBe(true);
    expect(served(store, MASTER1)).toMatch(/^#cloud-config/);
    expect(served(store, MASTER1)).toContain("master-1");
    expect(served(store, WORKER1_ETH1)).toContain("worker-1");
    expect(store.lookup.machine(WORKER1_ETH1)?.addresses).toEqual(["10.20.0.21", "192.168.100.21"]);
    expect(store.lookup.size).toBe(6);
  });

  it("picks up an edit without restart", async () => {
    const dir = await exampleCopy();
    const store = await open(dir);
    store.watch();
    const file = join(dir, "machines.yaml");
    await writeFile(
      file,
      (await readFile(file, "utf8")).replace("hostname: master-1", "hostname: renamed-1"),
    );
    await waitFor("the edit to be served", () => served(store, MASTER1)?.includes("renamed-1"));
    await rm(dir, { recursive: true });
  });

  it("keeps the last good state of a file that turns invalid, and reports it", async () => {
    const dir = await exampleCopy();
    const store = await open(dir);
    const before = served(store, MASTER1);
    await writeFile(
      join(dir, "machines.yaml"),
      "apiVersion: ccts.io/v1alpha1\nkind: Machine\n  bad: [indent\n",
    );
    const report = await store.load();
    expect(report.files).toEqual([
      { file: "machines.yaml", error: expect.stringMatching(/bad indentation|line/) },
    ]);
    expect(served(store, MASTER1)).toBe(before);
    expect(store.lookup.size).toBe(6);
  });

  it("reports a Machine with a bad MAC by file, and serves the rest", async () => {
    const dir = await exampleCopy();
    await writeFile(
      join(dir, "bad.yaml"),
      "apiVersion: ccts.io/v1alpha1\nkind: Machine\nmetadata: {name: bad}\nspec: {clusterDesc: lab, mac: '52:54:00'}\n",
    );
    const store = await open(dir);
    expect(store.report().files).toEqual([
      { file: "bad.yaml", error: expect.stringMatching(/spec\.mac: invalid MAC address "52:54:00"/) },
    ]);
    expect(served(store, MASTER1)).toBeDefined();
  });

  it("keeps a machine's last good documents when its template breaks, and says why", async () => {
    const dir = await exampleCopy();
    await mkdir(join(dir, "templates", "tpl"), { recursive: true });
    await writeFile(
      join(dir, "templates", "tpl", "cloud-config"),
      "#cloud-config\nhostname: {{machine.hostname}}\n",
    );
    const clusterFile = join(dir, "cluster.yaml");
    await writeFile(
      clusterFile,
      `${await readFile(clusterFile, "utf8")}  templates:\n    - output: cloud-config\n      configMapKeyRef: { name: tpl, key: cloud-config }\n`,
    );
    const store = await open(dir);
    expect(served(store, MASTER1)).toBe("#cloud-config\nhostname: master-1\n");
    await writeFile(
      join(dir, "templates", "tpl", "cloud-config"),
      "#cloud-config\nhostname: {{machine.hostnam}}\n",
    );
    const report = await store.load();
    expect(served(store, MASTER1)).toBe("#cloud-config\nhostname: master-1\n");
    const failure = report.machines.find((m) => m.machine === "default/master-1");
    expect(failure?.reason).toBe("TemplateError");
    expect(failure?.message).toMatch(/default\/master-1.*cloud-config.*line 2.*hostnam/);
    expect(store.document(MASTER1, "cloud-config")).toEqual({ error: failure?.message });
  });

  it("serves a MAC claimed by two machines to neither", async () => {
    const dir = await exampleCopy();
    await writeFile(
      join(dir, "dup.yaml"),
      "apiVersion: ccts.io/v1alpha1\nkind: Machine\nmetadata: {name: dup}\nspec: {clusterDesc: lab, mac: '52-54-00-12-34-01'}\n",
    );
    const store = await open(dir);
    expect(store.lookup.machine(MASTER1)).toBeUndefined();
    expect(
      store
        .report()
        .machines.map((m) => [m.machine, m.reason])
        .sort(),
    ).toEqual([
      ["default/dup", "DuplicateMAC"],
      ["default/master-1", "DuplicateMAC"],
    ]);
    expect(store.document(MASTER1, "cloud-config")).toEqual({
      error: expect.stringMatching(/claimed by default\/dup, default\/master-1/),
    });
  });

  it("reports a Machine whose ClusterDesc is missing", async () => {
    const dir = await exampleCopy();
    await rm(join(dir, "cluster.yaml"));
    const store = await open(dir);
    expect(store.lookup.size).toBe(0);
    expect(store.report().machines[0]).toEqual(expect.objectContaining({ reason: "ClusterDescNotFound" }));
  });
});

describe("FolderStore.clusterDocument (ccts render --cluster)", () => {
  it("finds a ClusterDesc by name, and asks for the namespace when two share it", async () => {
    const dir = await exampleCopy();
    const cluster = await readFile(join(dir, "cluster.yaml"), "utf8");
    await writeFile(join(dir, "other.yaml"), cluster.replace("namespace: default", "namespace: other"));
    const store = await open(dir);
    expect(store.clusterDocument("lab", undefined, "dnsmasq.conf")).toEqual({
      error: "ClusterDescs default/lab, other/lab share the name lab: give --namespace",
    });
    const own = store.clusterDocument("lab", "default", "dnsmasq.conf");
    expect("content" in own && own.content).toContain("dhcp-host=52:54:00:12:34:01,10.20.0.11,master-1");
    // The other namespace has no Machines: no reservations.
    const other = store.clusterDocument("lab", "other", "dnsmasq.conf");
    expect("content" in other && other.content).not.toContain("dhcp-host=");
    await rm(dir, { recursive: true });
  });
});

describe("FolderStore rescans", () => {
  it("reload only when a file changed, not on every tick", async () => {
    const dir = await exampleCopy();
    const store = await open(dir);
    store.watch();
    const before = store.generation;
    await new Promise((r) => setTimeout(r, 700)); // three rescans of 200 ms
    expect(store.generation).toBe(before);
    const file = join(dir, "machines.yaml");
    await writeFile(
      file,
      (await readFile(file, "utf8")).replace("hostname: worker-2", "hostname: worker-2b"),
    );
    await waitFor("the edit to be served", () => served(store, "52:54:00:12:34:12")?.includes("worker-2b"));
    expect(store.generation).toBeGreaterThan(before);
  });
});
