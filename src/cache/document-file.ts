// The cluster server's documents on disk instead of in the heap: every Machine's packed bytes are
// appended to a file in the cache directory and read back per request with one pread, into the
// answer's buffer (1.5 us in a loop, 2.0 us in a CPU profile under a serving load, the page cached:
// the kernel's page cache, which it can reclaim under pressure, holds them instead of the
// process). With 10,000 Machines that moves ~65 MB out of the server's RSS.
// The file is unlinked as soon as it is open, so nothing is left behind by a crash; replaced
// documents become garbage, and once garbage outweighs the live bytes the live regions are
// copied into a fresh file a few hundred at a time, between requests.
import { randomBytes } from "node:crypto";
import { closeSync, openSync, readSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { setImmediate as yieldToRequests } from "node:timers/promises";
import type { DocumentBytesStore, StoredBytes } from "../server/packed-documents.js";

/** Garbage below this is left alone, however small the live part. */
const MIN_GARBAGE_BYTES = 16 * 2 ** 20;
/** Regions copied per turn of the event loop while compacting. */
const MOVES_PER_TURN = 256;

class Segment {
  /** Bytes appended so far (the next region's offset). */
  size = 0;
  live = 0;
  closed = false;
  readonly regions = new Set<FileRegion>();

  constructor(readonly fd: number) {}
}

export class FileRegion implements StoredBytes {
  constructor(
    private readonly file: DocumentFile,
    /** Where the bytes are now; compaction moves them. */
    public segment: Segment,
    public offset: number,
    readonly length: number,
  ) {}

  subarray(start = 0, end = this.length): Buffer {
    const out = Buffer.allocUnsafe(end - start);
    this.readInto(out, 0, start, end);
    return out;
  }

  readInto(target: Buffer, targetStart: number, start: number, end: number): void {
    // A closed segment's descriptor number may already belong to another file.
    if (this.segment.closed) throw new Error("document file: region read after it was released");
    if (start < 0 || end > this.length || start > end)
      throw new RangeError("document file: read outside the region");
    let read = 0;
    const length = end - start;
    while (read < length) {
      const n = readSync(
        this.segment.fd,
        target,
        targetStart + read,
        length - read,
        this.offset + start + read,
      );
      if (n === 0) throw new Error("document file: unexpected end of file");
      read += n;
    }
  }

  release(): void {
    this.file.release(this);
  }
}

export interface DocumentFileStats {
  liveBytes: number;
  garbageBytes: number;
  regions: number;
  /** Files open: 1, or 2 while compacting. */
  segments: number;
  compactions: number;
}

export class DocumentFile implements DocumentBytesStore {
  private current: Segment;
  private readonly segments = new Set<Segment>();
  private compacting: Promise<void> | undefined;
  private compactions = 0;
  /** After a failed compaction, none is started before this time (ms). */
  private compactAfter = 0;
  private lastErrorLog = 0;

  constructor(
    readonly dir: string,
    private readonly onError: (op: string, err: unknown) => void = () => {},
  ) {
    this.current = this.open();
  }

  /** Appends `bytes`; undefined when the file cannot take them (disk full): keep them in memory. */
  store(bytes: Buffer): FileRegion | undefined {
    try {
      const segment = this.current;
      const region = new FileRegion(this, segment, this.append(segment, bytes), bytes.length);
      segment.regions.add(region);
      return region;
    } catch (err) {
      this.report("write", err);
      return undefined;
    }
  }

  release(region: FileRegion): void {
    const { segment } = region;
    if (!segment.regions.delete(region)) return;
    segment.live -= region.length;
    if (
      this.compacting === undefined &&
      Date.now() >= this.compactAfter &&
      this.garbage() > Math.max(this.live(), MIN_GARBAGE_BYTES)
    ) {
      void this.compact();
    }
  }

  /**
   * Copies every live region into a fresh file and closes the old ones (those it emptied). New
   * documents go to the fresh file meanwhile. Resolves when done; one compaction at a time.
   */
  compact(): Promise<void> {
    this.compacting ??= this.moveLiveRegions().finally(() => {
      this.compacting = undefined;
    });
    return this.compacting;
  }

  stats(): DocumentFileStats {
    let regions = 0;
    for (const s of this.segments) regions += s.regions.size;
    return {
      liveBytes: this.live(),
      garbageBytes: this.garbage(),
      regions,
      segments: this.segments.size,
      compactions: this.compactions,
    };
  }

  /** Closes the file; regions read afterwards throw. */
  close(): void {
    for (const segment of this.segments) this.closeSegment(segment);
  }

  private async moveLiveRegions(): Promise<void> {
    let moves = 0;
    try {
      const old = [...this.segments];
      const fresh = this.open();
      this.current = fresh;
      for (const segment of old) {
        for (const region of [...segment.regions]) {
          // Released meanwhile: nothing to move.
          if (!segment.regions.has(region)) continue;
          const offset = this.append(fresh, region.subarray());
          segment.regions.delete(region);
          segment.live -= region.length;
          fresh.regions.add(region);
          region.segment = fresh;
          region.offset = offset;
          if (++moves % MOVES_PER_TURN === 0) await yieldToRequests();
        }
      }
      this.compactions++;
    } catch (err) {
      // What was not moved stays where it is, readable; no new attempt for a minute.
      this.compactAfter = Date.now() + 60_000;
      this.report("compact", err);
    } finally {
      for (const segment of [...this.segments]) {
        if (segment !== this.current && segment.regions.size === 0) this.closeSegment(segment);
      }
    }
  }

  /** Writes `bytes` at the end of `segment`; returns their offset. */
  private append(segment: Segment, bytes: Buffer): number {
    if (segment.closed) throw new Error("document file: closed");
    const offset = segment.size;
    let written = 0;
    while (written < bytes.length) {
      written += writeSync(segment.fd, bytes, written, bytes.length - written, offset + written);
    }
    segment.size += bytes.length;
    segment.live += bytes.length;
    return offset;
  }

  private open(): Segment {
    const path = join(this.dir, `.documents-${process.pid}-${randomBytes(6).toString("hex")}`);
    const fd = openSync(path, "wx+", 0o600);
    unlinkSync(path);
    const segment = new Segment(fd);
    this.segments.add(segment);
    return segment;
  }

  private closeSegment(segment: Segment): void {
    if (segment.closed) return;
    segment.closed = true;
    this.segments.delete(segment);
    closeSync(segment.fd);
  }

  private live(): number {
    let live = 0;
    for (const s of this.segments) live += s.live;
    return live;
  }

  private garbage(): number {
    let garbage = 0;
    for (const s of this.segments) garbage += s.size - s.live;
    return garbage;
  }

  /** Reports a failure at most once a minute (a full disk would fail every write). */
  private report(op: string, err: unknown): void {
    const now = Date.now();
    if (now - this.lastErrorLog < 60_000) return;
    this.lastErrorLog = now;
    this.onError(op, err);
  }
}
