// Boot storm: every MAC asks once, each over a fresh TCP connection (no keep-alive), arrivals
// spread evenly over the window (open loop: a request starts on schedule whatever is in flight).
// Latency runs from opening the connection to the last byte of the answer.
import http from "node:http";
import { nowMs, percentile, round } from "./util.ts";

export interface StormResult {
  requests: number;
  ok: number;
  errors: number;
  errorKinds: Record<string, number>;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** From the first request to the last answer. */
  durationS: number;
  maxInFlight: number;
}

function one(
  port: number,
  path: string,
  expect: string | undefined,
): Promise<{ ms: number; error?: string }> {
  const start = nowMs();
  return new Promise((resolve) => {
    let settled = false;
    const finish = (error?: string) => {
      if (settled) return;
      settled = true;
      resolve({ ms: nowMs() - start, ...(error ? { error } : {}) });
    };
    const req = http.get(
      { host: "127.0.0.1", port, path, agent: false, headers: { connection: "close" }, timeout: 10_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          if (res.statusCode !== 200) return finish(`status ${res.statusCode}`);
          if (expect !== undefined && !Buffer.concat(chunks).toString("utf8").includes(expect))
            return finish("wrong body");
          finish();
        });
        res.on("error", (e: NodeJS.ErrnoException) => finish(e.code ?? e.message));
      },
    );
    req.on("timeout", () => {
      req.destroy();
      finish("timeout");
    });
    req.on("error", (e: NodeJS.ErrnoException) => finish(e.code ?? e.message));
  });
}

/** paths[i] is asked once; expect[i], when given, must appear in the body (the machine's hostname). */
export async function bootStorm(
  port: number,
  paths: readonly string[],
  windowMs: number,
  expect?: readonly string[],
): Promise<StormResult> {
  const latencies: number[] = [];
  const errorKinds: Record<string, number> = {};
  let inFlight = 0;
  let maxInFlight = 0;
  const started: Promise<void>[] = [];
  const t0 = nowMs();
  const step = windowMs / paths.length;
  let next = 0;
  await new Promise<void>((done) => {
    const tick = () => {
      const due = Math.min(paths.length, Math.floor((nowMs() - t0) / step) + 1);
      while (next < due) {
        const i = next++;
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        started.push(
          one(port, paths[i]!, expect?.[i]).then((r) => {
            inFlight--;
            latencies.push(r.ms);
            if (r.error) errorKinds[r.error] = (errorKinds[r.error] ?? 0) + 1;
          }),
        );
      }
      if (next < paths.length) setTimeout(tick, 2);
      else done();
    };
    tick();
  });
  await Promise.all(started);
  const errors = Object.values(errorKinds).reduce((a, b) => a + b, 0);
  return {
    requests: paths.length,
    ok: paths.length - errors,
    errors,
    errorKinds,
    p50Ms: round(percentile(latencies, 50), 3),
    p99Ms: round(percentile(latencies, 99), 3),
    maxMs: round(Math.max(...latencies), 3),
    durationS: round((nowMs() - t0) / 1000, 3),
    maxInFlight,
  };
}
