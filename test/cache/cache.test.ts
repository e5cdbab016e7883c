import { execFile } from "node:child_process";
import { appendFile, mkdtemp, readdir, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { DiskCache, JOURNAL } from "../../src/cache/disk-cache.js";
import { DocumentIndex } from "../../src/cache/document-index.js";
import { entryFromConfigMap, type RenderedEntry } from "../../src/cache/rendered-entry.js";
import { MemoryLookup } from "../../src/server/memory-lookup.js";

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("../..", import.meta.url)).replace(/\/$/, "");

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

  it.each(["{oops", "null", "[1]"])("survives a hand-edited content-types annotation (%s)", (annotation) => {
    const e = entryFromConfigMap({
      metadata: { name: "x", annotations: { "ccts.io/content-types": annotation } },
      data: { a: "b" },
    });
    expect(e.documents.a?.contentType).toBe("text/plain; charset=utf-8");
  });

  it("serves a content type that could not stand in a header as text", () => {
    const types = { a: "text/plain\r\nx-injected: 1", b: 42, c: "", d: "application/yaml; charset=utf-8" };
    const e = entryFromConfigMap({
      metadata: { name: "x", annotations: { "ccts.io/content-types": JSON.stringify(types) } },
      data: { a: "1", b: "2", c: "3", d: "4" },
    });
    expect(Object.values(e.documents).map((d) => d.contentType)).toEqual([
      "text/plain; charset=utf-8",
      "text/plain; charset=utf-8",
      "text/plain; charset=utf-8",
      "application/yaml; charset=utf-8",
    ]);
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
  const journal = (dir: string) => join(dir, JOURNAL);
  const reload = async (dir: string, errors: string[] = []) => {
    const entries: RenderedEntry[] = [];
    const cache = new DiskCache(dir, (op, key, err) => errors.push(`${op} ${key}: ${String(err)}`));
    const count = await cache.load((e) => entries.push(e));
    expect(count).toBe(entries.length);
    return { cache, entries };
  };

  it("appends to one journal, reloads the last record of each key, skips unchanged writes, removes", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ccts-cache-"));
    const errors: string[] = [];
    const cache = new DiskCache(dir, (op, key) => errors.push(`${op} ${key}`));
    await cache.load(() => {});
    await cache.write(entry("a", ["52:54:00:00:00:01"]));
    await cache.write(entry("b", ["52:54:00:00:00:02"]));
    await cache.write(entry("c", ["52:54:00:00:00:03"]));
    expect(await readdir(dir)).toEqual([JOURNAL]);
    expect((await stat(journal(dir))).mode & 0o777).toBe(0o600);
    const before = (await stat(journal(dir))).size;
    await cache.write(entry("a", ["52:54:00:00:00:01"]));
    expect((await stat(journal(dir))).size).toBe(before);
    await cache.write(entry("c", ["52:54:00:00:00:03"], "h2", "#cloud-config\nhostname: c2\n"));
    await cache.remove("ns/ccts-machine-b");
    await cache.remove("ns/never-written");
    await cache.close();
    expect(cache.stats()).toMatchObject({ entries: 2 });

    const { entries } = await reload(dir);
    expect(entries).toEqual([
      entry("a", ["52:54:00:00:00:01"]),
      entry("c", ["52:54:00:00:00:03"], "h2", "#cloud-config\nhostname: c2\n"),
    ]);
    expect(errors).toEqual([]);
  });

  it("appends entries that arrive together with one write, and loses none", async () => {
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
    // ~600 KB of records: one batch (the batch buffer holds 1 MiB).
    expect(cache.stats().batches).toBe(1);
    const { entries } = await reload(dir);
    expect(entries.length).toBe(1999);
    expect(entries.find((e) => e.key === "ns/ccts-machine-m1999")).toEqual(all[1999]);
  });

  it("appends a record larger than its batch buffer on its own, between the others", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ccts-cache-"));
    const cache = new DiskCache(dir);
    await cache.load(() => {});
    const huge = entry("huge", ["52:54:00:00:30:01"], "h", `#cloud-config\n${"x: y\n".repeat(400_000)}`);
    void cache.write(entry("before", ["52:54:00:00:30:02"]));
    void cache.write(huge);
    void cache.write(entry("after", ["52:54:00:00:30:03"]));
    await cache.close();
    expect(cache.stats().batches).toBe(3);
    const { entries } = await reload(dir);
    expect(entries.map((e) => e.key)).toEqual([
      "ns/ccts-machine-before",
      "ns/ccts-machine-huge",
      "ns/ccts-machine-after",
    ]);
    expect(entries[1]).toEqual(huge);
  });

  it("tells when at most a given number of records wait to be written (a relist's backpressure)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ccts-cache-"));
    const cache = new DiskCache(dir);
    await cache.load(() => {});
    for (let i = 0; i < 300; i++) void cache.write(entry(`w${i}`, ["52:54:00:00:10:01"], `h${i}`));
    // Given no time, it says it is not caught up rather than wait.
    expect(await cache.caughtUp(100, 0)).toBe(false);
    expect(await cache.caughtUp(100, 60_000)).toBe(true);
    // Caught up to 0: every record is on disk, not only taken from the queue.
    expect(await cache.caughtUp(0, 60_000)).toBe(true);
    expect((await reload(dir)).entries.length).toBe(300);
    void cache.write(entry("late", ["52:54:00:00:10:02"]));
    expect(await cache.caughtUp(0, 0)).toBe(false);
    await cache.close();
    expect(await cache.caughtUp(0, 0)).toBe(true);
  });

  it("rewrites the journal with the live records once replaced ones outweigh them", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ccts-cache-"));
    const cache = new DiskCache(dir);
    await cache.load(() => {});
    const big = (name: string, round: number) =>
      entry(
        name,
        ["52:54:00:00:20:01"],
        `h${round}`,
        `#cloud-config\n# ${round}\n${"x: y\n".repeat(20_000)}`,
      );
    // 20 entries of 100 KB, rewritten 20 times: 40 MB appended, 2 MB live.
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 20; i++) void cache.write(big(`e${i}`, round));
      await cache.flush();
    }
    await cache.remove("ns/ccts-machine-e0");
    await cache.close();
    expect(cache.compactions).toBeGreaterThanOrEqual(1);
    const { liveBytes, garbageBytes } = cache.stats();
    expect((await stat(journal(dir))).size).toBe(liveBytes + garbageBytes);
    expect(garbageBytes).toBeLessThan(33 * 2 ** 20);
    expect(await readdir(dir)).toEqual([JOURNAL]);
    const { entries } = await reload(dir);
    expect(entries.map((e) => e.key).sort()).toEqual(
      Array.from({ length: 19 }, (_, i) => `ns/ccts-machine-e${i + 1}`).sort(),
    );
    expect(entries.every((e) => e.hash === "h19")).toBe(true);
  });

  it("cuts off a torn last record, reports it, and appends cleanly after it", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ccts-cache-"));
    const cache = new DiskCache(dir);
    await cache.load(() => {});
    await cache.write(entry("a", ["52:54:00:00:00:01"]));
    await cache.close();
    // A crash in the middle of an append.
    await appendFile(journal(dir), 'ns/ccts-machine-b\t{"key":"ns/ccts-machine-b","mac');
    const errors: string[] = [];
    const first = await reload(dir, errors);
    expect(first.entries).toEqual([entry("a", ["52:54:00:00:00:01"])]);
    expect(errors).toEqual([`load ${JOURNAL}: Error: torn last record (49 bytes) cut off`]);
    await first.cache.write(entry("c", ["52:54:00:00:00:03"]));
    await first.cache.close();
    const errorsAfter: string[] = [];
    expect((await reload(dir, errorsAfter)).entries.map((e) => e.key)).toEqual([
      "ns/ccts-machine-a",
      "ns/ccts-machine-c",
    ]);
    expect(errorsAfter).toEqual([]);
  });

  it("reports a write the journal cannot take, keeps going, and tries the entry again later", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ccts-cache-"));
    const errors: string[] = [];
    const cache = new DiskCache(dir, (op, key, err) =>
      errors.push(`${op} ${key}: ${(err as Error).message}`),
    );
    await cache.load(() => {});
    await cache.write(entry("a", ["52:54:00:00:00:01"]));
    // The descriptor goes away underneath (as a disk that fails every write would): each write fails.
    await (cache as unknown as { file: { close(): Promise<void> } }).file.close();
    await cache.write(entry("b", ["52:54:00:00:00:02"]));
    expect(errors).toEqual([expect.stringMatching(/^write ns\/ccts-machine-b: /)]);
    expect(cache.stats()).toMatchObject({ entries: 1 });
    // Not remembered as written: the same entry is tried (and reported) again, not skipped.
    await cache.write(entry("b", ["52:54:00:00:00:02"]));
    expect(errors.length).toBe(2);
    // What was written before is intact.
    expect((await reload(dir)).entries).toEqual([entry("a", ["52:54:00:00:00:01"])]);
  });

  it("leaves no torn record behind a short write (a file size limit, as a full disk)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ccts-cache-"));
    const small = entry("a", ["52:54:00:00:00:01"]);
    const big = entry("b", ["52:54:00:00:00:02"], "h1", `#cloud-config\n# ${"x".repeat(20_000)}\n`);
    // In a child process whose file size limit (RLIMIT_FSIZE) is 8 KiB past the first record: the
    // kernel writes part of the second record's line, then refuses the rest (EFBIG).
    const child = `
      import { stat } from "node:fs/promises";
      import { DiskCache, JOURNAL } from ${JSON.stringify(`${ROOT}/dist/cache/disk-cache.js`)};
      const errors = [];
      const cache = new DiskCache(process.argv[1], (op, key, err) => errors.push(op + " " + key + ": " + err.code));
      await cache.load(() => {});
      await cache.write(${JSON.stringify(small)});
      const before = (await stat(process.argv[1] + "/" + JOURNAL)).size;
      await cache.write(${JSON.stringify(big)});
      const after = (await stat(process.argv[1] + "/" + JOURNAL)).size;
      process.stdout.write(JSON.stringify({ before, after, errors }));
    `;
    const firstRecord = Buffer.byteLength(`${small.key}\t${JSON.stringify(small)}\n`);
    const { stdout } = await run("prlimit", [
      `--fsize=${firstRecord + 8192}`,
      process.execPath,
      "--input-type=module",
      "-e",
      child,
      dir,
    ]);
    const result = JSON.parse(stdout) as { before: number; after: number; errors: string[] };
    expect(result.before).toBe(firstRecord);
    expect(result.errors).toEqual(["write ns/ccts-machine-b: EFBIG"]);
    // Cut back to the last whole record: the next load finds nothing torn.
    expect(result.after).toBe(result.before);
    const errors: string[] = [];
    expect((await reload(dir, errors)).entries).toEqual([small]);
    expect(errors).toEqual([]);
  });

  it("skips records it cannot read and reports them", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ccts-cache-"));
    await writeFile(
      journal(dir),
      [
        "no key here",
        "ns/x\t{not json",
        'ns/y\t{"some":"thing"}',
        `ns/other\t${JSON.stringify(entry("z", ["52:54:00:00:00:09"]))}`,
        `ns/ccts-machine-a\t${JSON.stringify(entry("a", ["52:54:00:00:00:01"]))}`,
        "",
      ].join("\n"),
    );
    const errors: string[] = [];
    const { entries } = await reload(dir, errors);
    expect(entries).toEqual([entry("a", ["52:54:00:00:00:01"])]);
    expect(errors.map((e) => e.split(":")[0])).toEqual([
      `load ${JOURNAL}`,
      "load ns/x",
      "load ns/y",
      "load ns/other",
    ]);
  });

  it("moves the entries of the one-file-per-ConfigMap format into the journal", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ccts-cache-"));
    await writeFile(join(dir, "ns_ccts-machine-a.json"), JSON.stringify(entry("a", ["52:54:00:00:00:01"])));
    await writeFile(join(dir, "ns_ccts-machine-b.json.1234.tmp"), "{");
    await writeFile(join(dir, "garbage.json"), "{not json");
    const errors: string[] = [];
    const { cache, entries } = await reload(dir, errors);
    await cache.close();
    expect(entries).toEqual([entry("a", ["52:54:00:00:00:01"])]);
    expect(errors.map((e) => e.split(":")[0])).toEqual(["load garbage.json"]);
    // Foreign files stay; the moved entry's file and a temporary file are gone.
    expect((await readdir(dir)).sort()).toEqual([JOURNAL, "garbage.json"]);
    expect((await reload(dir)).entries).toEqual([entry("a", ["52:54:00:00:00:01"])]);
  });

  it("moves thousands of old-format files in a few batched writes", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ccts-cache-"));
    for (let i = 0; i < 1000; i++)
      await writeFile(join(dir, `ns_ccts-machine-m${i}.json`), JSON.stringify(entry(`m${i}`, [], `h${i}`)));
    const { cache, entries } = await reload(dir);
    await cache.close();
    expect(entries.length).toBe(1000);
    // One write per file would be 1,000; reading ahead by 100 entries makes it about ten. How many
    // depends on how fast the reads run against the 20 ms batch window (22 on a busy machine), so
    // the bound only tells batched writes from one per file.
    expect(cache.stats().batches).toBeLessThanOrEqual(100);
    expect(await readdir(dir)).toEqual([JOURNAL]);
    expect((await reload(dir)).entries.length).toBe(1000);
  });
});
