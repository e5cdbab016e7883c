// OpenStack ConfigDrive: GET /configdrive/:mac.iso from `ccts serve`, extracted with xorriso and
// read with cloud-init's own reader (read_config_drive; never get_data(), which writes to the host),
// and its ISO9660 volume checked with isoinfo. The builder's cache, concurrency bound and failure
// path run against buildApp + MemoryLookup.
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigDriveBuilder, configDriveLayout } from "../../src/boot/configdrive.js";
import { buildApp } from "../../src/server/app.js";
import { MemoryLookup, servedDocument } from "../../src/server/memory-lookup.js";
import { type Served, serveExamples } from "./serve.js";

const run = promisify(execFile);
const PYTHON = "/usr/bin/python3";

const READ_CONFIG_DRIVE = `
import base64, json, sys
from cloudinit.sources.DataSourceConfigDrive import read_config_drive
from cloudinit.sources.helpers import openstack
r = read_config_drive(sys.argv[1])
b = lambda x: None if x is None else base64.b64encode(x if isinstance(x, bytes) else x.encode()).decode()
nd = r.get("networkdata")
# known_macs: the NICs the machine has (MAC -> name), as cloud-init would find them on the system.
known = {l["ethernet_mac_address"]: "eth%d" % i for i, l in enumerate(nd["links"])} if nd else {}
net = openstack.convert_net_json(nd, known_macs=known) if nd else None
print(json.dumps({"metadata": r["metadata"], "userdata": b(r["userdata"]), "vendordata": r.get("vendordata"),
  "files": {k: b(v) for k, v in r["files"].items()}, "network": net, "version": r["version"]}))
`;

interface Drive {
  metadata: Record<string, unknown>;
  userdata: string;
  vendordata: unknown;
  files: Record<string, string>;
  network: {
    version: number;
    config: { type: string; name?: string; mac_address?: string; subnets?: unknown[] }[];
  } | null;
}

const work = await mkdtemp(join(tmpdir(), "ccts-configdrive-test-"));
let s: Served;
beforeAll(async () => {
  s = await serveExamples();
});
afterAll(async () => {
  await s?.stop();
  await rm(work, { recursive: true, force: true });
});

async function readIso(iso: Buffer, name: string): Promise<{ drive: Drive; isoinfo: string }> {
  const file = join(work, `${name}.iso`);
  const dir = join(work, name);
  await writeFile(file, iso);
  await run("xorriso", ["-osirrox", "on", "-indev", file, "-extract", "/", dir]);
  const { stdout: isoinfo } = await run("isoinfo", ["-d", "-i", file]);
  const { stdout } = await run(PYTHON, ["-c", READ_CONFIG_DRIVE, dir], { timeout: 60_000 });
  const drive = JSON.parse(stdout) as Drive;
  drive.userdata = Buffer.from(drive.userdata, "base64").toString("utf8");
  for (const k of Object.keys(drive.files))
    drive.files[k] = Buffer.from(drive.files[k]!, "base64").toString();
  return { drive, isoinfo };
}

