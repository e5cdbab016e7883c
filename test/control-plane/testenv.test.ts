// `npm run testenv` (testenv.ts): prints ready, writes the kubeconfig, stops cleanly on SIGTERM;
// and when killed with SIGKILL, the watchdog still ends every process it started.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { processesNaming, repoRoot, runKubectl } from "./harness.ts";

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill("SIGKILL");
});

/** Starts testenv.ts and resolves once it printed its ready line, with the run dir it uses. */
async function startTestenv(
  kubeconfig: string,
): Promise<{ child: ChildProcess; runDir: string; kubectl: string }> {
  const child = spawn(process.execPath, [join(repoRoot, "test/control-plane/testenv.ts")], {
    env: { ...process.env, CCTS_TESTENV_KUBECONFIG: kubeconfig },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let out = "";
  let err = "";
  child.stderr?.on("data", (d: Buffer) => {
    err += d;
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on("data", (d: Buffer) => {
      out += d;
      if (/logs: .*\n/.test(out)) resolve();
    });
    child.on("exit", (code) => reject(new Error(`testenv exited ${code}:\n${err}`)));
  });
  expect(out).toMatch(/ready/);
  const runDir = out.match(/logs: (.*)\/logs\n/)?.[1] ?? "";
  const kubectl = out.match(/kubectl: (.*)\n/)?.[1] ?? "";
  return { child, runDir, kubectl };
}

async function eventually(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  return check();
}

describe("npm run testenv", () => {
  it("serves a working kubeconfig and stops cleanly on SIGTERM", async () => {
    const tmp = mkdtempSync(join(tmpdir(), "ccts-testenv-"));
    try {
      const kubeconfig = join(tmp, "kubeconfig");
      const { child, runDir, kubectl } = await startTestenv(kubeconfig);
      const r = await runKubectl(kubectl, kubeconfig, ["get", "crd", "machines.ccts.io", "-o", "name"]);
      expect(r.stdout.trim()).toBe("customresourcedefinition.apiextensions.k8s.io/machines.ccts.io");
      expect(processesNaming(runDir).length).toBeGreaterThanOrEqual(3);
      const exited = new Promise<number | null>((res) => child.on("exit", (code) => res(code)));
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
      expect(processesNaming(runDir)).toEqual([]);
      expect(existsSync(kubeconfig)).toBe(false);
      expect(existsSync(runDir)).toBe(false);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 300_000);

  it("leaves no process behind when killed with SIGKILL (watchdog)", async () => {
    const tmp = mkdtempSync(join(tmpdir(), "ccts-testenv-"));
    try {
      const { child, runDir } = await startTestenv(join(tmp, "kubeconfig"));
      expect(processesNaming(runDir).length).toBeGreaterThanOrEqual(3);
      child.kill("SIGKILL");
      expect(await eventually(() => processesNaming(runDir).length === 0, 20_000)).toBe(true);
      expect(await eventually(() => !existsSync(runDir), 5_000)).toBe(true);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 300_000);
});
