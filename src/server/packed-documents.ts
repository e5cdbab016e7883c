// The documents of one Machine (or ClusterDesc) as the server keeps them: all bytes in one Buffer
// (or, in the cluster server, in one region of its document file: see storedIn), the output names
// and content types in a layout shared by every Machine with the same outputs, and the
// ServedDocument of an output made when it is asked for. With 10,000 Machines of ten
// documents each, a Map of ten ready objects (a Buffer view, an ETag and a content-type string
// each) held ~4 KB of heap per Machine; this holds ~0.3 KB. Building the object per request costs
// well under a microsecond next to the ~20 us a request takes.
import { createHash } from "node:crypto";
import type { ServedDocument } from "./lookup.js";

/** Characters an entity tag may hold between its quotes (RFC 9110 etagc, ASCII only). */
const ETAG_SAFE = /^[\x21\x23-\x7e]{1,128}$/;

/** A strong quoted ETag from `hash`; a hash that cannot stand in one as it is gets hashed. */
export function etagOf(hash: string): string {
  return `"${ETAG_SAFE.test(hash) ? hash : createHash("sha256").update(hash).digest("hex")}"`;
}

/** Bytes kept outside the heap (cache/document-file.ts): read back on every call. */
export interface StoredBytes {
  readonly length: number;
  /** A copy of bytes [start, end). */
  subarray(start?: number, end?: number): Buffer;
  /** Reads bytes [start, end) into `target` at `targetStart`. */
  readInto(target: Buffer, targetStart: number, start: number, end: number): void;
  /** The bytes are no longer needed. */
  release(): void;
}

/** Takes a document's bytes out of memory; undefined when it cannot (they stay in memory). */
export interface DocumentBytesStore {
  store(bytes: Buffer): StoredBytes | undefined;
}

/** Output names and content types, in order; one object per distinct set (see layoutOf). */
interface Layout {
  readonly names: readonly string[];
  readonly contentTypes: readonly string[];
  readonly position: ReadonlyMap<string, number>;
}

/**
 * Layouts by names and types. Machines rendered from the same templates share one. Bounded: when
 * full it starts again (documents keep the layout they have; later ones just stop sharing it).
 */
const layouts = new Map<string, Layout>();
const MAX_LAYOUTS = 1000;

function layoutOf(names: string[], contentTypes: string[]): Layout {
  const key = names.map((n, i) => `${n}\0${contentTypes[i]}`).join("\0\0");
  let layout = layouts.get(key);
  if (!layout) {
    if (layouts.size >= MAX_LAYOUTS) layouts.clear();
    layout = { names, contentTypes, position: new Map(names.map((n, i) => [n, i])) };
    layouts.set(key, layout);
  }
  return layout;
}

/** A read-only map of documents by output name, from `keys`, `get` and `has` alone. */
export abstract class DocumentMap implements ReadonlyMap<string, ServedDocument> {
  abstract get size(): number;
  abstract get(output: string): ServedDocument | undefined;
  abstract has(output: string): boolean;
  abstract keys(): MapIterator<string>;

  values(): MapIterator<ServedDocument> {
    return [...this.keys()].map((n) => this.get(n)!).values();
  }

  entries(): MapIterator<[string, ServedDocument]> {
    return [...this.keys()].map((n): [string, ServedDocument] => [n, this.get(n)!]).values();
  }

  [Symbol.iterator](): MapIterator<[string, ServedDocument]> {
    return this.entries();
  }

  forEach(
    callback: (value: ServedDocument, key: string, map: ReadonlyMap<string, ServedDocument>) => void,
  ): void {
    for (const [key, value] of this) callback(value, key, this);
  }
}

export class PackedDocuments extends DocumentMap {
  private constructor(
    /** All documents' bytes, in memory or stored (see storedIn). */
    private readonly body: Buffer | StoredBytes,
    /** End offset of each document in `body`. */
    private readonly ends: readonly number[],
    private readonly layout: Layout,
    /** The render hash the ETags derive from (`"<hash>-<output>"`). */
    private readonly hash: string,
    /** Precomputed ETags, only when `"<hash>-<output>"` cannot stand as one (see etagOf). */
    private readonly etags: readonly string[] | undefined,
  ) {
    super();
  }

