// HTTP load with wrk (C, one thread): keep-alive connections, each request a random path from a
// file. Optionally paced to a fixed overall rate (LuaJIT's ffi reads the monotonic clock; every
// request takes the next slot of a global schedule, so the load is even, not bursty).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { run } from "./procs.ts";

const LUA = `
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk, bench_timespec *tp);
]]
local ts = ffi.new("bench_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts)
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end
local paths = {}
local interval = 0
local next_at = 0

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then paths[#paths + 1] = line end
  end
  local rate = tonumber(args[2] or "0")
  if rate > 0 then interval = 1000 / rate end
  math.randomseed(tonumber(args[3] or "1"))
end

function request()
  return wrk.format("GET", paths[math.random(#paths)])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"durationUs":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50Us":%d,"p90Us":%d,"p99Us":%d,"p999Us":%d,"maxUs":%d,"meanUs":%.1f}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max, latency.mean))
end
`;

// wrk asks delay() before every request when the script defines it (also with 0), which costs a
// timer per request: only the paced script has it. The schedule catches up on at most 10 ms of
// backlog (wrk's timers have 1 ms resolution); a longer stall of the server is not made good.
const PACED = `
function delay()
  local now = now_ms()
  if next_at < now - 10 then next_at = now - 10 end
  next_at = next_at + interval
  local d = next_at - now
  if d < 1 then return 0 end
  return math.floor(d)
end
`;

export interface WrkResult {
  requests: number;
  durationUs: number;
  bytes: number;
  connect: number;
  read: number;
  write: number;
  status: number;
  timeout: number;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
  meanUs: number;
  /** Derived: requests per second over the run. */
  rps: number;
  /** Derived: socket errors plus non-2xx/3xx answers. */
  errors: number;
}

export function writeScripts(dir: string): { plain: string; paced: string } {
  const plain = join(dir, "random-path.lua");
  const paced = join(dir, "random-path-paced.lua");
  writeFileSync(plain, LUA);
  writeFileSync(paced, LUA + PACED);
  return { plain, paced };
}

export interface WrkOptions {
  url: string;
  script: string;
  pathsFile: string;
  connections: number;
  seconds: number;
  /** Overall requests/s; 0 or absent: as fast as possible. Needs the paced script. */
  rate?: number;
  /** Extra headers, e.g. "Connection: close". */
  headers?: string[];
}

let seed = 1;

export async function wrk(o: WrkOptions): Promise<WrkResult> {
  const args = ["-t1", `-c${o.connections}`, `-d${o.seconds}s`, "--timeout", "5s", "-s", o.script];
  for (const h of o.headers ?? []) args.push("-H", h);
  args.push(o.url, "--", o.pathsFile, String(o.rate ?? 0), String(seed++));
  const { code, stdout, stderr } = await run("wrk", args, (o.seconds + 30) * 1000);
  const line = stdout.split("\n").find((l) => l.startsWith("BENCH_JSON "));
  if (code !== 0 || !line) throw new Error(`wrk failed (exit ${code}): ${stderr}\n${stdout}`);
  const r = JSON.parse(line.slice("BENCH_JSON ".length)) as Omit<WrkResult, "rps" | "errors">;
  return {
    ...r,
    rps: r.requests / (r.durationUs / 1e6),
    errors: r.connect + r.read + r.write + r.status + r.timeout,
  };
}
