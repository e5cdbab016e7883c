// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the expected values are Terraform interpolations
// The stack's front door with real parts: Debian's HAProxy runs the haproxy.cfg the stack
// synthesizes (checked by `haproxy -c` first), in front of `ccts serve` started with the HTTP flags
// the stack gives the server. A boot storm from many machines (distinct loopback source addresses)
// goes through it. HAProxy opens its own connections to the server, so the server sees HAProxy as
// the client of every machine: a per-client rate limit on the server throttled the whole fleet.
// Debian ships HAProxy 2.6; the stack's image is haproxy:3.2 (the config uses nothing newer).
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { freePort, type Running, startCli, waitReady } from "../support/processes.js";
import { waitFor } from "../support/wait.js";
import { repoRoot, synth, type TfJson } from "./synth.ts";

const MAC = "52:54:00:12:34:01";
/** The server's HTTP flags that decide who a client is and how much it may ask. */
const HTTP_FLAGS = new Set(["--rate-limit", "--rate-burst", "--trusted-proxies", "--authorize-by-address"]);

let tf: TfJson;

/** Variable values: the stack's defaults, with overrides as TF_VAR_* would give them. */
type Vars = Record<string, string | number | string[]>;

/** The Terraform interpolations the server's args use, evaluated with `vars` over the defaults. */
function evaluate(arg: string, vars: Vars): string {
  const value = (name: string) => {
    if (name in vars) return vars[name]!;
    const v = tf.variable[name];
    if (v === undefined || v.default === undefined) throw new Error(`variable ${name} has no default`);
    return v.default as string | number | string[];
  };
  return arg
    .replace(/\$\{join\(",", var\.([a-z_]+)\)\}/g, (_, name: string) => (value(name) as string[]).join(","))
    .replace(/\$\{var\.([a-z_]+)\}/g, (_, name: string) => String(value(name)));
}

/** The HTTP flags (with their values) among the server container's args. */
function serverHttpFlags(vars: Vars): string[] {
  const args: string[] = tf.resource.kubernetes_deployment_v1.server.spec.template.spec.container[0].args;
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!HTTP_FLAGS.has(arg)) continue;
    const value = args[i + 1];
    if (value !== undefined && !value.startsWith("--")) {
      out.push(arg, evaluate(value, vars));
      i++;
    } else out.push(arg);
  }
  return out;
}

/**
 * haproxy.cfg as the stack's expression builds it (`join("\n", concat(HEAD, [for i, b in backends :
 * "    server s${i} ${b} check"], [""]))`), with one backend and the listening ports, the stats
 * socket and the health frontend moved to this test's loopback ports and temp dir.
 */
function haproxyConfig(backend: string, httpPort: number, healthPort: number, dir: string): string {
  const expression: string = tf.resource.kubernetes_config_map_v1.haproxy_config.data["haproxy.cfg"];
  const head = JSON.parse(/concat\((\[.*?\]), \[for /s.exec(expression)![1]!) as string[];
  expect(expression).toContain('"    server s${i} ${b} check"');
  return [...head, `    server s0 ${backend} check`, ""]
    .join("\n")
    .replace("bind :8080", `bind 127.0.0.1:${httpPort}`)
    .replace("bind :8404", `bind 127.0.0.1:${healthPort}`)
    .replace("/var/run/haproxy/admin.sock", join(dir, "admin.sock"));
}

interface Door {
  /** HAProxy's address: what machines reach. */
  front: string;
  server: Running;
  stop(): Promise<void>;
}

/** `ccts serve` with the stack's server HTTP flags for `vars`, behind the stack's HAProxy. */
async function door(vars: Vars = {}): Promise<Door> {
  const serverPort = await freePort();
  const server = startCli([
    "serve",
    "--dir",
    join(repoRoot, "examples/cluster"),
    "--host",
    "127.0.0.1",
    "--port",
    String(serverPort),
    ...serverHttpFlags(vars),
  ]);
  let haproxy: ChildProcess | undefined;
  const stop = async () => {
    haproxy?.kill();
    await server.stop();
  };
  try {
    await waitReady(`http://127.0.0.1:${serverPort}`);
    const dir = mkdtempSync(join(tmpdir(), "ccts-haproxy-"));
    const [httpPort, healthPort] = [await freePort(), await freePort()];
    const cfg = join(dir, "haproxy.cfg");
    writeFileSync(cfg, haproxyConfig(`127.0.0.1:${serverPort}`, httpPort, healthPort, dir));
    await promisify(execFile)("haproxy", ["-c", "-q", "-f", cfg]);
    haproxy = spawn("haproxy", ["-db", "-f", cfg], { stdio: "ignore" });
    const front = `http://127.0.0.1:${httpPort}`;
    await waitFor(
      "haproxy to pass requests to ccts",
      async () => (await fetch(`${front}/readyz`).catch(() => undefined))?.status === 200,
      15_000,
      100,
    );
    return { front, server, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

beforeAll(async () => {
  const r = await synth({ CCTS_TF_BACKEND: "local" });
  expect(r.code).toBe(0);
  tf = r.json!;
}, 180_000);

/** One GET over a fresh connection from a chosen loopback source address. */
function getFrom(front: string, source: string, path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(`${front}${path}`, { localAddress: source, agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", () => resolve(0));
    req.end();
  });
}

/** 600 machines, each asking once for its cloud-config, 50 at a time: answers by status. */
async function storm(front: string): Promise<Record<number, number>> {
  const sources = Array.from({ length: 600 }, (_, i) => `127.0.${2 + Math.floor(i / 250)}.${1 + (i % 250)}`);
  const counts: Record<number, number> = {};
  for (let i = 0; i < sources.length; i += 50) {
    const wave = sources.slice(i, i + 50).map((s) => getFrom(front, s, `/cloud-config/${MAC}`));
    for (const status of await Promise.all(wave)) counts[status] = (counts[status] ?? 0) + 1;
  }
  return counts;
}

describe("the stack's HAProxy in front of the server", () => {
  it("with the defaults, passes a boot storm of 600 machines without a refusal", async () => {
    const d = await door();
    try {
      // With the former default (server_rate_limit 20) 489 of them got 429.
      expect(await storm(d.front)).toEqual({ 200: 600 });
      expect(await getFrom(d.front, "127.0.9.9", "/cloud-config/52:54:00:99:99:99")).toBe(404);
    } finally {
      await d.stop();
    }
  });

  it("with server_trusted_proxies, the server limits and logs each machine by its own address", async () => {
    // 127.0.0.1 is where HAProxy's connections come from here; in a cluster, the Pod network.
    const d = await door({ server_rate_limit: 20, server_trusted_proxies: ["127.0.0.1"] });
    try {
      expect(await storm(d.front)).toEqual({ 200: 600 });
      // One machine asking far beyond its burst (100) is limited; the others are not.
      const hammer = await Promise.all(
        Array.from({ length: 150 }, () => getFrom(d.front, "127.0.9.9", `/ipxe?mac=${MAC}`)),
      );
      expect(hammer.filter((s) => s === 429).length).toBeGreaterThan(0);
      expect(await getFrom(d.front, "127.0.9.10", `/ipxe?mac=${MAC}`)).toBe(200);
      await waitFor(
        "the access log to name the machine",
        async () => d.server.output().includes('"remoteAddress":"127.0.9.9"'),
        5_000,
        50,
      );
    } finally {
      await d.stop();
    }
  });
});
