// A keyed work queue in the style of client-go's workqueue: keys, not events, are queued
// (level-triggered: the handler re-reads state), a key is queued at most once, at most one
// handler runs per key, a key added while it is being handled runs once more afterwards, a
// failure is retried with capped exponential backoff, and at most `concurrency` handlers run.
// Two lanes: a key added as `bulk` (a resync pass over every Machine, a ClusterDesc's fan-out)
// waits behind every key added for a change of its own, so a Machine applied during a pass over
// 10,000 is not answered after them (controller-runtime's priority queue does the same for its
// initial list and resyncs). A key added for itself while it waits in the bulk lane moves ahead.

export interface WorkQueueOptions {
  concurrency: number;
  handler: (key: string) => Promise<void>;
  /** First retry delay after a failure; doubles per consecutive failure of the same key. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Told about every failure, with the delay before the retry. */
  onError?: (key: string, error: unknown, retryInMs: number) => void;
  /** Told about every handled key, for metrics. */
  onDone?: (key: string, ok: boolean, seconds: number) => void;
}

/**
 * The longest the queue runs handlers back to back before it lets the event loop take its I/O.
 * Handlers that do no I/O (a no-op resync pass reads only caches and writes nothing) chain
 * through promise jobs alone: a pass over 10,000 Machines held back watch events, /metrics, the
 * probes and the lease renewal until it ended (a Machine applied as one began was served after
 * 6.3 s; /metrics answered after up to 2,969 ms without the turns, 94 ms with them: benchmarks
 * of 2026-12-02). One turn per 10 ms costs nothing measurable.
 */
const YIELD_AFTER_MS = 10;

/** How urgent a key is: `bulk` keys run after every `change` key queued. */
export type Lane = "change" | "bulk";

/**
 * Keys in the order added, read from a moving head. Not an array's shift(): on a large array
 * V8 copies the rest at every shift (draining 100,000 bulk keys cost 55 us a key, 400,000 cost
 * 268 us, quadratic; 1.8 us at 10,000). Now 1.2-1.5 us a key at any of these sizes.
 */
class KeyLine {
  private keys: (string | undefined)[] = [];
  private head = 0;

  get length(): number {
    return this.keys.length - this.head;
  }

  push(key: string): void {
    this.keys.push(key);
  }

  /** The first key; a place left empty (see `vacate`) comes out as undefined. */
  shift(): string | undefined {
    if (this.head >= this.keys.length) return undefined;
    const key = this.keys[this.head];
    this.keys[this.head++] = undefined;
    // Drop the read part once it is half the array or more: amortised O(1) a key.
    if (this.head >= 1024 && this.head * 2 >= this.keys.length) {
      this.keys = this.keys.slice(this.head);
      this.head = 0;
    }
    return key;
  }

  /** Leaves the key's place empty: it moved to the other lane. */
  vacate(key: string): void {
    const at = this.keys.indexOf(key, this.head);
    if (at >= 0) this.keys[at] = undefined;
  }

  clear(): void {
    this.keys = [];
    this.head = 0;
  }
}

export class WorkQueue {
  /** Keys waiting, per lane, in the order added (a key moved ahead leaves its old place empty). */
  private readonly lanes: Record<Lane, KeyLine> = { change: new KeyLine(), bulk: new KeyLine() };
  /** The lane each waiting key is in. */
  private readonly queued = new Map<string, Lane>();
  /** Keys being handled, with the lane they were taken from (a retry goes back to it). */
  private readonly active = new Map<string, Lane>();
  /** Keys added while in flight, with the most urgent lane asked for: they run again after. */
  private readonly dirty = new Map<string, Lane>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private stopping = false;
  private idleWaiters: (() => void)[] = [];
  /** When the queue last let the event loop turn (see YIELD_AFTER_MS). */
  private lastYield = performance.now();

  constructor(private readonly options: WorkQueueOptions) {}

  add(key: string, lane: Lane = "change"): void {
    if (this.stopping) return;
    if (this.active.has(key)) {
      if (this.dirty.get(key) !== "change") this.dirty.set(key, lane);
      return;
    }
    const waiting = this.queued.get(key);
    if (waiting === "change" || waiting === lane) return;
    if (waiting === "bulk") {
      // Ahead into the change lane; its place in the bulk lane is left empty (next() skips it).
      this.lanes.bulk.vacate(key);
    }
    this.queued.set(key, lane);
    this.lanes[lane].push(key);
    this.pump();
  }

  /**
   * Adds the key after a delay, unless a timer for it is pending already: that one stands, sooner
   * or later (the reconcile it brings recomputes what is due and sets the next timer).
   */
  addAfter(key: string, delayMs: number, lane: Lane = "change"): void {
    if (this.stopping) return;
    if (this.timers.has(key)) return;
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key, lane);
    }, delayMs);
    timer.unref();
    this.timers.set(key, timer);
  }

  /** True while `key` waits for a timer (a retry or a due date). */
  scheduled(key: string): boolean {
    return this.timers.has(key);
  }

  /** Keys waiting (not counting those in flight or waiting for a retry timer). */
  get depth(): number {
    return this.queued.size;
  }

  get inFlight(): number {
    return this.active.size;
  }

  /** Resolves when nothing is queued or running (retry timers may still be pending). */
  idle(): Promise<void> {
    if (this.queued.size === 0 && this.active.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops taking keys and retries, drops what is queued, waits for handlers in flight. */
  async shutDown(): Promise<void> {
    this.stopping = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.lanes.change.clear();
    this.lanes.bulk.clear();
    this.queued.clear();
    this.dirty.clear();
    await this.idle();
  }

  /** Next key to run: the change lane first, then the bulk lane (skipping places left empty). */
  private next(): string | undefined {
    if (this.lanes.change.length > 0) return this.lanes.change.shift();
    const bulk = this.lanes.bulk;
    while (bulk.length > 0) {
      const key = bulk.shift();
      if (key !== undefined) return key;
    }
    return undefined;
  }

  private pump(): void {
    while (this.active.size < this.options.concurrency && this.queued.size > 0) {
      const key = this.next()!;
      this.active.set(key, this.queued.get(key)!);
      this.queued.delete(key);
      void this.run(key);
    }
    if (this.queued.size === 0 && this.active.size === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  private async run(key: string): Promise<void> {
    if (performance.now() - this.lastYield > YIELD_AFTER_MS) {
      await new Promise((resolve) => setImmediate(resolve));
      this.lastYield = performance.now();
    }
    const started = performance.now();
    let ok = true;
    try {
      await this.options.handler(key);
      this.failures.delete(key);
    } catch (error) {
      ok = false;
      const n = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, n);
      const delay = Math.min(
        (this.options.baseDelayMs ?? 50) * 2 ** (n - 1),
        this.options.maxDelayMs ?? 60_000,
      );
      this.options.onError?.(key, error, delay);
      // A bulk key failing (an API server down during a fan-out) retries in the bulk lane.
      this.addAfter(key, delay, this.active.get(key));
    } finally {
      this.options.onDone?.(key, ok, (performance.now() - started) / 1000);
      this.active.delete(key);
      const again = this.dirty.get(key);
      if (again) {
        this.dirty.delete(key);
        this.add(key, again);
      }
      this.pump();
    }
  }
}