describe("GET /configdrive/:mac.iso read by cloud-init's ConfigDrive reader", () => {
  it.each([
    ["52:54:00:12:34:01", "master-1", "10.20.0.11"],
    ["525400123412", "worker-2", "10.20.0.22"],
  ])("%s: a config-2 ISO with uuid, hostname, user_data and network_data", async (mac, hostname, ip) => {
    const res = await fetch(`${s.base}/configdrive/${mac}.iso`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/x-iso9660-image");
    const etag = res.headers.get("etag")!;
    expect(etag).toMatch(/^"cd-[0-9a-f]{32}"$/);
    const { drive, isoinfo } = await readIso(Buffer.from(await res.arrayBuffer()), hostname);

    expect(isoinfo).toMatch(/^Volume id: config-2$/m);
    expect(isoinfo).toMatch(/Rock Ridge signatures version \d+ found/);
    expect(isoinfo).toMatch(/Joliet with UCS level \d+ found/);

    const hex = mac.replace(/[:-]/g, "").toLowerCase();
    expect(drive.metadata).toMatchObject({
      uuid: `ccts-${hex}`,
      "instance-id": `ccts-${hex}`,
      hostname,
      "local-hostname": hostname,
      name: hostname,
    });
    const cloudConfig = await (await fetch(`${s.base}/cloud-config/${mac}`)).text();
    expect(drive.userdata).toBe(cloudConfig);
    expect(drive.vendordata).toEqual({ "cloud-init": expect.stringMatching(/^#cloud-config\n/) });
    const machineJson = JSON.parse(drive.files["/etc/ccts/machine.json"]!) as Record<string, unknown>;
    expect(machineJson).toMatchObject({ hostname, ip, mac: hex.match(/../g)!.join(":") });
    // cloud-init turns network_data.json into its own network config: a static boot interface.
    const phy = drive.network!.config.find((c) => c.type === "physical")!;
    expect(phy).toMatchObject({ name: "eth0", mac_address: hex.match(/../g)!.join(":") });
    expect(JSON.stringify(phy.subnets)).toContain(ip);

    // The same image again: from the cache with the same ETag, and 304 on revalidation.
    const again = await fetch(`${s.base}/configdrive/${mac}.iso`);
    expect(again.headers.get("etag")).toBe(etag);
    await again.arrayBuffer();
    const cached = await fetch(`${s.base}/configdrive/${mac}.iso`, { headers: { "if-none-match": etag } });
    expect(cached.status).toBe(304);
    // If-None-Match as for every document (src/server/conditional.ts): `*` alone matches, `*` in a
    // list does not (RFC 9110), a weak tag does.
    const status = async (inm: string) => {
      const r = await fetch(`${s.base}/configdrive/${mac}.iso`, { headers: { "if-none-match": inm } });
      await r.arrayBuffer();
      return r.status;
    };
    expect(await status("*")).toBe(304);
    expect(await status(`W/${etag}`)).toBe(304);
    expect(await status('"other", *')).toBe(200);
  });

  it("404 for an unknown MAC, 400 for a malformed one, 404 without .iso", async () => {
    expect((await fetch(`${s.base}/configdrive/52:54:00:00:00:99.iso`)).status).toBe(404);
    expect((await fetch(`${s.base}/configdrive/52:54.iso`)).status).toBe(400);
    expect((await fetch(`${s.base}/configdrive/52:54:00:12:34:01`)).status).toBe(404);
  });
});

function lookupWith(docs: Record<string, string>): MemoryLookup {
  const lookup = new MemoryLookup();
  lookup.set("52:54:00:00:00:01", {
    machine: "default/a",
    documents: new Map(
      Object.entries(docs).map(([name, text]) => [name, servedDocument(text, "text/plain", `h1-${name}`)]),
    ),
  });
  lookup.setReady(true);
  return lookup;
}

const META = JSON.stringify({
  uuid: "iid-a",
  hostname: "a",
  name: "a",
  files: [{ path: "/x", content: "x\n" }],
});

describe("ConfigDriveBuilder behind the app", () => {
  it("lays out content/NNNN for files and user_data from cloud-config", () => {
    const files = configDriveLayout(
      new Map([
        ["configdrive-meta_data.json", Buffer.from(META)],
        ["cloud-config", Buffer.from("#cloud-config\n")],
      ]),
    )!;
    expect(files.map((f) => f.path)).toEqual([
      "openstack/content/0000",
      "openstack/latest/meta_data.json",
      "openstack/latest/user_data",
    ]);
    expect(JSON.parse(files[1]!.content.toString())).toMatchObject({
      files: [{ path: "/x", content_path: "/content/0000" }],
    });
    expect(configDriveLayout(new Map([["cloud-config", Buffer.from("#cloud-config\n")]]))).toBeUndefined();
  });

  it("builds once per content hash, shares concurrent builds, and bounds them", async () => {
    const builder = new ConfigDriveBuilder({ concurrency: 1 });
    const app = buildApp({
      lookup: lookupWith({ "configdrive-meta_data.json": META }),
      configDrive: builder,
    });
    const get = () => app.inject({ url: "/configdrive/52-54-00-00-00-01.iso" });
    const first = await Promise.all([get(), get(), get()]);
    for (const r of first) expect(r.statusCode).toBe(200);
    expect(new Set(first.map((r) => r.headers.etag)).size).toBe(1);
    expect(builder.builds).toBe(1);
    expect((await get()).statusCode).toBe(200);
    expect(builder.builds).toBe(1);
    // Two different images with concurrency 1 are built one after the other, both succeed.
    const other = new ConfigDriveBuilder({ concurrency: 1 });
    const [a, b] = await Promise.all([
      other.get("k1", () => configDriveLayout(new Map([["configdrive-meta_data.json", Buffer.from(META)]]))!),
      other.get("k2", () => configDriveLayout(new Map([["configdrive-meta_data.json", Buffer.from(META)]]))!),
    ]);
    expect(a.length).toBeGreaterThan(0);
    expect(b.length).toBeGreaterThan(0);
    expect(other.builds).toBe(2);
    await app.close();
  });

  it("a failed build is a 500 with a log line; the server stays healthy", async () => {
    const lines: string[] = [];
    const logger = pino({ level: "info" }, { write: (l: string) => lines.push(l) });
    const builder = new ConfigDriveBuilder({ tool: "/nonexistent/xorriso" });
    const app = buildApp({
      lookup: lookupWith({ "configdrive-meta_data.json": META }),
      configDrive: builder,
      logger,
    });
    const r = await app.inject({ url: "/configdrive/52:54:00:00:00:01.iso" });
    expect(r.statusCode).toBe(500);
    expect(r.body).toBe("config drive could not be built\n");
    expect(r.headers.etag).toBeUndefined();
    expect(lines.join("")).toContain("config drive of default/a failed to build");
    expect((await app.inject({ url: "/healthz" })).statusCode).toBe(200);
    // Not cached: the next request tries again (and fails again).
    expect((await app.inject({ url: "/configdrive/52:54:00:00:00:01.iso" })).statusCode).toBe(500);
    // A machine without the output: 404, and malformed meta_data: 500 without running a tool.
    const none = buildApp({ lookup: lookupWith({ "cloud-config": "#cloud-config\n" }) });
    expect((await none.inject({ url: "/configdrive/52:54:00:00:00:01.iso" })).statusCode).toBe(404);
    const bad = buildApp({
      lookup: lookupWith({ "configdrive-meta_data.json": "{}" }),
      configDrive: builder,
    });
    expect((await bad.inject({ url: "/configdrive/52:54:00:00:00:01.iso" })).statusCode).toBe(500);
    await Promise.all([app.close(), none.close(), bad.close()]);
  });

  it("genisoimage builds an equivalent image", async () => {
    const builder = new ConfigDriveBuilder({ tool: "genisoimage" });
    const iso = await builder.get(
      "g",
      () =>
        configDriveLayout(
          new Map([
            ["configdrive-meta_data.json", Buffer.from(META)],
            ["cloud-config", Buffer.from("#cloud-config\nhostname: a\n")],
          ]),
        )!,
    );
    const { drive, isoinfo } = await readIso(iso, "genisoimage");
    expect(isoinfo).toMatch(/^Volume id: config-2$/m);
    expect(isoinfo).toMatch(/Joliet/);
    expect(drive.metadata).toMatchObject({ "instance-id": "iid-a", "local-hostname": "a" });
    expect(drive.userdata).toBe("#cloud-config\nhostname: a\n");
    expect(drive.files).toEqual({ "/x": "x\n" });
  });
});
