// A keyed work queue in the style of client-go's workqueue: keys, not events, are queued
// (level-triggered: the handler re-reads state), a key is queued at most once, at most one
// handler runs per key, a key added while it is being handled runs once more afterwards, a
// failure is retried with capped exponential backoff, and at most `concurrency` handlers run.

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

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly active = new Set<string>();
  /** Keys added while in flight: they run again when the current run ends. */
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private stopping = false;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly options: WorkQueueOptions) {}

  add(key: string): void {
    if (this.stopping) return;
    if (this.active.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.queue.push(key);
    this.pump();
  }

  /**
   * Adds the key after a delay, unless a timer for it is pending already: that one stands, sooner
   * or later (the reconcile it brings recomputes what is due and sets the next timer).
   */
  addAfter(key: string, delayMs: number): void {
    if (this.stopping) return;
    if (this.timers.has(key)) return;
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
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
    return this.queue.length;
  }

  get inFlight(): number {
    return this.active.size;
  }

  /** Resolves when nothing is queued or running (retry timers may still be pending). */
  idle(): Promise<void> {
    if (this.queue.length === 0 && this.active.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops taking keys and retries, drops what is queued, waits for handlers in flight. */
  async shutDown(): Promise<void> {
    this.stopping = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.queue.length = 0;
    this.queued.clear();
    this.dirty.clear();
    await this.idle();
  }

  private pump(): void {
    while (this.active.size < this.options.concurrency && this.queue.length > 0) {
      const key = this.queue.shift()!;
      this.queued.delete(key);
      this.active.add(key);
      void this.run(key);
    }
    if (this.queue.length === 0 && this.active.size === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  private async run(key: string): Promise<void> {
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
      this.addAfter(key, delay);
    } finally {
      this.options.onDone?.(key, ok, (performance.now() - started) / 1000);
      this.active.delete(key);
      if (this.dirty.delete(key)) this.add(key);
      this.pump();
    }
  }
}
