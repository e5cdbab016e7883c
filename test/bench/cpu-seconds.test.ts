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
    // Until the spinning worker has used half a second (sooner or later on a busy machine)...
    const deadline = Date.now() + 30_000;
    while (cpuSeconds(pid) - all0 < 0.5 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    expect(cpuSeconds(pid) - all0).toBeGreaterThanOrEqual(0.5);
    // ...while the main thread only waited on a timer.
    expect(cpuSeconds(pid, true) - main0).toBeLessThan(0.1);
  });

  it("is NaN for a process that is gone", () => {
    expect(cpuSeconds(2 ** 22 + 1)).toBeNaN();
    expect(cpuSeconds(2 ** 22 + 1, true)).toBeNaN();
  });
});
