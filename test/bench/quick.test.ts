// The benchmark's quick mode, run whole as CI runs it (`bench/run.ts --quick`: nginx and wrk from
// Debian, a control plane of its own, ccts processes, 1,000 machines served and 500 in the
// cluster), so the benchmark cannot rot unnoticed. Asserted is only what does not depend on this
// machine's speed: the run finishes, every figure is there, nothing a client asked for failed,
// every ConfigMap of the fan-out was re-rendered and served (and again on separate cores), and a
// no-op resync wrote nothing.
// A second, shorter run (`--only serving`) checks that a partial run keeps the whole run's files.
// A third, stopped by SIGTERM once ccts serve is up, checks that it leaves no process behind.
// Targets met or missed are the report's business (bench/README.md), not this test's.
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT } from "../support/processes.js";
import { waitFor } from "../support/wait.js";

interface Run {
  code: number | null;
  stderr: string;
}

function runQuickBench(out: string, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(ROOT, "bench/run.ts"), "--quick", "--out", out, ...args],
      { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 },
      (err, _stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr }),
    );
  });
}

interface Storm {
  requests: number;
  ok: number;
  errors: number;
}
interface Serving {
  ccts: { best: { rps: number; errors: number }; at80: { errors: number } };
  nginx: { best: { rps: number } };
  storm: { ccts: Storm };
}

function expectServed(s: Serving): void {
  expect(s.ccts.best.rps).toBeGreaterThan(0);
  expect(s.nginx.best.rps).toBeGreaterThan(0);
  expect(s.ccts.best.errors).toBe(0);
  expect(s.ccts.at80.errors).toBe(0);
  expect(s.storm.ccts.errors).toBe(0);
  expect(s.storm.ccts.ok).toBe(s.storm.ccts.requests);
}

/** Pids whose parent is `pid` (from /proc). */
function childrenOf(pid: number): number[] {
  return readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        // The parent pid is the 2nd field after the command in parentheses.
        const stat = readFileSync(`/proc/${d}/stat`, "utf8");
        return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid;
      } catch {
        return false; // gone meanwhile
      }
    })
    .map(Number);
}

/** Running (not gone, not a zombie waiting to be reaped). */
function alive(pid: number): boolean {
  try {
    return !readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z ");
  } catch {
    return false; // gone
  }
}

