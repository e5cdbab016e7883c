import { mkdtemp, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DocumentFile, type FileRegion } from "../../src/cache/document-file.js";
import { DocumentIndex } from "../../src/cache/document-index.js";
import type { RenderedEntry } from "../../src/cache/rendered-entry.js";
import { MemoryLookup } from "../../src/server/memory-lookup.js";
import type { DocumentBytesStore } from "../../src/server/packed-documents.js";

const dir = () => mkdtemp(join(tmpdir(), "ccts-docfile-"));
const MiB = 2 ** 20;

/** `n` bytes, different for every `seed`. */
function bytesOf(seed: number, n = 1000): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (seed * 31 + i * 7) & 0xff;
  return b;
}

function stored(file: DocumentFile, bytes: Buffer): FileRegion {
  const region = file.store(bytes);
  if (!region) throw new Error("store refused");
  return region;
}

describe("DocumentFile", () => {
  it("reads back what it stored, whole and in ranges, and leaves no file in the directory", async () => {
    const d = await dir();
    const file = new DocumentFile(d);
    const regions = [1, 2, 3].map((seed) => stored(file, bytesOf(seed)));
    expect(
      regions.map((r) => r.subarray().equals(bytesOf(r === regions[0] ? 1 : r === regions[1] ? 2 : 3))),
    ).toEqual([true, true, true]);
    expect(regions[1]!.subarray(10, 20)).toEqual(bytesOf(2).subarray(10, 20));
    expect(regions[2]!.subarray(0, 0).length).toBe(0);
    // Straight into a caller's buffer, at an offset, nothing around it touched.
    const target = Buffer.alloc(30, 0xee);
    regions[1]!.readInto(target, 5, 10, 30);
    expect(target.subarray(5, 25)).toEqual(bytesOf(2).subarray(10, 30));
    expect([...target.subarray(0, 5), ...target.subarray(25)].every((b) => b === 0xee)).toBe(true);
    // Past the region's end would read the next region's bytes: refused.
    expect(() => regions[0]!.readInto(Buffer.alloc(2000), 0, 0, 1001)).toThrow(/outside the region/);
    expect(() => regions[0]!.subarray(-1, 10)).toThrow(/outside the region/);
    expect(file.stats()).toMatchObject({ liveBytes: 3000, garbageBytes: 0, regions: 3, segments: 1 });
    // Unlinked at once: a crash leaves nothing to clean up.
    expect(await readdir(d)).toEqual([]);
    file.close();
  });

  it("counts released bytes as garbage and compacts them away; live regions still read the same", async () => {
    const file = new DocumentFile(await dir());
    const big = 2 * MiB;
    const regions = Array.from({ length: 12 }, (_, i) => stored(file, bytesOf(i, big)));
    // 8 released: 16 MiB of garbage is not above the floor yet.
    for (const r of regions.slice(0, 8)) r.release();
    expect(file.stats()).toMatchObject({ compactions: 0, garbageBytes: 8 * big });
    // The 9th: 18 MiB of garbage > 16 MiB and > 6 MiB live starts a compaction by itself.
    for (const r of regions.slice(8, 10)) r.release();
    await new Promise((done) => setImmediate(done));
    // The 10th was moved by that compaction, then released: garbage of the new file.
    expect(file.stats()).toMatchObject({ liveBytes: 2 * big, garbageBytes: big, regions: 2, segments: 1 });
    expect(file.stats().compactions).toBe(1);
    expect(regions[10]!.subarray().equals(bytesOf(10, big))).toBe(true);
    expect(regions[11]!.subarray().equals(bytesOf(11, big))).toBe(true);
    // A released region's segment is closed: reading it fails instead of reading someone else's fd.
    expect(() => regions[0]!.subarray()).toThrow(/released/);
    file.close();
  });

  it("does not compact while garbage is below the floor", () => {
    const file = new DocumentFile(tmpdir());
    const regions = Array.from({ length: 20 }, (_, i) => stored(file, bytesOf(i)));
    for (const r of regions.slice(0, 19)) r.release();
    expect(file.stats()).toMatchObject({
      liveBytes: 1000,
      garbageBytes: 19_000,
      segments: 1,
      compactions: 0,
    });
    file.close();
  });

  it("keeps serving, storing and releasing while a compaction runs", async () => {
    const file = new DocumentFile(await dir());
    const n = 2000;
    const regions = Array.from({ length: n }, (_, i) => stored(file, bytesOf(i)));
    const compaction = file.compact();
    // The compaction yields every few hundred regions: these happen in between.
    const added = Array.from({ length: 100 }, (_, i) => stored(file, bytesOf(n + i)));
    for (let i = 0; i < n; i += 2) regions[i]!.release();
    await compaction;
    for (let i = 1; i < n; i += 2) expect(regions[i]!.subarray().equals(bytesOf(i))).toBe(true);
    for (const [i, r] of added.entries()) expect(r.subarray().equals(bytesOf(n + i))).toBe(true);
    expect(file.stats()).toMatchObject({
      liveBytes: (n / 2 + 100) * 1000,
      regions: n / 2 + 100,
      segments: 1,
    });
    file.close();
  });

  it("refuses to store once closed, so the caller keeps the bytes in memory", () => {
    const file = new DocumentFile(tmpdir());
    const errors: string[] = [];
    const reporting = new DocumentFile(tmpdir(), (op) => errors.push(op));
    file.close();
    reporting.close();
    expect(file.store(bytesOf(1))).toBeUndefined();
    expect(reporting.store(bytesOf(1))).toBeUndefined();
    expect(errors).toEqual(["write"]);
  });

  it("cannot be made in a directory that does not exist", () => {
    expect(() => new DocumentFile(join(tmpdir(), "ccts-no-such-dir", "x"))).toThrow(/ENOENT/);
  });
});

