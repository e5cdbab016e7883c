// Test support: `ccts serve` (the compiled CLI in dist/; run `npm run build` first) on a temp copy of
// examples/cluster plus extra YAML, on 127.0.0.1 and a free port.
import { existsSync } from "node:fs";
import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EXAMPLE_DIR } from "../support/kube.js";
import { CLI, freePort, type Running, startCli, waitReady } from "../support/processes.js";

export interface Served {
  base: string;
  port: number;
  dir: string;
  server: Running;
  stop(): Promise<void>;
}

/**
 * `extra(port)` gives YAML written as extra.yaml beside the examples (it may use the port); `flags`
 * go to `ccts serve` after the listen flags.
 */
export async function serveExamples(extra?: (port: number) => string, flags: string[] = []): Promise<Served> {
  if (!existsSync(CLI)) throw new Error(`${CLI} missing: run npm run build first`);
  const dir = await mkdtemp(join(tmpdir(), "ccts-boot-"));
  await cp(EXAMPLE_DIR, dir, { recursive: true });
  const port = await freePort();
  if (extra) await writeFile(join(dir, "extra.yaml"), extra(port));
  const base = `http://127.0.0.1:${port}`;
  const server = startCli(["serve", "--dir", dir, "--port", String(port), "--host", "127.0.0.1", ...flags]);
  try {
    await waitReady(base);
  } catch (err) {
    await server.stop();
    throw new Error(`${String(err)}\n${server.output()}`);
  }
  return {
    base,
    port,
    dir,
    server,
    async stop() {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** URLs (path and query) of the requests the server's access log shows, with their status. */
export function accessLog(output: string): { url: string; status: number }[] {
  const out: { url: string; status: number }[] = [];
  for (const line of output.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      const entry = JSON.parse(line) as { msg?: string; url?: string; status?: number };
      if (entry.msg === "request" && entry.url && entry.status)
        out.push({ url: entry.url, status: entry.status });
    } catch {
      // Not a log line.
    }
  }
  return out;
}
