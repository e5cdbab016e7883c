// A real Kubernetes control plane for tests: etcd, kube-apiserver and kube-controller-manager,
// built from Go modules by build.sh (cached outside the repo), on free 127.0.0.1 ports.
//
// Who uses it:
// - global-setup.ts starts one shared control plane per vitest run and provides `kubeconfig`,
//   `kubectl` and `controlPlaneBinDir` (inject()) plus env KUBECONFIG_CCTS_TEST/CCTS_TEST_KUBECTL.
//   Test files share it; each takes its own namespace (namespace.ts).
// - testenv.ts (`npm run testenv`) runs the same thing in the foreground for manual use.
// - A test that needs an API server OUTAGE must not stop the shared one (other files run in
//   parallel). It starts a private control plane in its worker instead, which costs a few seconds
//   because the binaries are cached:
//
//     const cp = await startControlPlane();          // in beforeAll
//     await cp.stopApiServer();                      // outage: port closed, etcd keeps the data
//     await cp.startApiServer();                     // recovery: same port, same certs, same data
//     await cp.stop();                               // in afterAll
//
// Identity: a static token file. `admin` is in system:masters; `ccts-test-user` has no groups
// beyond system:authenticated, for RBAC tests (`kubectl auth can-i --token ...`, or impersonate
// with `--as`). Authorization is Node,RBAC as in a real cluster.
//
// No process is left behind: every child runs in its own process group (detached) and is killed
// by group on stop(), on process exit, and by a watchdog shell that outlives a SIGKILLed test
// runner. A pid file per run lets the next start clean up whatever a crashed run still left.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { request as httpRequest } from "node:http";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "../support/ports.ts";

const here = fileURLToPath(new URL(".", import.meta.url));
export const repoRoot = join(here, "..", "..");
export const defaultCrdDir = join(repoRoot, "crds");
/** Parent of all run dirs; stale ones (owner dead) are cleaned up at the next start. */
export const runsRoot = join(tmpdir(), "ccts-control-plane");

export const ADMIN_TOKEN_USER = "admin";
export const TEST_USER = "ccts-test-user";

export interface ControlPlaneOptions {
  /** Bin dir with the four binaries; default: run build.sh (builds once, then cached). */
  binDir?: string;
  /** Folder of CRD YAML applied before tests; default crds/ of the repo. */
  crdDir?: string;
  /** Progress lines (default: silent). */
  log?: (line: string) => void;
}

/** Runs build.sh and returns the bin dir it prints. Fast when the cache is warm. */
export async function buildControlPlane(log?: (line: string) => void): Promise<string> {
  return await new Promise((resolve, reject) => {
    const child = spawn(join(here, "build.sh"), [], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d;
    });
    child.stderr.on("data", (d: Buffer) => {
      err += d;
      for (const line of d.toString().split("\n")) if (line) log?.(line);
    });
    child.on("error", reject);
    child.on("exit", (code) => {
      const bin = out.trim().split("\n").pop() ?? "";
      if (code === 0 && bin) resolve(bin);
      else reject(new Error(`build.sh failed (exit ${code}):\n${err.slice(-4000)}`));
    });
  });
}

export interface KubectlResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** Runs kubectl against a kubeconfig; never throws on a non-zero exit (tests assert on it). */
export function runKubectl(
  kubectl: string,
  kubeconfig: string,
  args: string[],
  opts: { input?: string; timeoutMs?: number } = {},
): Promise<KubectlResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      kubectl,
      args,
      {
        // Own discovery cache per kubeconfig: a cache from an earlier run on the same port would
        // hide CRDs that were just created.
        env: { ...process.env, KUBECONFIG: kubeconfig, KUBECACHEDIR: `${kubeconfig}.cache` },
        timeout: opts.timeoutMs ?? 60_000,
        maxBuffer: 16 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== "number") reject(error);
        else resolve({ stdout, stderr, code: error ? Number(error.code) : 0 });
      },
    );
    child.stdin?.end(opts.input ?? "");
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

/** GET a URL on loopback; resolves with the status code, or 0 when nothing answers. */
function probe(url: string, token?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = (url.startsWith("https:") ? request : httpRequest)(
      url,
      {
        // Readiness polling only; tests verify the server against the CA in the kubeconfig.
        rejectUnauthorized: false,
        // No keep-alive pool: idle sockets would keep the test runner alive after teardown.
        agent: false,
        headers: token ? { authorization: `Bearer ${token}` } : {},
        timeout: 2000,
      },
      (res) => {
        let body = "";
        res.on("data", (d: Buffer) => {
          body += d;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", () => resolve({ status: 0, body: "" }));
    req.on("timeout", () => req.destroy());
    req.end();
  });
}

/** Live processes whose command line names `dir` (every child of a run names its run dir). */
export function processesNaming(dir: string): string[] {
  const out: string[] = [];
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      if (cmd.includes(dir)) out.push(`${pid} ${cmd.replaceAll("\0", " ")}`);
    } catch {
      // ended meanwhile
    }
  }
  return out;
}

