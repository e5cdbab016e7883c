// `npm run testenv`: the test control plane in the foreground, for manual work and for fast test
// loops (KUBECONFIG_CCTS_TEST=.testenv/kubeconfig npx vitest ...). Ctrl-C stops it.
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { repoRoot, startControlPlane } from "./harness.ts";

const target = resolve(repoRoot, process.env.CCTS_TESTENV_KUBECONFIG ?? ".testenv/kubeconfig");
const log = (line: string) => console.error(`[control-plane] ${line}`);

const cp = await startControlPlane({ log });
let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log(`${signal}: stopping`);
  await cp.stop();
  rmSync(target, { force: true }); // a kubeconfig of a stopped control plane only misleads
  log("stopped");
  process.exit(0);
}
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("SIGTERM", () => void shutdown("SIGTERM"));

mkdirSync(dirname(target), { recursive: true });
copyFileSync(cp.kubeconfig, target);
console.log(`control plane ready: ${cp.apiServerURL}`);
console.log(`  export KUBECONFIG=${target}`);
console.log(`  kubectl: ${cp.kubectl}`);
console.log(`  logs: ${cp.dir}/logs`);
// Keep the event loop alive until a signal arrives.
setInterval(() => {}, 1 << 30);
