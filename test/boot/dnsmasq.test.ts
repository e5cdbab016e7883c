// The dnsmasq configuration per ClusterDesc (renderDnsmasq), for the example cluster and the
// imported legacy cluster-desc.yml: `dnsmasq --test -C FILE` (syntax only; no dnsmasq is started),
// plus the reservations and the PXE/iPXE chain lines; and GET /dnsmasq.conf through MemoryLookup.
import { execFile } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import yaml from "js-yaml";
import { afterAll, describe, expect, it } from "vitest";
import type { ClusterDesc, Machine } from "../../src/api/types.js";
import { renderDnsmasq } from "../../src/render/index.js";
import { buildApp } from "../../src/server/app.js";
import { contentDocument, MemoryLookup } from "../../src/server/memory-lookup.js";
import { FolderStore } from "../../src/store/folder-store.js";
import { loadExamples } from "../render/examples.js";
import { EXAMPLE_DIR } from "../support/kube.js";
import { runCli } from "../support/processes.js";
import { LEGACY_CLUSTER_DESC as LEGACY } from "../support/shared.js";

const run = promisify(execFile);
const work = mkdtempSync(join(tmpdir(), "ccts-dnsmasq-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function render(cluster: ClusterDesc, machines: Machine[]): string {
  const r = renderDnsmasq(cluster, machines);
  if (!r.ok) throw new Error(r.failure.message);
  expect(r.documents[0]!.output).toBe("dnsmasq.conf");
  return r.documents[0]!.content;
}

async function dnsmasqTest(conf: string, name: string): Promise<{ ok: boolean; out: string }> {
  const file = join(work, name);
  writeFileSync(file, conf);
  return run("dnsmasq", ["--test", "-C", file]).then(
    (r) => ({ ok: true, out: r.stdout + r.stderr }),
    (e: { stdout?: string; stderr?: string }) => ({ ok: false, out: `${e.stdout}${e.stderr}` }),
  );
}

const lines = (conf: string) => conf.split("\n");

describe("renderDnsmasq + dnsmasq --test", () => {
  const example = loadExamples().find((s) => s.folder === "cluster")!;
  const lab = example.clusters[0]!;

  it("the example cluster: syntax, reservations, DNS records, chain to /boot.ipxe", async () => {
    const conf = render(lab, example.machines);
    const check = await dnsmasqTest(conf, "lab.conf");
    expect(check.ok, check.out).toBe(true);
    expect(check.out).toContain("syntax check OK");
    const l = lines(conf);
    for (const m of example.machines) {
      expect(l).toContain(`dhcp-host=${m.spec.mac},${m.spec.ip},${m.spec.hostname}`);
      expect(l).toContain(`host-record=${m.spec.hostname}.lab.example.org,${m.spec.hostname},${m.spec.ip}`);
    }
    expect(l).toContain("dhcp-range=10.20.0.100,10.20.0.200,255.255.255.0,12h");
    expect(l).toContain("dhcp-match=set:ipxe,175");
    expect(l).toContain("dhcp-boot=tag:ipxe,http://10.20.0.2:8080/boot.ipxe");
    expect(l).toContain("dhcp-boot=tag:!ipxe,tag:!efi64,undionly.kpxe");
    expect(l).toContain("enable-tftp");
    expect(l).toContain("domain=lab.example.org");
    expect(l).toContain("server=9.9.9.9");
    expect(l).toContain("dhcp-option=option:router,10.20.0.1");
    expect(l).toContain("dhcp-option=option:dns-server,10.20.0.2");
  });

  it("the imported legacy cluster-desc.yml (machines without IPs get MAC,HOSTNAME)", async () => {
    const imported = await runCli(["import", LEGACY, "--name", "lab"]);
    expect(imported.code, imported.stderr).toBe(0);
    const docs = yaml.loadAll(imported.stdout) as (ClusterDesc | Machine)[];
    const cluster = docs.find((d): d is ClusterDesc => d.kind === "ClusterDesc")!;
    const machines = docs.filter((d): d is Machine => d.kind === "Machine");
    const conf = render(cluster, machines);
    const check = await dnsmasqTest(conf, "legacy.conf");
    expect(check.ok, check.out).toBe(true);
    const hosts = lines(conf).filter((x) => x.startsWith("dhcp-host="));
    expect(hosts).toHaveLength(machines.length);
    for (const m of machines) {
      const mac = m.spec.mac.toLowerCase().replaceAll("-", ":");
      const host = m.spec.hostname ?? mac.replaceAll(":", "-");
      const want = m.spec.ip ? `dhcp-host=${mac},${m.spec.ip},${host}` : `dhcp-host=${mac},${host}`;
      expect(hosts).toContain(want);
    }
    expect(conf).toContain("dhcp-boot=tag:ipxe,");
  });

  it("dnsmasq --test is not vacuous", async () => {
    expect((await dnsmasqTest("dhcp-range=nonsense\n", "bad.conf")).ok).toBe(false);
  });

  it("skips duplicated MACs, fails two Machines with one IP, and keeps other clusters out", () => {
    const m = (name: string, mac: string, ip?: string, clusterDesc = "lab"): Machine => ({
      apiVersion: "ccts.io/v1alpha1",
      kind: "Machine",
      metadata: { name, namespace: "default" },
      spec: { clusterDesc, mac, ...(ip ? { ip } : {}) },
    });
    const conf = render(lab, [
      m("a", "52:54:00:00:00:01"),
      m("b", "52:54:00:00:00:01"),
      m("c", "52:54:00:00:00:03", "10.20.0.50"),
      m("d", "52:54:00:00:00:04", undefined, "other"),
    ]);
    const hosts = lines(conf).filter((x) => x.startsWith("dhcp-host="));
    expect(hosts).toEqual(["dhcp-host=52:54:00:00:00:03,10.20.0.50,52-54-00-00-00-03"]);
    const dup = renderDnsmasq(lab, [
      m("a", "52:54:00:00:00:01", "10.20.0.9"),
      m("b", "52:54:00:00:00:02", "10.20.0.9"),
    ]);
    expect(dup.ok).toBe(false);
    if (!dup.ok) expect(dup.failure).toMatchObject({ reason: "DuplicateIP", cluster: "default/lab" });
  });

  it("counts interface MACs as claims on boot MACs, and names both Machines of a duplicate IP", () => {
    const m = (name: string, mac: string, ip?: string, interfaces: string[] = []): Machine => ({
      apiVersion: "ccts.io/v1alpha1",
      kind: "Machine",
      metadata: { name, namespace: "default" },
      spec: {
        clusterDesc: "lab",
        mac,
        ...(ip ? { ip } : {}),
        interfaces: interfaces.map((mac, i) => ({ name: `eth${i + 1}`, mac })),
      },
    });
    const hostsOf = (machines: Machine[]) =>
      lines(render(lab, machines))
        .filter((x) => x.startsWith("dhcp-host="))
        .map((x) => x.split(",")[0]);
    // e's second interface is f's boot MAC: f is not served; e is.
    expect(
      hostsOf([m("e", "52:54:00:00:00:05", undefined, ["52:54:00:00:00:06"]), m("f", "52:54:00:00:00:06")]),
    ).toEqual(["dhcp-host=52:54:00:00:00:05"]);
    // A Machine whose interface repeats its own boot MAC keeps its reservation: the server serves
    // it too (one MAC label on one ConfigMap).
    expect(hostsOf([m("g", "52:54:00:00:00:07", undefined, ["52:54:00:00:00:07"])])).toEqual([
      "dhcp-host=52:54:00:00:00:07",
    ]);
    // Even written differently, and beside another Machine claiming it on an interface.
    expect(
      hostsOf([
        m("g", "52:54:00:00:00:07", undefined, ["52-54-00-00-00-07"]),
        m("k", "52:54:00:00:00:0d", undefined, ["52:54:00:00:00:07"]),
      ]),
    ).toEqual(["dhcp-host=52:54:00:00:00:0d"]);
    // Two interfaces sharing a MAC that is nobody's boot MAC take no reservation away.
    expect(
      hostsOf([
        m("h", "52:54:00:00:00:08", undefined, ["52:54:00:00:00:aa"]),
        m("i", "52:54:00:00:00:09", undefined, ["52:54:00:00:00:aa"]),
      ]),
    ).toEqual(["dhcp-host=52:54:00:00:00:08", "dhcp-host=52:54:00:00:00:09"]);
    // Given in any order, the Machines of a duplicate IP are named in name order.
    const dup = renderDnsmasq(lab, [
      m("z", "52:54:00:00:00:0c", "10.20.0.7"),
      m("x", "52:54:00:00:00:0a", "10.20.0.8"),
      m("y", "52:54:00:00:00:0b", "10.20.0.7"),
    ]);
    expect(dup.ok).toBe(false);
    if (!dup.ok)
      expect(dup.failure.message).toBe(
        "ClusterDesc default/lab: machines default/y and default/z both have IP 10.20.0.7",
      );
  });

  it("a template error names the ClusterDesc, template and line", () => {
    const r = renderDnsmasq(lab, [], {
      output: "dnsmasq.conf",
      origin: "inline:dnsmasq.conf",
      text: "x\n{{cluster.nam}}\n",
    });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.failure).toMatchObject({ reason: "TemplateError", line: 2, cluster: "default/lab" });
      expect(r.failure.message).toContain("inline:dnsmasq.conf");
    }
    const bad = renderDnsmasq(lab, [], {
      output: "dnsmasq.conf",
      origin: "inline:x",
      text: "  indented=1\n",
    });
    expect(bad.ok ? undefined : bad.failure.reason).toBe("InvalidOutput");
  });
});