/** Kills what runs left behind whose owner process is gone, and removes their run dirs. */
export function cleanStaleRuns(log?: (line: string) => void): void {
  if (!existsSync(runsRoot)) return;
  for (const name of readdirSync(runsRoot)) {
    const dir = join(runsRoot, name);
    let owner = 0;
    try {
      owner = Number(readFileSync(join(dir, "owner"), "utf8"));
    } catch {
      // no owner file: a run that died while starting; treat as stale
    }
    if (owner && alive(owner)) continue;
    for (const pgid of readPids(dir)) {
      // Only kill what is ours: a reused pid would run some other command line.
      let cmdline = "";
      try {
        cmdline = readFileSync(`/proc/${pgid}/cmdline`, "utf8");
      } catch {
        continue;
      }
      if (cmdline.includes(dir) || cmdline.includes("control-plane")) {
        log?.(`killing stale control-plane process group ${pgid}`);
        killGroup(pgid, "SIGKILL");
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

function readPids(dir: string): number[] {
  try {
    return readFileSync(join(dir, "pids"), "utf8").split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

interface Managed {
  name: string;
  child: ChildProcess;
  exited: Promise<void>;
}

export class ControlPlane {
  readonly dir: string;
  readonly binDir: string;
  readonly kubectl: string;
  readonly kubeconfig: string;
  readonly apiServerURL: string;
  readonly adminToken: string;
  readonly testUserToken: string;
  private readonly procs = new Map<string, Managed>();
  private readonly apiServerArgs: string[];
  private readonly log: (line: string) => void;
  private readonly onExit = () => this.killAllSync();
  private stopped = false;

  constructor(dir: string, binDir: string, apiPort: number, etcdURL: string, log: (line: string) => void) {
    this.dir = dir;
    this.binDir = binDir;
    this.kubectl = join(binDir, "kubectl");
    this.kubeconfig = join(dir, "kubeconfig");
    this.apiServerURL = `https://127.0.0.1:${apiPort}`;
    this.log = log;
    this.adminToken = randomBytes(24).toString("hex");
    this.testUserToken = randomBytes(24).toString("hex");
    writeFileSync(
      join(dir, "tokens.csv"),
      `${this.adminToken},${ADMIN_TOKEN_USER},admin-uid,"system:masters"\n${this.testUserToken},${TEST_USER},test-user-uid\n`,
      { mode: 0o600 },
    );
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    writeFileSync(join(dir, "sa.key"), privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
    writeFileSync(join(dir, "sa.pub"), publicKey.export({ type: "spki", format: "pem" }));
    this.apiServerArgs = [
      `--etcd-servers=${etcdURL}`,
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      `--secure-port=${apiPort}`,
      // Self-signed serving cert, generated on first start and reused on restart (same CA).
      `--cert-dir=${join(dir, "apiserver-certs")}`,
      `--token-auth-file=${join(dir, "tokens.csv")}`,
      "--authorization-mode=Node,RBAC",
      `--service-account-key-file=${join(dir, "sa.pub")}`,
      `--service-account-signing-key-file=${join(dir, "sa.key")}`,
      "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
      "--service-cluster-ip-range=10.0.0.0/24",
      "--allow-privileged=true",
      "--v=1",
    ];
    mkdirSync(join(dir, "logs"), { recursive: true });
    process.on("exit", this.onExit);
  }

  /** Starts (or restarts after stopApiServer) kube-apiserver on the same port and data. */
  async startApiServer(): Promise<void> {
    this.spawn("kube-apiserver", this.apiServerArgs);
    await this.waitFor("kube-apiserver /readyz", async () => {
      const r = await probe(`${this.apiServerURL}/readyz`, this.adminToken);
      return r.status === 200;
    });
  }

  /** Stops kube-apiserver (SIGTERM, then SIGKILL); etcd and the controller manager keep running. */
  async stopApiServer(): Promise<void> {
    await this.stopProc("kube-apiserver");
  }

  /** Stops everything and removes the run dir. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    // Controller manager first (it would only log errors), etcd last (the API server needs it).
    for (const name of ["kube-controller-manager", "kube-apiserver", "etcd", "watchdog"]) {
      const t = Date.now();
      await this.stopProc(name);
      this.log(`${name} stopped in ${Date.now() - t} ms`);
    }
    process.off("exit", this.onExit);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** kubectl with this control plane's kubeconfig; resolves with exit code and output. */
  kubectlRun(args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<KubectlResult> {
    return runKubectl(this.kubectl, this.kubeconfig, args, opts);
  }

  logLine(line: string): void {
    this.log(line);
  }

  /** Last lines of a component's log, for error messages. */
  logTail(name: string, lines = 40): string {
    try {
      return readFileSync(join(this.dir, "logs", `${name}.log`), "utf8")
        .split("\n")
        .slice(-lines)
        .join("\n");
    } catch {
      return "";
    }
  }

  spawn(name: string, args: string[], bin = join(this.binDir, name)): void {
    if (this.procs.has(name)) throw new Error(`${name} is already running`);
    const out = openSync(join(this.dir, "logs", `${name}.log`), "a");
    // detached: own process group, so we can kill it with everything it forked, and a Ctrl-C
    // to the test runner's group does not kill etcd before the API server.
    const child = spawn(bin, args, { detached: true, stdio: ["ignore", out, out] });
    closeSync(out);
    const exited = new Promise<void>((resolve) => {
      child.on("exit", () => resolve());
      child.on("error", () => resolve());
    });
    this.procs.set(name, { name, child, exited });
    this.writePids();
    exited.then(() => {
      if (this.procs.get(name)?.child === child) {
        this.procs.delete(name);
        this.writePids();
      }
    });
  }

  async waitFor(what: string, ready: () => Promise<boolean>, timeoutMs = 90_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const name = what.split(" ")[0] ?? what;
    while (Date.now() < deadline) {
      if (await ready()) {
        this.log(`${what}: ready`);
        return;
      }
      if (!this.procs.has(name)) {
        throw new Error(`${name} exited while waiting for ${what}:\n${this.logTail(name)}`);
      }
      await sleep(250);
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}:\n${this.logTail(name)}`);
  }

  private async stopProc(name: string): Promise<void> {
    const p = this.procs.get(name);
    if (!p?.child.pid) return;
    killGroup(p.child.pid, "SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    const killed = await Promise.race([
      p.exited.then(() => true),
      new Promise<boolean>((r) => {
        timer = setTimeout(() => r(false), 15_000);
      }),
    ]);
    clearTimeout(timer); // a pending timer would keep the test runner alive after teardown
    if (!killed) {
      killGroup(p.child.pid, "SIGKILL");
      await p.exited;
    }
    // A group may hold children that outlive the leader; make sure none remain.
    killGroup(p.child.pid, "SIGKILL");
  }

  private writePids(): void {
    if (this.stopped && this.procs.size === 0) return;
    const pids = [...this.procs.values()].map((p) => p.child.pid).filter((p): p is number => !!p);
    try {
      writeFileSync(join(this.dir, "pids"), `${pids.join("\n")}\n`);
    } catch {
      // run dir already removed by stop()
    }
  }

  private killAllSync(): void {
    for (const p of this.procs.values()) if (p.child.pid) killGroup(p.child.pid, "SIGKILL");
  }
}

/** Attempts at starting a control plane whose ports were taken between their pick and their bind. */
const PORT_ATTEMPTS = 3;

/**
 * Starts etcd, kube-apiserver (ready), the CRDs (Established), and kube-controller-manager. A port
 * is free when picked and bound by the process later: should another process take it in between
 * (seen once: etcd's "bind: address already in use", which failed a whole test run), the control
 * plane is started again on other ports.
 */
export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const log = opts.log ?? (() => {});
  cleanStaleRuns(log);
  const binDir = opts.binDir ?? (await buildControlPlane(log));
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(binDir, log, opts.crdDir);
    } catch (e) {
      if (attempt >= PORT_ATTEMPTS || !String(e).includes("address already in use")) throw e;
      log(
        `a port was taken before its process bound it; starting again on other ports (${attempt + 1} of ${PORT_ATTEMPTS})`,
      );
    }
  }
}

async function startOnce(
  binDir: string,
  log: (line: string) => void,
  crdDir: string | undefined,
): Promise<ControlPlane> {
  mkdirSync(runsRoot, { recursive: true });
  const dir = mkdtempSync(join(runsRoot, "run-"));
  writeFileSync(join(dir, "owner"), String(process.pid));
  const [etcdClient, etcdPeer, apiPort, kcmPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const etcdURL = `http://127.0.0.1:${etcdClient}`;
  const cp = new ControlPlane(dir, binDir, apiPort, etcdURL, log);
  try {
    // The watchdog outlives a SIGKILLed runner and kills the groups listed in the pid file.
    cp.spawn(
      "watchdog",
      [
        "-c",
        'while kill -0 "$1" 2>/dev/null && [ -d "$2" ]; do sleep 1; done; [ -f "$2/pids" ] || exit 0; for g in $(cat "$2/pids"); do [ "$g" = "$$" ] || kill -TERM -- "-$g" 2>/dev/null; done; sleep 3; for g in $(cat "$2/pids"); do [ "$g" = "$$" ] || kill -KILL -- "-$g" 2>/dev/null; done; rm -rf "$2"',
        "control-plane-watchdog",
        String(process.pid),
        dir,
      ],
      "/bin/bash",
    );
    cp.spawn("etcd", [
      `--data-dir=${join(dir, "etcd")}`,
      `--listen-client-url=${etcdURL}`,
      `--listen-peer-url=http://127.0.0.1:${etcdPeer}`,
    ]);
    await cp.waitFor("etcd /health", async () =>
      (await probe(`${etcdURL}/health`)).body.includes('"health":"true"'),
    );
    await cp.startApiServer();
    const ca = readFileSync(join(dir, "apiserver-certs", "apiserver.crt")).toString("base64");
    writeFileSync(cp.kubeconfig, kubeconfigYaml(cp.apiServerURL, ca, ADMIN_TOKEN_USER, cp.adminToken), {
      mode: 0o600,
    });
    await applyCrds(cp, crdDir ?? defaultCrdDir);
    // After the CRDs, so the garbage collector discovers them at once instead of at its next
    // 30 s discovery resync.
    cp.spawn("kube-controller-manager", [
      `--kubeconfig=${cp.kubeconfig}`,
      `--authentication-kubeconfig=${cp.kubeconfig}`,
      `--authorization-kubeconfig=${cp.kubeconfig}`,
      "--bind-address=127.0.0.1",
      `--secure-port=${kcmPort}`,
      `--cert-dir=${join(dir, "kcm-certs")}`,
      // GC (owner references), namespace deletion, the default ServiceAccount (Pods need it), and
      // the rules of the aggregated ClusterRoles admin/edit/view (RBAC tests bind to them).
      "--controllers=garbagecollector,namespace,serviceaccount,serviceaccount-token,clusterrole-aggregation",
      "--use-service-account-credentials=false",
      "--leader-elect=false",
      `--service-account-private-key-file=${join(dir, "sa.key")}`,
      `--root-ca-file=${join(dir, "apiserver-certs", "apiserver.crt")}`,
      "--v=1",
    ]);
    await cp.waitFor("kube-controller-manager /healthz", async () => {
      return (await probe(`https://127.0.0.1:${kcmPort}/healthz`)).status === 200;
    });
    return cp;
  } catch (e) {
    await cp.stop();
    throw e;
  }
}

async function applyCrds(cp: ControlPlane, crdDir: string): Promise<void> {
  const files = readdirSync(crdDir).filter((f) => /\.ya?ml$/.test(f));
  if (files.length === 0) return;
  const apply = await cp.kubectlRun(["apply", "--server-side", "--force-conflicts", "-f", crdDir]);
  if (apply.code !== 0) throw new Error(`applying ${crdDir} failed:\n${apply.stderr}`);
  // kubectl wait fails at once, instead of waiting, on a CRD whose status has no conditions yet
  // (".status.conditions accessor error: <nil> is of the type <nil>"), which can happen right after
  // the apply (seen in CI on 2026-12-03): ask again until the conditions are there.
  const deadline = Date.now() + 60_000;
  for (;;) {
    const seconds = Math.max(1, Math.ceil((deadline - Date.now()) / 1000));
    const wait = await cp.kubectlRun([
      "wait",
      "--for=condition=Established",
      `--timeout=${seconds}s`,
      "-f",
      crdDir,
    ]);
    if (wait.code === 0) break;
    if (!wait.stderr.includes(".status.conditions accessor error") || Date.now() >= deadline)
      throw new Error(`CRDs in ${crdDir} not Established:\n${wait.stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  cp.logLine(`CRDs from ${crdDir}: Established`);
}

function kubeconfigYaml(server: string, caData: string, user: string, token: string): string {
  // JSON is valid YAML; no YAML library needed here.
  return `${JSON.stringify(
    {
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "ccts-test", cluster: { server, "certificate-authority-data": caData } }],
      users: [{ name: user, user: { token } }],
      contexts: [{ name: "ccts-test", context: { cluster: "ccts-test", user, namespace: "default" } }],
      "current-context": "ccts-test",
    },
    null,
    2,
  )}\n`;
}
