import { describe, expect, it } from "vitest";
import { MemoryLookup, servedDocument, servedDocuments } from "../../src/server/memory-lookup.js";
import { MAC_A, MAC_A2, MAC_B, machineA, machineB } from "./helpers.js";

describe("servedDocument", () => {
  it("prepares UTF-8 bytes and a strong quoted ETag from the hash", () => {
    const d = servedDocument("#cloud-config\nhostname: ä\n", "text/cloud-config", "abc123-cloud-config");
    expect(d.body).toEqual(Buffer.from("#cloud-config\nhostname: ä\n", "utf8"));
    expect(d.contentType).toBe("text/cloud-config");
    expect(d.etag).toBe('"abc123-cloud-config"');
  });

  it("hashes a hash that cannot stand in an ETag", () => {
    for (const h of ['with"quote', "with space", "ümlaut", "x".repeat(200), ""]) {
      expect(servedDocument("x", "text/plain", h).etag).toMatch(/^"[0-9a-f]{64}"$/);
    }
  });
});

describe("servedDocuments", () => {
  it("prepares a Machine's documents as slices of one Buffer of their own, not of the shared pool", () => {
    const docs = [
      { output: "cloud-config", content: "#cloud-config\nhostname: ä\n", contentType: "text/cloud-config" },
      { output: "empty", content: "", contentType: "text/plain" },
      { output: "ipxe", content: "#!ipxe\nboot\n", contentType: "text/plain" },
    ];
    const served = servedDocuments(docs, "h1");
    expect([...served.keys()]).toEqual(["cloud-config", "empty", "ipxe"]);
    for (const d of docs) {
      const s = served.get(d.output)!;
      expect(s.body.toString("utf8")).toBe(d.content);
      expect(s.contentType).toBe(d.contentType);
      expect(s.etag).toBe(`"h1-${d.output}"`);
    }
    const total = docs.reduce((n, d) => n + Buffer.byteLength(d.content), 0);
    // One backing store of exactly their size: a pooled Buffer would sit in an 8-64 KiB block.
    for (const s of served.values()) expect(s.body.buffer.byteLength).toBe(total);
    expect(servedDocument("small", "text/plain", "x").body.buffer.byteLength).toBeGreaterThan(total);
  });

  it("reads like the Map of its documents: order, size, has, values, forEach", () => {
    const docs = [
      { output: "a", content: "1", contentType: "text/plain" },
      { output: "b", content: "22", contentType: "text/x" },
      { output: "a", content: "333", contentType: "text/y" },
    ];
    const served = servedDocuments(docs, "h");
    // An output named twice keeps its first place and its last content, as Map#set does.
    const asMap = new Map(docs.map((d) => [d.output, d]));
    expect([...served.keys()]).toEqual([...asMap.keys()]);
    expect(served.size).toBe(2);
    expect(served.has("a") && served.has("b") && !served.has("c")).toBe(true);
    expect(served.get("c")).toBeUndefined();
    expect([...served.values()].map((d) => [d.body.toString(), d.contentType])).toEqual([
      ["333", "text/y"],
      ["22", "text/x"],
    ]);
    const seen: string[] = [];
    served.forEach((d, name, map) => {
      expect(map).toBe(served);
      seen.push(`${name}=${d.body.toString()}`);
    });
    expect(seen).toEqual(["a=333", "b=22"]);
  });

  it("hashes each ETag whose hash and name cannot stand in one", () => {
    const served = servedDocuments([{ output: "a", content: "x", contentType: "text/plain" }], 'with"quote');
    expect(served.get("a")!.etag).toBe(servedDocument("x", "text/plain", 'with"quote-a').etag);
    expect(served.get("a")!.etag).toMatch(/^"[0-9a-f]{64}"$/);
  });

  it("tells the same documents from changed ones (bytes, type, name, hash)", () => {
    const base = [
      { output: "a", content: "1", contentType: "text/plain" },
      { output: "b", content: "2", contentType: "text/plain" },
    ];
    const served = servedDocuments(base, "h");
    expect(served.sameAs(servedDocuments(base, "h"))).toBe(true);
    const variants = [
      servedDocuments(base, "h2"),
      servedDocuments([base[0]!, { ...base[1]!, content: "3" }], "h"),
      servedDocuments([base[0]!, { ...base[1]!, contentType: "text/x" }], "h"),
      servedDocuments([base[0]!, { ...base[1]!, output: "c" }], "h"),
      servedDocuments(
        [
          { ...base[0]!, content: "12" },
          { ...base[1]!, content: "" },
        ],
        "h",
      ),
      servedDocuments([base[0]!], "h"),
    ];
    for (const v of variants) expect(served.sameAs(v)).toBe(false);
  });
});

