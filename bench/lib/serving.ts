// Serving: `ccts serve --dir` (embedded mode: the same Fastify app and in-memory lookup as the
// cluster-mode server) with N machines, against nginx serving the same documents as static files.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { machineName, writeFolder } from "./generate.ts";
import { startNginx } from "./nginx.ts";
import { CLI, freePort, type Proc, run, startCcts } from "./procs.ts";
import { bootStorm, type StormResult } from "./storm.ts";
import { cpuSeconds, pool, round, waitUntil } from "./util.ts";
import { type WrkResult, writeScripts, wrk } from "./wrk.ts";

export interface ServingConfig {
  machines: number;
  connections: number;
  seconds: number;
  warmupSeconds: number;
  rounds: number;
  stormRequests: number;
  stormWindowMs: number;
  /** Also measure the cluster-mode server restarted: access log on, off, documents in memory. */
  restartedRuns: boolean;
}

export interface LoadFigures {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  errors: number;
  requests: number;
  /** CPU (user + system, all threads) the server used per request in this run, microseconds. */
  cpuUsPerRequest?: number;
}

/** A diagnostic run, with the cores the other processes (cluster mode) used meanwhile. */
export type QuietFigures = LoadFigures & { othersCores?: number };

export interface ServingResult extends Comparison {
  mode: "embedded" | "cluster";
  /** Seconds from start until /readyz (embedded: folder read and rendered). */
  loadSeconds: number;
  rateLimitFlag: string[];
  /** Restarted from its disk cache, access log on (diagnostic, cluster mode only). */
  cctsRestarted?: QuietFigures;
  /** Restarted from its disk cache, access log off (diagnostic, cluster mode only). */
  cctsAccessLogOff?: QuietFigures;
  /** Restarted with `--documents-in-memory`, access log on, and its peak RSS (diagnostic). */
  cctsDocumentsInMemory?: QuietFigures & { peakRssMiB?: number };
  peakRssMiB: number | undefined;
}

export function figures(r: WrkResult): LoadFigures {
  return {
    rps: Math.round(r.rps),
    p50Ms: round(r.p50Us / 1000, 3),
    p99Ms: round(r.p99Us / 1000, 3),
    p999Ms: round(r.p999Us / 1000, 3),
    errors: r.errors,
    requests: r.requests,
  };
}

/** `--rate-limit 0` when this build of the CLI has the flag (the per-client limit would throttle wrk). */
export async function rateLimitFlag(): Promise<string[]> {
  const help = await run(process.execPath, [CLI, "help"], 30_000);
  return help.stdout.includes("--rate-limit") ? ["--rate-limit", "0"] : [];
}

