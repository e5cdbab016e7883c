// The benchmark's CPU readings from /proc on a real Node child whose worker thread spins while its
// main thread waits: the whole process's seconds grow, its main thread's do not. The benchmark
// waits for a restarted server's main thread to go idle, which a CPU profiler's own sampling
// thread (`--cpu-prof`) would otherwise never let happen.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { afterEach, describe, expect, it } from "vitest";
import { cpuSeconds } from "../../bench/lib/util.ts";

const SPINNING_WORKER = `
const { Worker } = require("node:worker_threads");
new Worker("for (;;) {}", { eval: true }).on("online", () => console.log("spinning"));
setInterval(() => {}, 1000);
`;

describe("cpuSeconds", () => {
  let child: ChildProcess | undefined;
  afterEach(() => {
    child?.kill("SIGKILL");
  });

  it("counts every thread of a process, or its main thread only", async () => {
    child = spawn(process.execPath, ["-e", SPINNING_WORKER], { stdio: ["ignore", "pipe", "inherit"] });
    await once(child.stdout!, "data");
    const pid = child.pid!;
    const all0 = cpuSeconds(pid);
    const main0 = cpuSeconds(pid, true);
    await new Promise((r) => setTimeout(r, 1500));
    const all = cpuSeconds(pid) - all0;
    const main = cpuSeconds(pid, true) - main0;
    // The worker spins on a core of its own for 1.5 s; the main thread only waits on a timer.
    expect(all).toBeGreaterThan(0.5);
    expect(main).toBeLessThan(0.2);
  });

  it("is NaN for a process that is gone", () => {
    expect(cpuSeconds(2 ** 22 + 1)).toBeNaN();
    expect(cpuSeconds(2 ** 22 + 1, true)).toBeNaN();
  });
});