describe("MemoryLookup", () => {
  it("is not ready until told", () => {
    const l = new MemoryLookup();
    expect(l.ready()).toBe(false);
    l.setReady(true);
    expect(l.ready()).toBe(true);
    l.setReady(false);
    expect(l.ready()).toBe(false);
  });

  it("keys by canonical MAC whatever notation it is given", () => {
    const l = new MemoryLookup();
    l.set("52-54-00-12-34-01", machineA);
    expect(l.machine(MAC_A)).toBe(machineA);
    l.set("5254.0012.3402", machineB);
    expect(l.machine(MAC_B)).toBe(machineB);
    expect(l.macs()).toEqual([MAC_A, MAC_B]);
    expect(() => l.set("nope", machineA)).toThrow(/invalid MAC/);
  });

  it("serves a Machine under each of its MACs and forgets them together", () => {
    const l = new MemoryLookup();
    l.setMachine([MAC_A, "52:54:00:12:34:11".toUpperCase()], machineA);
    l.set(MAC_B, machineB);
    expect(l.machine(MAC_A2)).toBe(machineA);
    expect(l.deleteMachine("default/a").sort()).toEqual([MAC_A, MAC_A2]);
    expect(l.machine(MAC_A)).toBeUndefined();
    expect(l.machine(MAC_B)).toBe(machineB);
  });

  it("delete removes one MAC", () => {
    const l = new MemoryLookup();
    l.setMachine([MAC_A, MAC_A2], machineA);
    expect(l.delete("52-54-00-12-34-01")).toBe(true);
    expect(l.delete(MAC_A)).toBe(false);
    expect(l.machine(MAC_A2)).toBe(machineA);
  });

  it("answers the one shared copy of an output, recomputed at most once a second while changing", () => {
    let clock = 0;
    const l = new MemoryLookup(() => clock);
    const shared = () => {
      const answer = l.sharedDocument("ca.pem");
      return typeof answer === "object" ? answer.body.toString() : answer;
    };
    const withCa = (machine: string, ca: string) => ({
      machine,
      documents: servedDocuments(
        [{ output: "ca.pem", content: ca, contentType: "application/x-pem-file" }],
        machine,
      ),
    });
    expect(l.sharedDocument("ca.pem")).toBeUndefined();
    clock += 1000;
    l.set(MAC_A, withCa("ns/a", "CA1"));
    l.set(MAC_B, withCa("ns/b", "CA1"));
    expect(shared()).toBe("CA1");
    // A change within the second: the answer of a moment ago stands.
    clock += 500;
    l.set(MAC_B, withCa("ns/b", "CA2"));
    expect(shared()).toBe("CA1");
    clock += 500;
    expect(l.sharedDocument("ca.pem")).toBe("ambiguous");
    l.set(MAC_A, withCa("ns/a", "CA2"));
    clock += 1000;
    expect(shared()).toBe("CA2");
    // No change: the same answer however much time passes.
    const answer = l.sharedDocument("ca.pem");
    clock += 60_000;
    expect(l.sharedDocument("ca.pem")).toBe(answer);
  });

  it("replaceAll swaps the whole index, or nothing when a key is invalid", () => {
    const l = new MemoryLookup();
    l.set(MAC_A, machineA);
    l.replaceAll(new Map([["52-54-00-12-34-02", machineB]]));
    expect(l.machine(MAC_A)).toBeUndefined();
    expect(l.machine(MAC_B)).toBe(machineB);
    expect(() =>
      l.replaceAll([
        [MAC_A, machineA],
        ["bad", machineA],
      ]),
    ).toThrow();
    expect(l.machine(MAC_B)).toBe(machineB);
    expect(l.size).toBe(1);
  });
});
