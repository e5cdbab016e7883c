// The server's disk cache (an emptyDir or PVC): every rendered entry the server learns is written
// here atomically (temporary file, then rename), so a restarted server serves at once, also while
// the API server is unreachable. One JSON file per ConfigMap.
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { RenderedEntry } from "./rendered-entry.js";

const SUFFIX = ".json";
/**
 * File operations in flight at once. A relist of 10,000 ConfigMaps learns them all within seconds:
 * unbounded, every write started at once and held its JSON text and a Buffer copy of it until the
 * thread pool (4 threads) got to it. The text is now made when the write starts.
 */
const MAX_IN_FLIGHT = 4;

function fileName(key: string): string {
  // Namespaces and names are DNS labels/subdomains: no "_" and no "/" inside either part.
  return key.replace("/", "_") + SUFFIX;
}

function isEntry(v: unknown): v is RenderedEntry {
  const e = v as RenderedEntry;
  return (
    typeof e === "object" &&
    e !== null &&
    typeof e.key === "string" &&
    typeof e.machine === "string" &&
    Array.isArray(e.macs) &&
    Array.isArray(e.addresses) &&
    typeof e.hash === "string" &&
    typeof e.documents === "object" &&
    e.documents !== null
  );
}

export class DiskCache {
  /** Hash last written per key, so unchanged entries are not rewritten. */
  private readonly written = new Map<string, string>();
  /** Per-key chain of pending operations: a write and a later removal never race. */
  private readonly pending = new Map<string, Promise<void>>();
  private inFlight = 0;
  /** The most file operations that were in flight at once (for tests). */
  peakInFlight = 0;
  /** Operations waiting for one in flight to finish, oldest first. */
  private readonly waiting: (() => void)[] = [];
  /** Operations asked for and not started yet (behind one of the same key, or waiting). */
  private notStarted = 0;
  /** Told whenever an operation finishes (caughtUp). */
  private readonly progress: (() => void)[] = [];

  constructor(
    readonly dir: string,
    private readonly onError: (op: string, key: string, err: unknown) => void = () => {},
  ) {}

  /**
   * Hands every valid entry to `onEntry`, one at a time (never all 10,000 in memory at once);
   * unreadable or foreign files are reported and skipped. Resolves to the number of entries.
   */
  async load(onEntry: (entry: RenderedEntry) => void): Promise<number> {
    await mkdir(this.dir, { recursive: true });
    let count = 0;
    for (const name of await readdir(this.dir)) {
      if (!name.endsWith(SUFFIX)) continue;
      try {
        const parsed: unknown = JSON.parse(await readFile(join(this.dir, name), "utf8"));
        if (!isEntry(parsed)) throw new Error("not a cache entry");
        this.written.set(parsed.key, parsed.hash);
        onEntry(parsed);
        count++;
      } catch (e) {
        this.onError("load", name, e);
      }
    }
    return count;
  }

  write(entry: RenderedEntry): Promise<void> {
    if (this.written.get(entry.key) === entry.hash && entry.hash !== "")
      return this.chain(entry.key, async () => {});
    this.written.set(entry.key, entry.hash);
    return this.chain(entry.key, async () => {
      const target = join(this.dir, fileName(entry.key));
      const tmp = `${target}.${process.pid}.tmp`;
      await writeFile(tmp, JSON.stringify(entry));
      await rename(tmp, target);
    });
  }

  remove(key: string): Promise<void> {
    this.written.delete(key);
    return this.chain(key, () => rm(join(this.dir, fileName(key)), { force: true }));
  }

  /** Resolves when every queued operation has finished. */
  async flush(): Promise<void> {
    await Promise.all(this.pending.values());
  }

  private chain(key: string, op: () => Promise<void>): Promise<void> {
    this.notStarted++;
    const next = (this.pending.get(key) ?? Promise.resolve())
      .then(() => this.limited(op))
      .catch((e) => this.onError("write", key, e))
      .finally(() => {
        if (this.pending.get(key) === next) this.pending.delete(key);
      });
    this.pending.set(key, next);
    return next;
  }

  /**
   * Resolves true once at most `backlog` operations have not started, false after `maxWaitMs`
   * without that. A relist waits here between pages, so the entries waiting to be written (each
   * holding its documents) stay about a page; the bound keeps a stalled disk from stalling it.
   */
  async caughtUp(backlog: number, maxWaitMs: number): Promise<boolean> {
    const deadline = Date.now() + maxWaitMs;
    while (this.notStarted > backlog) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((done) => {
        const timer = setTimeout(done, left);
        this.progress.push(() => {
          clearTimeout(timer);
          done();
        });
      });
    }
    return true;
  }

  private async limited(op: () => Promise<void>): Promise<void> {
    // A finishing operation hands its place to the oldest waiting one (inFlight stays the same).
    if (this.inFlight < MAX_IN_FLIGHT) this.inFlight++;
    else await new Promise<void>((start) => this.waiting.push(start));
    this.notStarted--;
    this.peakInFlight = Math.max(this.peakInFlight, this.inFlight);
    try {
      await op();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.inFlight--;
      for (const told of this.progress.splice(0)) told();
    }
  }
}
