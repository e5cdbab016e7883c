// Runs a test script in a network and mount namespace of its own (unshare): as root directly,
// as anyone else through a user namespace of their own. The script's output, or an error with it.
import { execFile } from "node:child_process";
import { promisify } from "node:util";

export async function runInNamespace(
  script: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<string> {
  const unshare = process.getuid?.() === 0 ? ["--net", "--mount"] : ["--map-root-user", "--net", "--mount"];
  try {
    const { stdout } = await promisify(execFile)("unshare", [...unshare, "sh", script, ...args], {
      env: { ...process.env, ...options.env },
      timeout: options.timeoutMs,
    });
    return stdout;
  } catch (e) {
    const err = e as { message: string; stdout?: string; stderr?: string };
    throw new Error(`${err.message}\n${err.stdout ?? ""}${err.stderr ?? ""}`);
  }
}
