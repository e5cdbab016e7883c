// bench/tools/controller-core.ts, run as an engineer runs it (on the compiled controller): it
// reconciles every Machine through a fan-out per pass, prints the CPU per reconcile and writes a
// CPU profile; a pass that does not write every Machine's ConfigMap makes it fail.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT } from "../support/processes.js";

const TOOL = join(ROOT, "bench/tools/controller-core.ts");

function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [TOOL, ...args], { cwd: ROOT }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe("bench/tools/controller-core.ts", () => {
  const dir = mkdtempSync(join(tmpdir(), "ccts-core-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("prints the CPU per fan-out reconcile and writes a CPU profile of the passes", async () => {
    const profile = join(dir, "core.cpuprofile");
    const { code, stdout, stderr } = await run("40", "2", profile);
    expect(code, stderr).toBe(0);
    const median = /40 Machines, 2 fan-out passes: CPU per reconcile median ([\d.]+) ms/.exec(stdout);
    expect(median, stdout).not.toBeNull();
    expect(Number(median![1])).toBeGreaterThan(0);
    const written = JSON.parse(readFileSync(profile, "utf8")) as {
      nodes: { callFrame: { functionName: string } }[];
      samples: number[];
    };
    expect(written.samples.length).toBeGreaterThan(0);
    // The profile is of the reconciles, not of an idle process.
    expect(written.nodes.map((n) => n.callFrame.functionName)).toContain("renderMachine");
  });

  it("refuses a count that is not a number", async () => {
    const { code, stderr } = await run("many");
    expect(code).toBe(2);
    expect(stderr).toContain("usage:");
  });
});
