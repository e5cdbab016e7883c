// Simulating an API server outage: a private control plane (not the shared one other test files
// use), stopped and restarted on the same port with the same data. Also: stop() leaves no process.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  type ControlPlane,
  cleanStaleRuns,
  processesNaming,
  runsRoot,
  startControlPlane,
} from "./harness.ts";

let cp: ControlPlane;
beforeAll(async () => {
  cp = await startControlPlane();
}, 300_000);
afterAll(() => cp?.stop());

describe("private control plane", () => {
  it("survives an API server restart: same URL, data kept, clients recover", async () => {
    const created = await cp.kubectlRun([
      "create",
      "configmap",
      "survivor",
      "-n",
      "default",
      "--from-literal=k=v",
    ]);
    expect(created.stderr).toBe("");
    await cp.stopApiServer();
    const down = await cp.kubectlRun([
      "get",
      "configmap",
      "survivor",
      "-n",
      "default",
      "--request-timeout=3s",
    ]);
    expect(down.code).not.toBe(0);
    expect(down.stderr).toMatch(/refused/);
    await cp.startApiServer();
    const back = await cp.kubectlRun([
      "get",
      "configmap",
      "survivor",
      "-n",
      "default",
      "-o",
      "jsonpath={.data.k}",
    ]);
    expect(back.stderr).toBe("");
    expect(back.stdout).toBe("v");
    // CRDs are stored in etcd as well, so they are back without re-applying.
    const crd = await cp.kubectlRun(["get", "machines.ccts.io", "-A"]);
    expect(crd.code).toBe(0);
  }, 180_000);

  it("stop() ends every process and removes the run dir", async () => {
    const dir = cp.dir;
    expect(processesNaming(dir).length).toBeGreaterThanOrEqual(3); // etcd, kube-apiserver, kcm
    await cp.stop();
    expect(processesNaming(dir)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  }, 60_000);
});

describe("stale runs", () => {
  it("the next start kills what a run whose owner and watchdog both died left behind", async () => {
    // A dead owner pid: a process that has already exited.
    const gone = spawnSync("true");
    expect(gone.pid).toBeGreaterThan(0);
    mkdirSync(runsRoot, { recursive: true });
    const dir = mkdtempSync(join(runsRoot, "run-"));
    writeFileSync(join(dir, "owner"), String(gone.pid));
    // Stands in for an orphaned etcd: its own process group, its command line names the run dir.
    const orphan = spawn("/bin/bash", ["-c", "sleep 300; exit 0", "orphan", dir], {
      detached: true,
      stdio: "ignore",
    });
    writeFileSync(join(dir, "pids"), `${orphan.pid}\n`);
    const exited = new Promise((r) => orphan.on("exit", r));
    await vi.waitFor(() => expect(processesNaming(dir).length).toBe(1)); // once it has exec'd
    cleanStaleRuns();
    await exited;
    expect(processesNaming(dir)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  });
});
