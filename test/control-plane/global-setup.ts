// vitest globalSetup: one shared control plane per run (see harness.ts). Tests read it with
// inject("kubeconfig") / inject("kubectl") or the env vars below, and take a namespace each
// (namespace.ts).
//
// KUBECONFIG_CCTS_TEST already set (e.g. to .testenv/kubeconfig of a running `npm run testenv`):
// reuse that control plane instead of starting one, for fast edit-test loops.
// It starts only when a test file of the run needs it (imports namespace.ts or harness.ts, or
// test/support/runtime.ts, or injects kubeconfig/kubectl), so unit-test runs do not pay for it; in watch mode it always starts.
// CCTS_CONTROL_PLANE=0: never start; CCTS_CONTROL_PLANE=1: always start.
import { readFileSync } from "node:fs";
import type { TestProject } from "vitest/node";
import { buildControlPlane, startControlPlane } from "./harness.ts";

declare module "vitest" {
  export interface ProvidedContext {
    kubeconfig: string;
    kubectl: string;
    controlPlaneBinDir: string;
  }
}

const NEEDS_CONTROL_PLANE =
  /control-plane\/(namespace|harness)(\.[jt]s)?["']|support\/runtime(\.[jt]s)?["']|from "\.\/(namespace|harness)(\.[jt]s)?"|inject\(["'](kubeconfig|kubectl|controlPlaneBinDir)["']\)/;

function runNeedsControlPlane(project: TestProject): boolean {
  const flag = process.env.CCTS_CONTROL_PLANE;
  if (flag === "0" || flag === "1") return flag === "1";
  if (project.vitest.config.watch) return true;
  // The files of this run are known when global setup runs (vitest.state.getPaths() is not a
  // documented API: when it is missing or empty, start the control plane rather than guess).
  const files = (project.vitest as { state?: { getPaths?: () => string[] } }).state?.getPaths?.();
  if (!files?.length) return true;
  return files.some((f) => {
    try {
      return NEEDS_CONTROL_PLANE.test(readFileSync(f, "utf8"));
    } catch {
      return true;
    }
  });
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  if (!runNeedsControlPlane(project)) return undefined;
  const log = (line: string) => console.error(`[control-plane] ${line}`);
  let kubeconfig = process.env.KUBECONFIG_CCTS_TEST;
  let binDir: string;
  let stop: (() => Promise<void>) | undefined;
  if (kubeconfig) {
    binDir = await buildControlPlane(log);
    log(`reusing control plane of KUBECONFIG_CCTS_TEST=${kubeconfig}`);
  } else {
    const started = Date.now();
    const cp = await startControlPlane({ log });
    log(`up in ${((Date.now() - started) / 1000).toFixed(1)} s at ${cp.apiServerURL}`);
    ({ kubeconfig, binDir } = cp);
    stop = () => cp.stop();
  }
  const kubectl = `${binDir}/kubectl`;
  project.provide("kubeconfig", kubeconfig);
  project.provide("kubectl", kubectl);
  project.provide("controlPlaneBinDir", binDir);
  // Workers inherit the env; also handy for child processes a test spawns.
  process.env.KUBECONFIG_CCTS_TEST = kubeconfig;
  process.env.CCTS_TEST_KUBECTL = kubectl;
  return stop;
}