describe("a ClusterDesc's own dnsmasq.conf template (ccts serve --dir)", () => {
  // DHCP only beside an existing DNS server, on one interface: a common need the built-in lacks.
  const own = [
    "port=0",
    "interface=eth1",
    "dhcp-range={{cluster.network.dhcpRange.start}},{{cluster.network.dhcpRange.end}},12h",
    "{{#each machines}}",
    "dhcp-host={{mac}},{{ip}},{{hostname}}",
    "{{/each}}",
    "",
  ].join("\n");
  const templatesConfigMap = (text: string) =>
    yaml.dump({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "lab-dnsmasq", namespace: "default" },
      data: { "dnsmasq.conf": text },
    });

  it("replaces the built-in one, keeps the Machine outputs, and keeps the last good on a bad edit", async () => {
    const dir = mkdtempSync(join(work, "folder-"));
    cpSync(EXAMPLE_DIR, dir, { recursive: true });
    const clusterFile = join(dir, "cluster.yaml");
    writeFileSync(
      clusterFile,
      readFileSync(clusterFile, "utf8").replace(
        "\nspec:\n",
        "\nspec:\n  templates:\n    - { output: dnsmasq.conf, configMapKeyRef: { name: lab-dnsmasq, key: dnsmasq.conf } }\n",
      ),
    );
    writeFileSync(join(dir, "dnsmasq-template.yaml"), templatesConfigMap(own));
    const store = new FolderStore(dir);
    try {
      await store.load();
      expect(store.report().clusters).toEqual([]);
      const conf = () => store.lookup.clusters()[0]!.documents.get("dnsmasq.conf")!.body.toString();
      const good = conf();
      expect(store.clusterDocument("lab", "default", "dnsmasq.conf")).toEqual({ content: good });
      expect(lines(good).slice(0, 3)).toEqual([
        "port=0",
        "interface=eth1",
        "dhcp-range=10.20.0.100,10.20.0.200,12h",
      ]);
      expect(good).toContain("dhcp-host=52:54:00:12:34:01,10.20.0.11,master-1");
      const check = await dnsmasqTest(good, "own.conf");
      expect(check.ok, check.out).toBe(true);
      // The Machines keep the built-in outputs and get no dnsmasq.conf of their own.
      const outputs = [...store.lookup.machine("52:54:00:12:34:01")!.documents.keys()];
      expect(outputs).toContain("cloud-config");
      expect(outputs).not.toContain("dnsmasq.conf");

      writeFileSync(join(dir, "dnsmasq-template.yaml"), templatesConfigMap("port=0\n  indented=1\n"));
      await store.load();
      expect(store.report().clusters).toEqual([
        expect.objectContaining({ cluster: "default/lab", reason: "InvalidOutput" }),
      ]);
      expect(conf()).toBe(good);
      // `ccts render --cluster` says why rather than printing the last good one.
      expect(store.clusterDocument("lab", undefined, "dnsmasq.conf")).toEqual({
        error: expect.stringMatching(/output line 2: not a dnsmasq option line/),
      });

      rmSync(join(dir, "dnsmasq-template.yaml"));
      await store.load();
      expect(store.report().clusters).toEqual([
        expect.objectContaining({
          reason: "TemplateNotFound",
          message: expect.stringContaining("lab-dnsmasq"),
        }),
      ]);
      expect(conf()).toBe(good);
      // The Machines do not depend on the dnsmasq template's ConfigMap.
      expect(store.report().machines).toEqual([]);
    } finally {
      store.close();
    }
  });
});

