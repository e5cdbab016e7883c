// Child processes of the benchmark (ccts, nginx, wrk): output to a log file in the run's temp dir,
// stopped by their own pid only; anything still running when the benchmark exits is killed.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { memoryOf } from "./util.ts";

export { freePort } from "../../test/support/ports.ts";

export const ROOT = join(import.meta.dirname, "..", "..");
export const CLI = join(ROOT, "dist", "cli", "main.js");

const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of running)
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
});
// A benchmark stopped by Ctrl-C or kill would end without 'exit' handlers, leaving its ccts
// processes running: exit instead, so the handler above stops them.
for (const [signal, code] of [
  ["SIGINT", 130],
  ["SIGTERM", 143],
] as const)
  process.once(signal, () => process.exit(code));

export interface Proc {
  name: string;
  pid: number;
  logFile: string;
  log: () => string;
  exited: Promise<number | null>;
  memory: () => { peakRssMiB: number; rssMiB: number } | undefined;
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
}

export function startProc(
  name: string,
  command: string,
  args: string[],
  logDir: string,
  env: NodeJS.ProcessEnv = {},
): Proc {
  const logFile = join(logDir, `${name}.log`);
  const fd = openSync(logFile, "a");
  const child = spawn(command, args, { stdio: ["ignore", fd, fd], env: { ...process.env, ...env } });
  closeSync(fd);
  running.add(child);
  const exited = once(child, "exit").then(([code]) => {
    running.delete(child);
    return code as number | null;
  });
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  const pid = child.pid;
  return {
    name,
    pid,
    logFile,
    log: () => readFileSync(logFile, "utf8"),
    exited,
    memory: () => memoryOf(pid),
    stop: async (signal = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
        const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
        const code = await exited;
        clearTimeout(timer);
        return code;
      }
      return exited;
    },
  };
}

/**
 * Starts `node dist/cli/main.js ARGS` on the benchmark's own Node (24). CCTS_BENCH_NODE_ARGS adds
 * Node flags NODE_OPTIONS refuses, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile them.
 */
export function startCcts(name: string, args: string[], logDir: string, env: NodeJS.ProcessEnv = {}): Proc {
  const nodeArgs = process.env.CCTS_BENCH_NODE_ARGS?.split(" ").filter(Boolean) ?? [];
  return startProc(name, process.execPath, [...nodeArgs, CLI, ...args], logDir, {
    CCTS_LOG_LEVEL: "info",
    NODE_OPTIONS: IMAGE_NODE_OPTIONS,
    ...env,
  });
}

/** The image's link to Debian's jemalloc, which the controller's container preloads (deploy/). */
export const IMAGE_JEMALLOC = "/usr/local/lib/libjemalloc.so.2";

/**
 * The controller's environment as its container has it: jemalloc preloaded (here Debian's library
 * itself; the image links it to IMAGE_JEMALLOC). CCTS_BENCH_MALLOC=glibc measures without it.
 */
export function controllerEnv(): NodeJS.ProcessEnv {
  return process.env.CCTS_BENCH_MALLOC === "glibc"
    ? {}
    : { LD_PRELOAD: jemallocLibrary(), MALLOC_CONF: CONTROLLER_MALLOC_CONF };
}

/**
 * The controller container's jemalloc settings (deploy/ and the CDKTF stack; tests keep them equal):
 * freed pages go back to the kernel at once rather than after a 10-s decay, and one arena serves
 * every thread (jemalloc's default is four per core; one measured 6-10 MiB lower, bench/README.md).
 */
export const CONTROLLER_MALLOC_CONF = "dirty_decay_ms:0,muzzy_decay_ms:0,narenas:1";

/** Debian's jemalloc on this machine (libjemalloc2, as in the image). */
export function jemallocLibrary(): string {
  const triplet = process.arch === "arm64" ? "aarch64-linux-gnu" : "x86_64-linux-gnu";
  const path = `/usr/lib/${triplet}/libjemalloc.so.2`;
  if (!existsSync(path))
    throw new Error(
      `${path} is missing: the controller's container preloads jemalloc; install Debian's libjemalloc2 (scripts/install-test-deps.sh does) or set CCTS_BENCH_MALLOC=glibc`,
    );
  return path;
}

/** The image's NODE_OPTIONS (Dockerfile; test/deploy/dockerfile.test.ts keeps them equal). */
export const IMAGE_NODE_OPTIONS = "--max-semi-space-size=16 --max-old-space-size=256";

/**
 * The cluster server's NODE_OPTIONS (its container's env in deploy/ and the CDKTF stack; the
 * deploy tests keep them equal): a 2 MiB young generation, measured without a cost in req/s.
 */
export const SERVER_NODE_OPTIONS = "--max-semi-space-size=2 --max-old-space-size=256";

/** Runs a command to completion; resolves with its output (never rejects on a non-zero exit). */
export function run(
  command: string,
  args: string[],
  timeoutMs: number,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== "number" && !error.killed) reject(error);
      else resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}
