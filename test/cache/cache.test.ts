import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DiskCache } from "../../src/cache/disk-cache.js";
import { DocumentIndex } from "../../src/cache/document-index.js";
import { entryFromConfigMap, type RenderedEntry } from "../../src/cache/rendered-entry.js";
import { MemoryLookup } from "../../src/server/memory-lookup.js";

const entry = (
  name: string,
  macs: string[],
  hash = "h1",
  content = `#cloud-config\nhostname: ${name}\n`,
): RenderedEntry => ({
  key: `ns/ccts-machine-${name}`,
  machine: `ns/${name}`,
  macs,
  addresses: ["10.0.0.1"],
  hash,
  documents: { "cloud-config": { contentType: "text/cloud-config; charset=utf-8", content } },
});

const body = (lookup: MemoryLookup, mac: string) =>
  lookup.machine(mac)?.documents.get("cloud-config")?.body.toString();

describe("entryFromConfigMap", () => {
  it("reads MACs from labels, content types and hash from annotations, the Machine from the owner", () => {
    const e = entryFromConfigMap({
      metadata: {
        name: "ccts-machine-a",
        namespace: "ns",
        labels: { "mac.ccts.io/52-54-00-00-00-01": "true", "mac.ccts.io/not-a-mac": "true", other: "x" },
        annotations: {
          "ccts.io/content-hash": "abc",
          "ccts.io/content-types": '{"ipxe":"text/plain"}',
          "ccts.io/addresses": '["10.0.0.7"]',
        },
        ownerReferences: [{ name: "a" }],
      },
      data: { ipxe: "#!ipxe\n", extra: "x" },
    });
    expect(e).toEqual({
      key: "ns/ccts-machine-a",
      machine: "ns/a",
      macs: ["52:54:00:00:00:01"],
      addresses: ["10.0.0.7"],
      hash: "abc",
      documents: {
        ipxe: { contentType: "text/plain", content: "#!ipxe\n" },
        extra: { contentType: "text/plain; charset=utf-8", content: "x" },
      },
    });
  });

  it("survives a hand-edited content-types annotation", () => {
    const e = entryFromConfigMap({
      metadata: { name: "x", annotations: { "ccts.io/content-types": "{oops" } },
      data: { a: "b" },
    });
    expect(e.documents.a?.contentType).toBe("text/plain; charset=utf-8");
  });
});

describe("DocumentIndex", () => {
  it("serves every MAC of an entry, follows changes and removals", () => {
    const lookup = new MemoryLookup();
    const index = new DocumentIndex(lookup);
    index.upsert(entry("a", ["52:54:00:00:00:01", "52:54:00:00:00:02"]));
    expect(body(lookup, "52:54:00:00:00:02")).toContain("hostname: a");
    index.upsert(entry("a", ["52:54:00:00:00:01"], "h2", "#cloud-config\nhostname: a2\n"));
    expect(body(lookup, "52:54:00:00:00:01")).toContain("a2");
    expect(lookup.machine("52:54:00:00:00:02")).toBeUndefined();
    index.remove("ns/ccts-machine-a");
    expect(lookup.size).toBe(0);
  });

  it("serves a MAC claimed by two entries to neither, and to the survivor when one goes", () => {
    const lookup = new MemoryLookup();
    const index = new DocumentIndex(lookup);
    index.upsert(entry("a", ["52:54:00:00:00:01"]));
    index.upsert(entry("b", ["52:54:00:00:00:01"]));
    expect(lookup.machine("52:54:00:00:00:01")).toBeUndefined();
    index.remove("ns/ccts-machine-a");
    expect(body(lookup, "52:54:00:00:00:01")).toContain("hostname: b");
  });

  it("reuses prepared bytes when an entry comes back unchanged", () => {
    const lookup = new MemoryLookup();
    const index = new DocumentIndex(lookup);
    index.upsert(entry("a", ["52:54:00:00:00:01"]));
    const first = lookup.machine("52:54:00:00:00:01");
    index.upsert(entry("a", ["52:54:00:00:00:01"]));
    expect(lookup.machine("52:54:00:00:00:01")).toBe(first);
    index.upsert(entry("a", ["52:54:00:00:00:01"], "h2"));
    expect(lookup.machine("52:54:00:00:00:01")).not.toBe(first);
    expect(lookup.machine("52:54:00:00:00:01")?.documents.get("cloud-config")?.etag).toBe(
      '"h2-cloud-config"',
    );
  });

  it("joins a Machine's private documents over its public ones, in the order of a Map of both", () => {
    const lookup = new MemoryLookup();
    const index = new DocumentIndex(lookup);
    const pub = entry("a", ["52:54:00:00:00:01"]);
    pub.documents["tls.pem"] = { contentType: "application/x-pem-file", content: "public placeholder" };
    pub.documents.ipxe = { contentType: "text/plain", content: "#!ipxe\n" };
    index.upsert(pub);
    index.upsert({
      key: "ns/ccts-machine-a-documents",
      machine: "ns/a",
      macs: [],
      addresses: [],
      hash: "p1",
      private: true,
      documents: {
        "key.pem": { contentType: "application/x-pem-file", content: "KEY" },
        "tls.pem": { contentType: "application/x-pem-file", content: "CERT" },
      },
    });
    const docs = lookup.machine("52:54:00:00:00:01")!.documents;
    const expected = new Map([
      ["cloud-config", pub.documents["cloud-config"]!.content],
      ["tls.pem", "CERT"],
      ["ipxe", "#!ipxe\n"],
      ["key.pem", "KEY"],
    ]);
    expect([...docs].map(([name, d]) => [name, d.body.toString()])).toEqual([...expected]);
    expect(docs.size).toBe(4);
    expect(docs.get("tls.pem")?.etag).toBe('"p1-tls.pem"');
    expect(docs.has("key.pem") && !docs.has("nope")).toBe(true);
    index.remove("ns/ccts-machine-a-documents");
    expect(lookup.machine("52:54:00:00:00:01")!.documents.get("tls.pem")?.body.toString()).toBe(
      "public placeholder",
    );
    expect(lookup.machine("52:54:00:00:00:01")!.documents.has("key.pem")).toBe(false);
  });
});