describe("GET /dnsmasq.conf", () => {
  const doc = (text: string) =>
    new Map([["dnsmasq.conf", contentDocument(text, "text/plain; charset=utf-8")]]);

  it("chooses the cluster by ?cluster= and ?namespace=, or the only one", async () => {
    const lookup = new MemoryLookup();
    lookup.setReady(true);
    lookup.replaceClusters([{ namespace: "default", name: "lab", documents: doc("# lab\n") }]);
    const app = buildApp({ lookup });
    const get = async (q: string) => {
      const r = await app.inject({ url: `/dnsmasq.conf${q}` });
      return [r.statusCode, r.body];
    };
    expect(await get("")).toEqual([200, "# lab\n"]);
    expect(await get("?cluster=lab")).toEqual([200, "# lab\n"]);
    expect(await get("?cluster=lab&namespace=default")).toEqual([200, "# lab\n"]);
    expect((await get("?cluster=nope"))[0]).toBe(404);
    expect((await get("?cluster=lab&cluster=lab"))[0]).toBe(400);

    lookup.replaceClusters([
      { namespace: "default", name: "lab", documents: doc("# lab\n") },
      { namespace: "prod", name: "lab", documents: doc("# prod lab\n") },
      { namespace: "prod", name: "edge", documents: doc("# edge\n") },
    ]);
    expect((await get(""))[0]).toBe(400);
    expect((await get("?cluster=lab"))[0]).toBe(400);
    expect(await get("?cluster=lab&namespace=prod")).toEqual([200, "# prod lab\n"]);
    expect(await get("?cluster=edge")).toEqual([200, "# edge\n"]);
    const etag = (await app.inject({ url: "/dnsmasq.conf?cluster=edge" })).headers.etag as string;
    const r304 = await app.inject({ url: "/dnsmasq.conf?cluster=edge", headers: { "if-none-match": etag } });
    expect(r304.statusCode).toBe(304);
    await app.close();
  });

  it("404 without per-cluster documents; 503 while not ready", async () => {
    const lookup = new MemoryLookup();
    const app = buildApp({ lookup });
    expect((await app.inject({ url: "/dnsmasq.conf" })).statusCode).toBe(503);
    lookup.setReady(true);
    expect((await app.inject({ url: "/dnsmasq.conf" })).statusCode).toBe(404);
    await app.close();
  });
});