  /**
   * Packs documents (an output named twice keeps its first place and its last content). The bytes
   * get one Buffer of their own: small Buffers come from Node's shared pool, where one live slice
   * keeps a whole 64 KiB block alive.
   */
  static pack(
    documents: Iterable<{ output: string; content: string; contentType: string }>,
    hash: string,
  ): PackedDocuments {
    const unique = [...new Map([...documents].map((d) => [d.output, d])).values()];
    const body = Buffer.allocUnsafeSlow(unique.reduce((n, d) => n + Buffer.byteLength(d.content, "utf8"), 0));
    const ends: number[] = [];
    let offset = 0;
    for (const d of unique) {
      offset += body.write(d.content, offset, "utf8");
      ends.push(offset);
    }
    const names = unique.map((d) => d.output);
    const plain = names.every((n) => ETAG_SAFE.test(`${hash}-${n}`));
    return new PackedDocuments(
      body,
      ends,
      layoutOf(
        names,
        unique.map((d) => d.contentType),
      ),
      hash,
      plain ? undefined : names.map((n) => etagOf(`${hash}-${n}`)),
    );
  }

  /** True when `other` serves the same outputs with the same types, bytes and ETags. */
  sameAs(other: PackedDocuments): boolean {
    return (
      other.layout === this.layout &&
      other.hash === this.hash &&
      other.ends.length === this.ends.length &&
      other.ends.every((end, i) => end === this.ends[i]) &&
      other.bytes().equals(this.bytes())
    );
  }

  /**
   * The same documents with their bytes in `store` (this, unchanged, when they are there already
   * or the store cannot take them). The caller then owns them: see release.
   */
  storedIn(store: DocumentBytesStore | undefined): PackedDocuments {
    if (store === undefined || !Buffer.isBuffer(this.body)) return this;
    const stored = store.store(this.body);
    if (stored === undefined) return this;
    return new PackedDocuments(stored, this.ends, this.layout, this.hash, this.etags);
  }

  /** Frees stored bytes once these documents are replaced or gone (no-op for bytes in memory). */
  release(): void {
    if (!Buffer.isBuffer(this.body)) this.body.release();
  }

  private bytes(): Buffer {
    return Buffer.isBuffer(this.body) ? this.body : this.body.subarray();
  }

  get size(): number {
    return this.ends.length;
  }

  get(output: string): ServedDocument | undefined {
    const i = this.layout.position.get(output);
    return i === undefined ? undefined : this.at(i);
  }

  has(output: string): boolean {
    return this.layout.position.has(output);
  }

  keys(): MapIterator<string> {
    return this.layout.names.values();
  }

  private at(i: number): ServedDocument {
    return new DocumentView(
      this.body,
      i === 0 ? 0 : this.ends[i - 1]!,
      this.ends[i]!,
      this.layout.contentTypes[i]!,
      this.etags?.[i] ?? `"${this.hash}-${this.layout.names[i]}"`,
    );
  }
}

/**
 * A document as bytes [start, end) of a Buffer (a whole one of its own, or a PackedDocuments'
 * body) or of stored bytes. They are read when asked for: an answer that only needs the length (a
 * 304) reads nothing, and the socket front reads stored bytes straight into its answer
 * (copyBodyTo) instead of into a Buffer of their own first.
 */
export class DocumentView implements ServedDocument {
  constructor(
    private readonly source: Buffer | StoredBytes,
    private readonly start: number,
    private readonly end: number,
    readonly contentType: string,
    readonly etag: string,
  ) {}

  /** A view of the bytes in memory; a fresh copy, read from the file, of stored ones. */
  get body(): Buffer {
    return this.source.subarray(this.start, this.end);
  }

  get length(): number {
    return this.end - this.start;
  }

  copyBodyTo(target: Buffer, offset: number): void {
    if (Buffer.isBuffer(this.source)) this.source.copy(target, offset, this.start, this.end);
    else this.source.readInto(target, offset, this.start, this.end);
  }
}
