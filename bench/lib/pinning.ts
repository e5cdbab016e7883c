// Binding processes to CPUs (taskset, from util-linux) for the fan-out on separate cores: the
// control plane on one core, ccts and the benchmark's client on the other, as in a real cluster
// where the API server does not share its cores with the controller.
import { execFileSync } from "node:child_process";
import { availableParallelism } from "node:os";

/** Why processes cannot be pinned here; undefined when they can. */
export function cannotPin(): string | undefined {
  if (availableParallelism() < 2) return `${availableParallelism()} CPU: nothing to separate`;
  try {
    execFileSync("taskset", ["-V"], { stdio: "ignore" });
  } catch {
    return "taskset (util-linux) is not installed";
  }
  return undefined;
}

/** The CPUs a process may run on, as the kernel lists them (`0-1`, `0`, `2,5`). */
export function allowedCpus(pid: number): string {
  const out = execFileSync("taskset", ["-c", "-p", String(pid)], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  // "pid 123's current affinity list: 0,1"
  const list = /list:\s*(\S+)/.exec(out)?.[1];
  if (!list) throw new Error(`taskset: no affinity list for pid ${pid} in ${JSON.stringify(out)}`);
  return list;
}

/**
 * Binds every thread of each process to `cpus` (a list as taskset takes it). Threads a process
 * starts later inherit the mask of the thread that starts them. Throws for a process that is gone
 * (`taskset -a` alone succeeds for one: it finds no threads to bind).
 */
export function pin(pids: readonly number[], cpus: string): void {
  for (const pid of pids) {
    execFileSync("taskset", ["-a", "-c", "-p", cpus, String(pid)], { stdio: "ignore" });
    allowedCpus(pid);
  }
}