const entry = (name: string, content: string, extra: Partial<RenderedEntry> = {}): RenderedEntry => ({
  key: `ns/ccts-machine-${name}`,
  machine: `ns/${name}`,
  macs: ["52:54:00:00:00:01"],
  addresses: [],
  hash: `h-${content.length}`,
  documents: { "cloud-config": { contentType: "text/cloud-config; charset=utf-8", content } },
  ...extra,
});

describe("DocumentIndex over a DocumentFile", () => {
  const served = (lookup: MemoryLookup, output = "cloud-config") =>
    lookup.machine("52:54:00:00:00:01")?.documents.get(output)?.body.toString();

  it("keeps Machines' bytes in the file, releases replaced and removed ones, keeps unchanged ones", async () => {
    const file = new DocumentFile(await dir());
    const lookup = new MemoryLookup();
    const index = new DocumentIndex(lookup, file);
    index.upsert(entry("a", "#cloud-config\nhostname: a\n"));
    expect(served(lookup)).toBe("#cloud-config\nhostname: a\n");
    expect(file.stats()).toMatchObject({ liveBytes: 26, garbageBytes: 0 });

    index.upsert(entry("a", "#cloud-config\nhostname: a\n"));
    expect(file.stats()).toMatchObject({ liveBytes: 26, garbageBytes: 0 });

    index.upsert(entry("a", "#cloud-config\nhostname: a2\n"));
    expect(served(lookup)).toBe("#cloud-config\nhostname: a2\n");
    expect(file.stats()).toMatchObject({ liveBytes: 27, garbageBytes: 26 });

    const secret = { key: "ns/ccts-secret-a", private: true, macs: [] as string[] };
    index.upsert(
      entry("a", "KEY", {
        ...secret,
        documents: { "tls.key": { contentType: "text/plain", content: "KEY" } },
      }),
    );
    expect(served(lookup, "tls.key")).toBe("KEY");
    index.upsert(
      entry("a", "KEY2", {
        ...secret,
        documents: { "tls.key": { contentType: "text/plain", content: "KEY2" } },
      }),
    );
    expect(served(lookup, "tls.key")).toBe("KEY2");
    expect(file.stats()).toMatchObject({ liveBytes: 31, garbageBytes: 29 });

    index.remove("ns/ccts-secret-a");
    index.remove("ns/ccts-machine-a");
    expect(served(lookup)).toBeUndefined();
    expect(file.stats()).toMatchObject({ liveBytes: 0, regions: 0 });
    file.close();
  });

  it("gives a stored document's length without reading it and reads it straight into a buffer", async () => {
    const file = new DocumentFile(await dir());
    const lookup = new MemoryLookup();
    const content = "#cloud-config\nhostname: ä\n";
    new DocumentIndex(lookup, file).upsert(entry("a", content));
    const doc = lookup.machine("52:54:00:00:00:01")!.documents.get("cloud-config")!;
    expect(doc.length).toBe(Buffer.byteLength(content));
    const answer = Buffer.alloc(doc.length + 4, ".");
    doc.copyBodyTo(answer, 2);
    expect(answer.toString()).toBe(`..${content}..`);
    file.close();
  });

  it("keeps the shared answer (ca.pem) readable after the regions it was read from are gone", async () => {
    const file = new DocumentFile(await dir());
    const lookup = new MemoryLookup();
    const index = new DocumentIndex(lookup, file);
    const withCa = (name: string, mac: string, ca: string) =>
      entry(name, ca, {
        macs: [mac],
        documents: { "ca.pem": { contentType: "application/x-pem-file", content: ca } },
      });
    index.upsert(withCa("a", "52:54:00:00:00:01", "CA1"));
    index.upsert(withCa("b", "52:54:00:00:00:02", "CA1"));
    const answer = lookup.sharedDocument("ca.pem");
    if (typeof answer !== "object") throw new Error(`no shared answer: ${answer}`);
    // Both Machines change (their old regions released), and a compaction closes the old file.
    index.upsert(withCa("a", "52:54:00:00:00:01", "CA2"));
    index.upsert(withCa("b", "52:54:00:00:00:02", "CA2"));
    await file.compact();
    expect(file.stats().segments).toBe(1);
    expect(answer.body.toString()).toBe("CA1");
    expect(answer.length).toBe(3);
    file.close();
  });

  it("keeps the bytes in memory when the store cannot take them", () => {
    const refusing: DocumentBytesStore = { store: () => undefined };
    const lookup = new MemoryLookup();
    const index = new DocumentIndex(lookup, refusing);
    index.upsert(entry("a", "#cloud-config\n"));
    index.upsert(entry("a", "#cloud-config\nchanged: true\n"));
    expect(served(lookup)).toBe("#cloud-config\nchanged: true\n");
  });
});
