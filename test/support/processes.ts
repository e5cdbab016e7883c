// Starting the real ccts CLI (the compiled dist/) as a child process, and stopping it again.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { waitFor } from "./wait.js";

export const ROOT = join(import.meta.dirname, "../..");
export const CLI = join(ROOT, "dist/cli/main.js");
/** The version in package.json: what `ccts version`, the start-up line and ccts_build_info name. */
export const PACKAGE_VERSION = (
  JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }
).version;
/** The line ccts_build_info has in a /metrics text. */
export const BUILD_INFO_LINE = new RegExp(
  `^ccts_build_info\\{version="${PACKAGE_VERSION.replaceAll(".", "\\.")}"\\} 1$`,
  "m",
);
/** The machine's own Node (20 here): the CLI must run on it, not only on the tests' Node 24. */
export const SYSTEM_NODE = "/usr/bin/node";

export { freePort } from "./ports.js";

export interface Running {
  process: ChildProcess;
  output: () => string;
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
}

export function startCli(args: string[], options: { node?: string; env?: NodeJS.ProcessEnv } = {}): Running {
  const child = spawn(options.node ?? process.execPath, [CLI, ...args], {
    env: { ...process.env, CCTS_LOG_LEVEL: "info", ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (d) => {
    out += d;
  });
  child.stderr.on("data", (d) => {
    out += d;
  });
  const exited = once(child, "exit").then(([code]) => code as number | null);
  return {
    process: child,
    output: () => out,
    stop: async (signal = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

export async function runCli(
  args: string[],
  node = process.execPath,
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(node, [CLI, ...args], {
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

export async function waitReady(base: string, timeoutMs = 15_000): Promise<void> {
  await waitFor(`${base}/readyz`, async () => (await fetch(`${base}/readyz`)).status === 200, timeoutMs, 50);
}