describe("npm run bench, stopped", () => {
  it("leaves none of its processes behind when killed (SIGTERM)", async () => {
    const out = mkdtempSync(join(tmpdir(), "ccts-bench-killed-"));
    const bench = spawn(
      process.execPath,
      [join(ROOT, "bench/run.ts"), "--quick", "--only", "serving", "--out", out],
      {
        cwd: ROOT,
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    let children: number[] = [];
    try {
      let stderr = "";
      await new Promise<void>((resolve, reject) => {
        bench.stderr!.on("data", (chunk: Buffer) => {
          stderr += chunk.toString();
          // ccts serve is up once its warm-up begins.
          if (stderr.includes("warm-up")) resolve();
        });
        bench.on("exit", () => reject(new Error(`the benchmark ended early: ${stderr.slice(-2000)}`)));
      });
      children = childrenOf(bench.pid!);
      expect(children.length).toBeGreaterThan(0);
      bench.kill("SIGTERM");
      const [code] = await once(bench, "exit");
      expect(code).toBe(143);
      await waitFor(
        "the benchmark's processes to end",
        async () => children.every((pid) => !alive(pid)),
        5_000,
      );
    } finally {
      bench.kill("SIGKILL");
      for (const pid of children.filter(alive)) process.kill(pid, "SIGKILL"); // a failed run's
      rmSync(out, { recursive: true, force: true });
    }
  }, 60_000);
});

describe("npm run bench -- --quick", () => {
  const out = mkdtempSync(join(tmpdir(), "ccts-bench-quick-"));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("finishes with every figure, no failed request, a complete fan-out and a write-free resync", async () => {
    const run = await runQuickBench(out);
    expect(run.code, run.stderr.slice(-4000)).toBe(0);
    const result = JSON.parse(readFileSync(join(out, "quick.json"), "utf8"));
    expect(result.mode).toBe("quick");
    expect(result.failure).toBeUndefined();

    expectServed(result.serving);
    const c = result.cluster;
    expectServed(c.serving);
    expect(c.fanout.verifiedConfigMaps).toBe(c.machines);
    expect(c.fanout.writes.configmap).toBeGreaterThanOrEqual(c.machines);
    // A fan-out rewrites documents only: no status, Secret or Event per Machine.
    expect(c.fanout.writes).toMatchObject({ status: 0, secret: 0, event: 0 });
    expect(c.noopResync.reconciles).toBeGreaterThanOrEqual(c.machines);
    expect(c.noopResync.totalWrites).toBe(0);
    // The slowest /metrics answer during the pass, timed by the benchmark's polls.
    expect(c.noopResync.longestStallMs).toBeGreaterThan(0);
    // The diagnostic raw pass made as the controller makes its applies.
    expect(c.raw.asController.perSecond).toBeGreaterThan(0);
    expect(c.raw.asController.controlPlaneCpuMsPerWrite).toBeGreaterThan(0);
    expect(c.applyToServed.failures).toBe(0);
    expect(c.memory.controller.peakRssMiB).toBeGreaterThan(0);
    expect(c.memory.server.peakRssMiB).toBeGreaterThan(0);
    expect(c.memory.serverJoining.servedSeconds).toBeGreaterThan(0);
    // These machines have two CPUs: the fan-out on separate cores runs, and completes.
    expect(c.separateCores.skipped).toBeUndefined();
    expect(c.separateCores.configMaps).toBe(c.machines + c.applyToServed.samples);
    expect(c.separateCores.verifiedConfigMaps).toBe(c.separateCores.configMaps);
    expect(c.separateCores.configMapWritesPerSecond).toBeGreaterThan(0);
    expect(c.separateCores.referencePerSecond).toBeGreaterThan(0);
    // Machines applied while a fan-out was under way: every one served.
    expect(c.applyDuringFanout.samples).toBeGreaterThan(0);
    expect(c.applyDuringFanout.failures).toBe(0);
    expect(c.applyDuringFanout.fanoutWritten).toBeGreaterThan(0);
    // A controller started again renders every Machine and writes nothing.
    expect(c.restartPass.renders).toBeGreaterThanOrEqual(c.machines);
    expect(c.restartPass.totalWrites).toBe(0);

    // The report: one row per figure of the issue, each with a value that is a number.
    expect(result.targets.length).toBeGreaterThanOrEqual(19);
    for (const row of result.targets) expect(row.value, row.figure).not.toMatch(/NaN|undefined|null/);
    const table = readFileSync(join(out, "quick.md"), "utf8");
    expect(table).toContain("| figure | ccts | reference (same run) | target | met |");
  }, 900_000);

  it("--only serving writes its own files beside the whole run's", async () => {
    const dir = join(out, "only");
    mkdirSync(dir);
    // A whole run's result from before: an --only run must leave it alone.
    writeFileSync(join(dir, "quick.json"), "{}\n");
    const run = await runQuickBench(dir, "--only", "serving");
    expect(run.code, run.stderr.slice(-4000)).toBe(0);
    const result = JSON.parse(readFileSync(join(dir, "quick-serving.json"), "utf8"));
    expect(result).toMatchObject({ mode: "quick", only: "serving" });
    expect(result.cluster).toBeUndefined();
    expectServed(result.serving);
    expect(readFileSync(join(dir, "quick-serving.md"), "utf8")).toMatch(
      /^ccts bench \(quick, serving only\)/,
    );
    expect(JSON.parse(readFileSync(join(dir, "latest.json"), "utf8")).only).toBe("serving");
    expect(readFileSync(join(dir, "quick.json"), "utf8")).toBe("{}\n");
  }, 300_000);
});