export async function startServe(
  name: string,
  folder: string,
  port: number,
  flags: string[],
  logDir: string,
  env: NodeJS.ProcessEnv = {},
): Promise<Proc> {
  const proc = startCcts(
    name,
    ["serve", "--dir", folder, "--port", String(port), "--host", "127.0.0.1", ...flags],
    logDir,
    env,
  );
  await waitUntil(
    `${name} /readyz`,
    async () => {
      if (proc.memory() === undefined) throw new Error(`${name} exited:\n${proc.log().slice(-2000)}`);
      return (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200;
    },
    300_000,
    100,
  );
  return proc;
}

export interface Comparison {
  machines: number;
  connections: number;
  secondsPerRun: number;
  rounds: number;
  documentBytes: { min: number; max: number };
  nginx: { runs: LoadFigures[]; best: LoadFigures; at80: LoadFigures & { targetRps: number } };
  ccts: { runs: LoadFigures[]; best: LoadFigures; at80: LoadFigures & { targetRps: number } };
  ratio: number;
  /**
   * CPU per request over all measured runs (total CPU / total requests), each server's own: less
   * sensitive than req/s to how fast the shared machine is at the moment. ratio = nginx ÷ ccts.
   */
  cpuPerRequest: { nginxUs: number; cctsUs: number; ratio: number };
  storm: { ccts: StormResult; nginx: StormResult; windowMs: number };
  /**
   * Cores the other processes of the run (cluster mode: controller, kube-apiserver, etcd,
   * kube-controller-manager) used during each measured run: they share the 2 cores with wrk.
   */
  othersCores?: { nginx: number[]; ccts: number[] };
}

/** CPU seconds used so far by the processes that are neither the server under test nor wrk. */
export type OthersCpu = () => number;

/**
 * ccts (already serving `macs`) against nginx serving the same documents as static files: the
 * documents are fetched from ccts (each checked for its hostname) and written to DIR/cloud-config/.
 * Same client (wrk, one thread), same connections, runs interleaved; then the paced runs at 80% of
 * each one's best, then the boot storm against both.
 */
export async function compareWithNginx(
  cfg: ServingConfig,
  cctsPort: number,
  cctsPid: number,
  macs: readonly string[],
  hostnames: readonly string[],
  tmp: string,
  logDir: string,
  say: (s: string) => void,
  othersCpu?: OthersCpu,
): Promise<Comparison> {
  const ccts = `http://127.0.0.1:${cctsPort}`;
  const www = join(tmp, "www");
  mkdirSync(join(www, "cloud-config"), { recursive: true });
  const sizes: number[] = [];
  await pool(macs, 16, async (mac, i) => {
    const res = await fetch(`${ccts}/cloud-config/${mac}`);
    const body = await res.text();
    if (res.status !== 200 || !body.includes(hostnames[i]!))
      throw new Error(`ccts answered ${res.status} for ${mac}: ${body.slice(0, 200)}`);
    sizes.push(Buffer.byteLength(body));
    writeFileSync(join(www, "cloud-config", mac), body);
  });
  const pathsFile = join(tmp, "paths.txt");
  writeFileSync(pathsFile, `${macs.map((m) => `/cloud-config/${m}`).join("\n")}\n`);
  const scripts = writeScripts(tmp);
  const nginxPort = await freePort();
  const nginx = await startNginx(join(tmp, "nginx"), www, nginxPort, logDir);
  const ngx = `http://127.0.0.1:${nginxPort}`;
  const same = { script: scripts.plain, pathsFile, connections: cfg.connections };
  try {
    say(`warm-up (${cfg.warmupSeconds} s each)`);
    await wrk({ ...same, url: ngx, seconds: cfg.warmupSeconds });
    await wrk({ ...same, url: ccts, seconds: cfg.warmupSeconds });
    const nginxRuns: LoadFigures[] = [];
    const cctsRuns: LoadFigures[] = [];
    const othersCores = { nginx: [] as number[], ccts: [] as number[] };
    // CPU seconds and requests of every measured run, per server.
    const totals = { nginx: { cpu: 0, requests: 0 }, ccts: { cpu: 0, requests: 0 } };
    const perRequestUs = (t: typeof totals.ccts) => round((t.cpu / t.requests) * 1e6, 1);
    const measured = async (url: string, pid: number, cores: number[], total: typeof totals.ccts) => {
      const c0 = othersCpu?.();
      const cpu0 = cpuSeconds(pid);
      const result = figures(await wrk({ ...same, url, seconds: cfg.seconds }));
      const cpu = cpuSeconds(pid) - cpu0;
      if (c0 !== undefined && othersCpu) cores.push(round((othersCpu() - c0) / cfg.seconds, 3));
      total.cpu += cpu;
      total.requests += result.requests;
      return { ...result, cpuUsPerRequest: perRequestUs({ cpu, requests: result.requests }) };
    };
    for (let r = 0; r < cfg.rounds; r++) {
      nginxRuns.push(await measured(ngx, nginx.pid, othersCores.nginx, totals.nginx));
      cctsRuns.push(await measured(ccts, cctsPid, othersCores.ccts, totals.ccts));
      const others = othersCpu
        ? ` (other processes: ${othersCores.nginx.at(-1)} / ${othersCores.ccts.at(-1)} cores)`
        : "";
      const [n, c] = [nginxRuns.at(-1)!, cctsRuns.at(-1)!];
      say(
        `round ${r + 1}: nginx ${n.rps} req/s (${n.cpuUsPerRequest} us CPU each), ccts ${c.rps} req/s (${c.cpuUsPerRequest} us)${others}`,
      );
    }
    const cpuPerRequest = {
      nginxUs: perRequestUs(totals.nginx),
      cctsUs: perRequestUs(totals.ccts),
      ratio: round(totals.nginx.cpu / totals.nginx.requests / (totals.ccts.cpu / totals.ccts.requests), 3),
    };
    const best = (runs: LoadFigures[]) => runs.reduce((a, b) => (b.rps > a.rps ? b : a));
    const nginxBest = best(nginxRuns);
    const cctsBest = best(cctsRuns);
    const paced = { ...same, script: scripts.paced, seconds: cfg.seconds };
    const nginxTarget = Math.round(nginxBest.rps * 0.8);
    const cctsTarget = Math.round(cctsBest.rps * 0.8);
    const nginxAt80 = figures(await wrk({ ...paced, url: ngx, rate: nginxTarget }));
    const cctsAt80 = figures(await wrk({ ...paced, url: ccts, rate: cctsTarget }));
    say(`at 80%: nginx p99 ${nginxAt80.p99Ms} ms, ccts p99 ${cctsAt80.p99Ms} ms`);

    // Boot storm: distinct MACs in random order, fresh connections.
    const order = macs.map((_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    const chosen = order.slice(0, Math.min(cfg.stormRequests, macs.length));
    const stormPaths = chosen.map((i) => `/cloud-config/${macs[i]}`);
    const stormExpect = chosen.map((i) => hostnames[i]!);
    say(`boot storm: ${stormPaths.length} fresh connections in ${cfg.stormWindowMs} ms`);
    const stormCcts = await bootStorm(cctsPort, stormPaths, cfg.stormWindowMs, stormExpect);
    const stormNginx = await bootStorm(nginxPort, stormPaths, cfg.stormWindowMs, stormExpect);
    say(`storm p99: ccts ${stormCcts.p99Ms} ms (${stormCcts.errors} errors), nginx ${stormNginx.p99Ms} ms`);
    return {
      machines: macs.length,
      connections: cfg.connections,
      secondsPerRun: cfg.seconds,
      rounds: cfg.rounds,
      documentBytes: { min: Math.min(...sizes), max: Math.max(...sizes) },
      nginx: { runs: nginxRuns, best: nginxBest, at80: { ...nginxAt80, targetRps: nginxTarget } },
      ccts: { runs: cctsRuns, best: cctsBest, at80: { ...cctsAt80, targetRps: cctsTarget } },
      ratio: round(cctsBest.rps / nginxBest.rps, 3),
      cpuPerRequest,
      storm: { ccts: stormCcts, nginx: stormNginx, windowMs: cfg.stormWindowMs },
      ...(othersCpu ? { othersCores } : {}),
    };
  } finally {
    await nginx.stop();
  }
}

/** One run against a server restarted by the caller (warm-up, then one measured run). */
export async function quietRun(
  cfg: ServingConfig,
  port: number,
  macs: readonly string[],
  tmp: string,
  othersCpu?: () => number,
): Promise<QuietFigures> {
  const pathsFile = join(tmp, "paths-quiet.txt");
  writeFileSync(pathsFile, `${macs.map((m) => `/cloud-config/${m}`).join("\n")}\n`);
  const scripts = writeScripts(tmp);
  const same = {
    url: `http://127.0.0.1:${port}`,
    script: scripts.plain,
    pathsFile,
    connections: cfg.connections,
  };
  await wrk({ ...same, seconds: cfg.warmupSeconds });
  const c0 = othersCpu?.();
  const measured = figures(await wrk({ ...same, seconds: cfg.seconds }));
  if (c0 === undefined || !othersCpu) return measured;
  return { ...measured, othersCores: round((othersCpu() - c0) / cfg.seconds, 3) };
}

export async function servingBench(
  cfg: ServingConfig,
  tmp: string,
  logDir: string,
  say: (s: string) => void,
): Promise<ServingResult> {
  const folder = join(tmp, "folder");
  const macs = writeFolder(folder, cfg.machines);
  const hostnames = macs.map((_, i) => machineName(i));
  const flags = await rateLimitFlag();
  const port = await freePort();
  say(`serving (embedded): ${cfg.machines} machines; starting ccts serve --dir ${flags.join(" ")}`);
  const t0 = Date.now();
  const serve = await startServe("ccts-serve", folder, port, flags, logDir);
  const loadSeconds = (Date.now() - t0) / 1000;
  try {
    const comparison = await compareWithNginx(cfg, port, serve.pid, macs, hostnames, tmp, logDir, (s) =>
      say(`serving (embedded): ${s}`),
    );
    return {
      mode: "embedded",
      loadSeconds: round(loadSeconds),
      rateLimitFlag: flags,
      ...comparison,
      peakRssMiB: serve.memory()?.peakRssMiB,
    };
  } finally {
    await serve.stop();
  }
}
