import { describe, expect, it } from "vitest";
import { WorkQueue } from "../../src/controller/queue.js";

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** A queue of one worker, held by the key "block" (queued) until `gate` resolves; `seen`: run order. */
function blockedQueue() {
  const seen: string[] = [];
  const gate = deferred();
  const q = new WorkQueue({
    concurrency: 1,
    handler: async (k) => {
      seen.push(k);
      if (k === "block") await gate.promise;
    },
  });
  q.add("block");
  return { q, seen, gate };
}

describe("WorkQueue", () => {
  it("lets the event loop turn during a long run of handlers that do no I/O", async () => {
    // Each handler is busy for 1 ms and awaits nothing real, as a no-op resync's reconciles: 200
    // of them take at least 200 ms, far more than the queue runs without a turn of the loop.
    const q = new WorkQueue({
      concurrency: 8,
      handler: async () => {
        const until = performance.now() + 1;
        while (performance.now() < until);
      },
    });
    for (let i = 0; i < 200; i++) q.add(`k${i}`, "bulk");
    // An I/O callback (a watch event, a probe) queued now runs while most keys still wait; before,
    // it ran only once every key had been handled.
    const waitingWhenLoopTurned = await new Promise<number>((resolve) =>
      setImmediate(() => resolve(q.depth)),
    );
    expect(waitingWhenLoopTurned).toBeGreaterThan(100);
    await q.idle();
    expect(q.depth).toBe(0);
  });

  it("dedupes a key queued several times", async () => {
    const { q, seen, gate } = blockedQueue();
    q.add("a");
    q.add("a");
    q.add("a");
    expect(q.depth).toBe(1);
    gate.resolve();
    await q.idle();
    expect(seen).toEqual(["block", "a"]);
  });

  it("runs keys added for a change of their own before bulk keys queued earlier", async () => {
    const { q, seen, gate } = blockedQueue();
    for (const k of ["b1", "b2", "b3"]) q.add(k, "bulk");
    q.add("new");
    // Moved ahead, once: b2 was waiting in the bulk lane.
    q.add("b2");
    q.add("b2", "bulk");
    // Already waiting as a change: a bulk add leaves it there.
    q.add("new", "bulk");
    expect(q.depth).toBe(4);
    gate.resolve();
    await q.idle();
    expect(seen).toEqual(["block", "new", "b2", "b1", "b3"]);
    expect(q.depth).toBe(0);
  });

  it("keeps the order of thousands of bulk keys while keys move ahead, before and after its line is compacted", async () => {
    const keys = Array.from({ length: 3000 }, (_, i) => `k${i}`);
    const seen: string[] = [];
    const q = new WorkQueue({
      concurrency: 1,
      handler: async (k) => {
        seen.push(k);
        // By now the bulk line has dropped the 1,500 keys it handed out (KeyLine compacts).
        if (k === "k1500") q.add("k2500");
      },
    });
    for (const k of keys) q.add(k, "bulk");
    q.add("k10");
    await q.idle();
    const rest = keys.filter((k) => k !== "k10" && k !== "k2500");
    expect(seen).toEqual(["k0", "k10", ...rest.slice(1, 1500), "k2500", ...rest.slice(1500)]);
  });

  it("re-runs a key added while in flight in the most urgent lane it was added to", async () => {
    const seen: string[] = [];
    const gates = new Map([
      ["a", deferred()],
      ["b", deferred()],
    ]);
    const runs = new Map<string, number>();
    const q = new WorkQueue({
      concurrency: 1,
      handler: async (k) => {
        seen.push(k);
        runs.set(k, (runs.get(k) ?? 0) + 1);
        if (runs.get(k) === 1) await gates.get(k)?.promise;
      },
    });
    q.add("a");
    await tick();
    q.add("x", "bulk");
    q.add("a", "bulk"); // in flight: again, in the bulk lane, after x
    gates.get("a")!.resolve();
    await q.idle();
    expect(seen).toEqual(["a", "x", "a"]);

    seen.length = 0;
    q.add("b");
    await tick();
    q.add("y", "bulk");
    q.add("b", "bulk");
    q.add("b"); // and for a change of its own: again before y
    gates.get("b")!.resolve();
    await q.idle();
    expect(seen).toEqual(["b", "b", "y"]);
  });

  it("runs one handler per key at a time and re-runs a key added while in flight", async () => {
    let running = 0;
    let maxRunning = 0;
    let runs = 0;
    const gate = deferred();
    const q = new WorkQueue({
      concurrency: 4,
      handler: async () => {
        running++;
        runs++;
        maxRunning = Math.max(maxRunning, running);
        if (runs === 1) await gate.promise;
        running--;
      },
    });
    q.add("k");
    await tick();
    q.add("k");
    q.add("k");
    expect(q.inFlight).toBe(1);
    gate.resolve();
    await q.idle();
    await q.idle();
    expect(maxRunning).toBe(1);
    expect(runs).toBe(2);
  });

  it("bounds concurrency across keys", async () => {
    let running = 0;
    let maxRunning = 0;
    const q = new WorkQueue({
      concurrency: 3,
      handler: async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await tick(5);
        running--;
      },
    });
    for (let i = 0; i < 20; i++) q.add(`k${i}`);
    await q.idle();
    expect(maxRunning).toBe(3);
  });

  it("retries failures with capped exponential backoff and forgets them after a success", async () => {
    const delays: number[] = [];
    let attempts = 0;
    const q = new WorkQueue({
      concurrency: 1,
      baseDelayMs: 2,
      maxDelayMs: 8,
      handler: async () => {
        attempts++;
        if (attempts <= 5) throw new Error(`fail ${attempts}`);
      },
      onError: (_k, _e, delay) => delays.push(delay),
    });
    q.add("k");
    while (attempts < 6) await tick(5);
    expect(delays).toEqual([2, 4, 8, 8, 8]);
    // A later failure starts from the base delay again.
    attempts = 0;
    q.add("k");
    await tick(1);
    expect(delays.at(-1)).toBe(2);
    await q.shutDown();
  });

  it("retries a failed key in the lane it was taken from", async () => {
    const seen: string[] = [];
    const failed = new Set<string>();
    const gate = deferred();
    const q = new WorkQueue({
      concurrency: 1,
      baseDelayMs: 1,
      handler: async (k) => {
        seen.push(k);
        if (k === "hold") await gate.promise;
        if (k.startsWith("fail") && !failed.has(k)) {
          failed.add(k);
          throw new Error("API server down");
        }
      },
    });
    q.add("fail-bulk", "bulk"); // runs at once
    q.add("fail-change");
    q.add("hold");
    q.add("x", "bulk");
    await tick(10); // both failed once, hold runs; the retries are queued by now
    q.add("y");
    gate.resolve();
    await q.idle();
    // Retried: fail-change in the change lane (before y), fail-bulk in the bulk lane (after x).
    expect(seen).toEqual(["fail-bulk", "fail-change", "hold", "fail-change", "y", "x", "fail-bulk"]);
  });

  it("shutDown waits for handlers in flight and takes no more keys", async () => {
    const gate = deferred();
    let finished = false;
    const seen: string[] = [];
    const q = new WorkQueue({
      concurrency: 1,
      handler: async (k) => {
        seen.push(k);
        await gate.promise;
        finished = true;
      },
    });
    q.add("a");
    q.add("b");
    const down = q.shutDown();
    q.add("c");
    setTimeout(() => gate.resolve(), 10);
    await down;
    expect(finished).toBe(true);
    expect(seen).toEqual(["a"]);
  });
});
