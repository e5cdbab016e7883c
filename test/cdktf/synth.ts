// Helpers for the cdktf tests: synthesize the stack the way a user does (run cdktf/main.ts with
// Node, as `cdktf synth` would) into a temporary outdir, and read the JSON.
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = join(fileURLToPath(new URL(".", import.meta.url)), "..", "..");
export const cdktfDir = join(repoRoot, "cdktf");

// biome-ignore lint/suspicious/noExplicitAny: synthesized Terraform JSON is untyped
export type TfJson = Record<string, any>;

export interface SynthResult {
  code: number;
  stdout: string;
  stderr: string;
  outdir: string;
  stackDir: string;
  json?: TfJson;
}

/** Env for the synth child without the developer's own backend choice leaking in. */
function cleanEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base = { ...process.env };
  for (const k of Object.keys(base)) {
    if (k.startsWith("CCTS_TF_") || k.startsWith("CCTS_CONSUL_") || k.startsWith("CONSUL_HTTP_"))
      delete base[k];
  }
  return { ...base, ...env };
}

/** Runs `node cdktf/main.ts` (the cdktf.json app) into a fresh outdir. */
export function synth(env: Record<string, string> = {}): Promise<SynthResult> {
  if (!existsSync(join(cdktfDir, "node_modules", "cdktf"))) {
    throw new Error(
      "cdktf/node_modules is missing: run `cd cdktf && npm ci` (cdktf/ has its own package.json and lockfile)",
    );
  }
  const outdir = mkdtempSync(join(tmpdir(), "ccts-cdktf-synth-"));
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ["--no-deprecation", join(cdktfDir, "main.ts")],
      { cwd: cdktfDir, env: cleanEnv({ CDKTF_OUTDIR: outdir, ...env }), timeout: 120_000 },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== "number") return reject(error);
        const stackDir = join(outdir, "stacks", "ccts");
        const file = join(stackDir, "cdk.tf.json");
        const code = error ? Number(error.code) : 0;
        const json =
          code === 0 && existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as TfJson) : undefined;
        resolve({ code, stdout, stderr, outdir, stackDir, json });
      },
    );
  });
}