describe("DiskCache", () => {
  it("writes atomically, reloads, skips unchanged writes, removes, and ignores foreign files", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ccts-cache-"));
    const errors: string[] = [];
    const cache = new DiskCache(dir, (op, key) => errors.push(`${op} ${key}`));
    await cache.load(() => {});
    await cache.write(entry("a", ["52:54:00:00:00:01"]));
    await cache.write(entry("b", ["52:54:00:00:00:02"]));
    await cache.flush();
    expect((await readdir(dir)).sort()).toEqual(["ns_ccts-machine-a.json", "ns_ccts-machine-b.json"]);
    const mtimeBefore = await readFile(join(dir, "ns_ccts-machine-a.json"), "utf8");
    await cache.write(entry("a", ["52:54:00:00:00:01"]));
    await cache.remove("ns/ccts-machine-b");
    await cache.flush();
    expect(await readdir(dir)).toEqual(["ns_ccts-machine-a.json"]);
    expect(await readFile(join(dir, "ns_ccts-machine-a.json"), "utf8")).toBe(mtimeBefore);

    await writeFile(join(dir, "garbage.json"), "{not json");
    await writeFile(join(dir, "other.json"), '{"some":"thing"}');
    const reloaded: unknown[] = [];
    const count = await new DiskCache(dir, (op, key) => errors.push(`${op} ${key}`)).load((e) =>
      reloaded.push(e),
    );
    expect(reloaded).toEqual([entry("a", ["52:54:00:00:00:01"])]);
    expect(count).toBe(1);
    expect(errors.sort()).toEqual(["load garbage.json", "load other.json"]);
  });

  it("writes at most four files at once when thousands of entries arrive together, and loses none", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ccts-cache-"));
    const cache = new DiskCache(dir);
    await cache.load(() => {});
    const all = Array.from({ length: 2000 }, (_, i) =>
      entry(
        `m${i}`,
        [`52:54:00:00:${(i >> 8).toString(16).padStart(2, "0")}:${(i & 255).toString(16).padStart(2, "0")}`],
        `h${i}`,
      ),
    );
    for (const e of all) void cache.write(e);
    void cache.remove("ns/ccts-machine-m0");
    await cache.flush();
    expect(cache.peakInFlight).toBe(4);
    const reloaded: RenderedEntry[] = [];
    await new DiskCache(dir).load((e) => reloaded.push(e));
    expect(reloaded.length).toBe(1999);
    expect(reloaded.find((e) => e.key === "ns/ccts-machine-m1999")).toEqual(all[1999]);
  });

  it("tells when at most a given number of writes wait to start (a relist's backpressure)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ccts-cache-"));
    const cache = new DiskCache(dir);
    await cache.load(() => {});
    for (let i = 0; i < 300; i++) void cache.write(entry(`w${i}`, ["52:54:00:00:10:01"], `h${i}`));
    expect(await cache.caughtUp(100, 60_000)).toBe(true);
    const written = (await readdir(dir)).filter((f) => f.endsWith(".json")).length;
    // 300 queued, at most 100 waiting and 4 in flight: at least 196 done, and not all of them.
    expect(written).toBeGreaterThanOrEqual(196);
    expect(written).toBeLessThan(300);
    // Given no time, it says it is not caught up rather than wait.
    expect(await cache.caughtUp(0, 0)).toBe(false);
    await cache.flush();
    expect(await cache.caughtUp(0, 0)).toBe(true);
  });

  it("leaves no temporary file behind", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ccts-cache-"));
    const cache = new DiskCache(dir);
    await cache.load(() => {});
    await cache.write(entry("big", ["52:54:00:00:00:03"], "h", `#cloud-config\n${"x: y\n".repeat(200_000)}`));
    expect(await readdir(dir)).toEqual(["ns_ccts-machine-big.json"]);
  });
});
