// The in-memory index behind the lookup port: canonical MAC -> the documents of one Machine. The
// embedded folder store and the cluster-mode ConfigMap index feed it; the HTTP app only reads it.
// A Machine with several interface MACs appears under each of them (the same MachineDocuments).
import { createHash } from "node:crypto";
import { parseMac } from "../api/mac.js";
import type { ClusterDocuments, DocumentLookup, MachineDocuments, ServedDocument } from "./lookup.js";
import { DocumentView, etagOf, PackedDocuments } from "./packed-documents.js";

/**
 * Prepares a document for serving: the UTF-8 bytes once, and a strong quoted ETag from `hash`.
 * A hash that cannot stand in an ETag as it is (quotes, spaces, non-ASCII, very long) is hashed.
 */
export function servedDocument(content: string, contentType: string, hash: string): ServedDocument {
  const body = Buffer.from(content, "utf8");
  return new DocumentView(body, 0, body.length, contentType, etagOf(hash));
}

/**
 * Prepares the documents of one Machine (or ClusterDesc) for serving, like servedDocument, with
 * the ETag of each output from `hash` and its name (see PackedDocuments).
 */
export function servedDocuments(
  documents: Iterable<{ output: string; content: string; contentType: string }>,
  hash: string,
): PackedDocuments {
  return PackedDocuments.pack(documents, hash);
}

/** A servedDocument whose ETag is the SHA-256 of its content (for documents without a render hash). */
export function contentDocument(content: string, contentType: string): ServedDocument {
  return servedDocument(
    content,
    contentType,
    createHash("sha256").update(content).digest("hex").slice(0, 32),
  );
}

/** How stale sharedDocument's answer may get while documents keep changing (a fan-out). */
const SHARED_ANSWER_MAX_AGE_MS = 1000;

export class MemoryLookup implements DocumentLookup {
  private index = new Map<string, MachineDocuments>();
  private isReady = false;
  private clusterDocs: readonly ClusterDocuments[] = [];
  /** Bumped on every change, so derived answers (sharedDocument) are computed once per version. */
  private version = 0;
  private shared = new Map<
    string,
    { version: number; at: number; answer: ServedDocument | "ambiguous" | undefined }
  >();

  /** `now` (ms) times sharedDocument's answers; tests pass their own clock. */
  constructor(private readonly now: () => number = () => performance.now()) {}

  machine(canonicalMac: string): MachineDocuments | undefined {
    return this.index.get(canonicalMac);
  }

  ready(): boolean {
    return this.isReady;
  }

  setReady(ready: boolean): void {
    this.isReady = ready;
  }

  clusters(): readonly ClusterDocuments[] {
    return this.clusterDocs;
  }

  /** Swaps the per-ClusterDesc documents at once (one entry per ClusterDesc). */
  replaceClusters(entries: Iterable<ClusterDocuments>): void {
    this.clusterDocs = Object.freeze([...entries]);
  }

  /**
   * Swaps the whole index at once: a reader sees either the old or the new one, never a mix.
   * Keys may be in any notation parseMac accepts; an invalid key throws and leaves the index as it was.
   */
  replaceAll(entries: Iterable<readonly [string, MachineDocuments]>): void {
    this.version++;
    const next = new Map<string, MachineDocuments>();
    for (const [mac, docs] of entries) next.set(parseMac(mac), docs);
    this.index = next;
  }

  /** Serves `docs` under one MAC (any notation). */
  set(mac: string, docs: MachineDocuments): void {
    this.version++;
    this.index.set(parseMac(mac), docs);
  }

  /** Serves `docs` under each of a Machine's MACs. */
  setMachine(macs: Iterable<string>, docs: MachineDocuments): void {
    this.version++;
    const canonical = [...macs].map(parseMac);
    for (const mac of canonical) this.index.set(mac, docs);
  }

  /** Stops serving one MAC; true if it was served. */
  delete(mac: string): boolean {
    this.version++;
    return this.index.delete(parseMac(mac));
  }

  /** Stops serving every MAC of the Machine with this `namespace/name`; returns the MACs removed. */
  deleteMachine(machine: string): string[] {
    this.version++;
    const removed: string[] = [];
    for (const [mac, docs] of this.index) {
      if (docs.machine === machine) removed.push(mac);
    }
    for (const mac of removed) this.index.delete(mac);
    return removed;
  }

  /**
   * Reads every Machine's copy of the output (from the document file in cluster mode), so while
   * documents keep changing the answer is recomputed at most once a second: during a fan-out of
   * 10,000 Machines each change would otherwise cost the next request ~15 ms.
   */
  sharedDocument(output: string): ServedDocument | "ambiguous" | undefined {
    const cached = this.shared.get(output);
    const now = this.now();
    if (cached && (cached.version === this.version || now - cached.at < SHARED_ANSWER_MAX_AGE_MS))
      return cached.answer;
    // By content: each machine's copy has its own ETag (from that machine's render hash).
    const byContent = new Map<string, ServedDocument>();
    for (const docs of this.index.values()) {
      const doc = docs.documents.get(output);
      if (!doc) continue;
      // The answer is kept for a while: a copy of the bytes, not a view of a file region that a
      // change of that Machine's documents releases meanwhile.
      const body = doc.body;
      byContent.set(
        body.toString("latin1"),
        new DocumentView(body, 0, body.length, doc.contentType, doc.etag),
      );
    }
    const answer = byContent.size > 1 ? "ambiguous" : byContent.values().next().value;
    this.shared.set(output, { version: this.version, at: now, answer });
    return answer;
  }

  /** Number of MACs served. */
  get size(): number {
    return this.index.size;
  }

  /** Canonical MACs served, in insertion order. */
  macs(): string[] {
    return [...this.index.keys()];
  }
}
