// Cluster mode on a private, real control plane (test/control-plane/harness.ts): N Machines, the
// controller and the server as child processes (so their memory can be read), then the fan-out of
// one ClusterDesc edit against the raw rate of the same API server for the same ConfigMap writes.
import { createHash } from "node:crypto";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import type * as ClientModule from "../../src/k8s/client.ts";
import type * as PathsModule from "../../src/k8s/paths.ts";
import type * as WritesModule from "../../src/k8s/writes.ts";
import { processesNaming, startControlPlane } from "../../test/control-plane/harness.ts";
import { CLUSTER, clusterDesc, machine, machineName, macOf, type Obj } from "./generate.ts";
import { allowedCpus, cannotPin, pin } from "./pinning.ts";
import { controllerEnv, freePort, type Proc, ROOT, SERVER_NODE_OPTIONS, startCcts } from "./procs.ts";
import {
  compareWithNginx,
  quietRun,
  rateLimitFlag,
  type ServingConfig,
  type ServingResult,
} from "./serving.ts";
import { cpuSeconds, nowMs, percentile, pool, round, sleep, waitUntil } from "./util.ts";

// The compiled client (dist/), typed by its source: Node runs this file by type stripping, which
// cannot follow src/'s `.js` import specifiers.
const { KubeClient, loadKubeConfig, METADATA_ONLY } = (await import(
  pathToFileURL(join(ROOT, "dist", "k8s", "client.js")).href
)) as typeof ClientModule;
const { paths } = (await import(
  pathToFileURL(join(ROOT, "dist", "k8s", "paths.js")).href
)) as typeof PathsModule;
const { APPLY_QUERY } = (await import(
  pathToFileURL(join(ROOT, "dist", "k8s", "writes.js")).href
)) as typeof WritesModule;
type KubeClient = ClientModule.KubeClient;

export interface ClusterConfig {
  machines: number;
  /** The controller's --concurrency and the raw writer's concurrency (the controller's default is 8). */
  writeConcurrency: number;
  applySamples: number;
  resync: string;
  serving: ServingConfig;
}

export interface ClusterResult {
  machines: number;
  writeConcurrency: number;
  createMachinesSeconds: number;
  initialRenderSeconds: number;
  /** Renders until every Machine was served (more than Machines: some rendered again). */
  initialRenders?: number;
  initialServedSeconds: number;
  raw: {
    createSeconds: number;
    createPerSecond: number;
    /** The update pass before the fan-out. */
    updateSeconds: number;
    updatePerSecond: number;
    /** The same pass again after the fan-out (since 2026-12-01 21:40; absent before). */
    updateAfterSeconds: number;
    updateAfterPerSecond: number;
    /**
     * The reference the fan-out is judged by: both update passes together (2N writes over their
     * summed time). This machine's speed drifts within minutes; passes on either side of the
     * fan-out cancel a drift in one direction.
     */
    referencePerSecond: number;
    /** kube-apiserver + etcd CPU per update, both passes. */
    controlPlaneCpuMsPerWrite: number;
    /**
     * A diagnostic pass right after the second: the same applies as the controller makes them
     * (fieldValidation=Ignore, metadata-only answer) where the passes above are a plain client's
     * (the API server's default field validation, the whole object answered). Since 2026-12-02
     * 17:00; absent before.
     */
    asController?: { perSecond: number; controlPlaneCpuMsPerWrite: number };
  };
  fanout: {
    configMapsSeconds: number;
    servedSeconds: number;
    serverSweepSeconds: number;
    verifiedConfigMaps: number;
    configMapWritesPerSecond: number;
    writes: Record<string, number>;
    apiWritesPerSecond: number;
    ratioToRaw: number;
    controllerCpuSeconds: number;
    controllerCpuShare: number;
    /** The server's CPU over the same span: learning 10,000 changes competes for the same cores. */
    serverCpuSeconds: number;
    /** kube-apiserver + etcd CPU per ConfigMap written, to compare with the raw writes'. */
    controlPlaneCpuMsPerWrite: number;
  };
  noopResync: {
    reconciles: number;
    /** Of those, the ones that rendered (the rest found every input as at the last render). */
    renders?: number;
    writes: Record<string, number>;
    totalWrites: number;
    waitedSeconds: number;
    /**
     * The longest the controller took to answer one of the pass's /metrics polls (every 250 ms):
     * how long its event loop held I/O (watch events, probes, the lease renewal) at most.
     */
    longestStallMs?: number;
  };
  applyToServed: { samples: number; p50Ms: number; p99Ms: number; maxMs: number; failures: number };
  /**
   * A controller started again on the rendered cluster (a rollout, a new leader): its first pass
   * over every Machine, from its start (since 2026-12-03; absent before). It renders each Machine
   * (it remembers nothing) and must write nothing.
   */
  restartPass?: {
    machines: number;
    seconds: number;
    renders: number;
    writes: Record<string, number>;
    totalWrites: number;
  };
  /** The cluster-mode server against nginx, after the fan-out. */
  serving: ServingResult;
  /** Peak RSS before the serving load (the server's figure after it is in serving.peakRssMiB). */
  memory: {
    controller: { peakRssMiB: number; rssMiB: number } | undefined;
    server: { peakRssMiB: number; rssMiB: number } | undefined;
    /** V8 heap of the controller (prom-client's nodejs_heap_size_*), MiB. */
    controllerHeap: HeapFigures | undefined;
    serverHeap: HeapFigures | undefined;
    /**
     * A server started last with an empty cache directory (a new replica, a Pod on another node):
     * it learns every ConfigMap by one relist. Seconds until it served every MAC, and its peak RSS.
     */
    serverJoining: { servedSeconds: number; peakRssMiB: number | undefined };
  };
  /**
   * The raw passes and a fan-out again with the control plane on CPU 0 and ccts on CPU 1 (since
   * 2026-12-02; absent before): a diagnostic, the target is judged on shared cores above.
   */
  separateCores: SeparateCores;
  /**
   * Apply to served (Machines one at a time, as above) while a fan-out of every Machine is under
   * way, with `fanoutWritten` of its `fanoutMachines` ConfigMaps written when the last was served
   * (since 2026-12-02; absent before): a diagnostic of the queue's bulk lane.
   */
  applyDuringFanout: ClusterResult["applyToServed"] & { fanoutMachines: number; fanoutWritten: number };
}

export type SeparateCores =
  | {
      /** ConfigMaps the fan-out rewrote: the Machines, with apply-to-served's (raw passes: `machines`). */
      configMaps: number;
      rawUpdatePerSecond: number;
      rawUpdateAfterPerSecond: number;
      /** Both raw passes together, as for the fan-out on shared cores. */
      referencePerSecond: number;
      configMapsSeconds: number;
      configMapWritesPerSecond: number;
      ratioToRaw: number;
      verifiedConfigMaps: number;
      controllerCpuMsPerWrite: number;
      /** kube-apiserver + etcd CPU per write of the raw passes and of the fan-out. */
      controlPlaneCpuMsPerWrite: { raw: number; fanout: number };
    }
  | { skipped: string };

const NS = "bench";
const RAW_NS = "bench-raw";
const SELECTOR = "app.kubernetes.io/managed-by=ccts";

interface Metrics {
  writes: Record<string, number>;
  reconciles: number;
  /** Renders done: a reconcile that found its inputs unchanged renders nothing. */
  renders: number;
  /** Renders by why the last good render did not stand (ccts_controller_render_causes_total). */
  causes: Record<string, number>;
  depth: number;
}

/** The render causes counted between two scrapes, as `first 3, machine 2`. */
function causesSince(before: Metrics, after: Metrics): string {
  const parts = Object.entries(after.causes)
    .map(([cause, n]) => [cause, n - (before.causes[cause] ?? 0)] as const)
    .filter(([, n]) => n > 0)
    .map(([cause, n]) => `${cause} ${n}`);
  return parts.length ? parts.join(", ") : "none";
}

async function controllerMetrics(port: number): Promise<Metrics> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m: Metrics = {
    writes: { configmap: 0, status: 0, event: 0 },
    reconciles: 0,
    renders: 0,
    causes: {},
    depth: 0,
  };
  for (const line of text.split("\n")) {
    const match = /^(\w+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!match) continue;
    const [, name, labels = "", value] = match;
    const v = Number(value);
    if (name === "ccts_controller_writes_total") {
      const kind = /kind="([^"]+)"/.exec(labels)?.[1] ?? "?";
      m.writes[kind] = v;
    } else if (name === "ccts_controller_reconcile_total") m.reconciles += v;
    else if (name === "ccts_controller_queue_depth") m.depth = v;
    else if (name === "ccts_render_duration_seconds_count") m.renders = v;
    else if (name === "ccts_controller_render_causes_total")
      m.causes[/cause="([^"]+)"/.exec(labels)?.[1] ?? "?"] = v;
  }
  return m;
}

/**
 * V8 heap used and committed, memory outside it (Buffers), and the server's document file (its
 * documents, in the page cache, not in its RSS), in MiB.
 */
type HeapFigures = { usedMiB: number; totalMiB: number; externalMiB: number; documentFileMiB?: number };

async function heapOf(port: number): Promise<HeapFigures | undefined> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const get = (name: string) =>
      Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? NaN) / 2 ** 20;
    const documentFile = get('ccts_document_file_bytes\\{state="live"\\}');
    return {
      usedMiB: round(get("nodejs_heap_size_used_bytes"), 1),
      totalMiB: round(get("nodejs_heap_size_total_bytes"), 1),
      externalMiB: round(get("nodejs_external_memory_bytes"), 1),
      ...(Number.isNaN(documentFile) ? {} : { documentFileMiB: round(documentFile, 1) }),
    };
  } catch {
    return undefined;
  }
}

const totalOf = (w: Record<string, number>) => Object.values(w).reduce((a, b) => a + b, 0);
const deltaOf = (a: Record<string, number>, b: Record<string, number>) =>
  Object.fromEntries(Object.keys({ ...a, ...b }).map((k) => [k, (b[k] ?? 0) - (a[k] ?? 0)]));

/** A controller's metrics; throws with the tail of its log when it has exited. */
function metricsOf(controller: Proc, port: number): Promise<Metrics> {
  if (controller.memory() === undefined)
    throw new Error(`controller exited:\n${controller.log().slice(-2000)}`);
  return controllerMetrics(port);
}

/** CPU seconds of the control plane's kube-apiserver and etcd (processes naming its run dir). */
function controlPlaneCpuSeconds(dir: string, which = /(^|\/)(kube-apiserver|etcd)$/): number {
  let total = 0;
  for (const line of processesNaming(dir)) {
    const [pid, command] = line.split(" ");
    if (which.test(command ?? "")) total += cpuSeconds(Number(pid));
  }
  return total;
}

/**
 * Waits until `pid`'s main thread used under 5% of a core for a whole second: a restarted server's
 * relist overlapped the measured run of the 00:24 run (24.9k req/s against 44k for the next one).
 * The main thread only: under `--cpu-prof` the profiler's own thread never goes idle.
 */
async function idle(pid: number, timeoutMs: number): Promise<void> {
  const t0 = nowMs();
  let last = cpuSeconds(pid, true);
  while (nowMs() - t0 < timeoutMs) {
    await sleep(1000);
    const now = cpuSeconds(pid, true);
    if (now - last < 0.05) return;
    last = now;
  }
  throw new Error(`process ${pid} still busy after ${timeoutMs} ms`);
}

/**
 * Asks the server for every MAC (keep-alive, 8 at a time) until each answer contains `expect(i)`;
 * re-asks only the MACs not yet right. Resolves with the seconds it took.
 */
async function sweepServed(
  base: string,
  macs: readonly string[],
  expect: (i: number) => string,
  timeoutMs: number,
): Promise<number> {
  const t0 = nowMs();
  let pending = macs.map((_, i) => i);
  while (pending.length > 0) {
    if (nowMs() - t0 > timeoutMs)
      throw new Error(`server still wrong for ${pending.length} MACs after ${timeoutMs} ms`);
    const wrong: number[] = [];
    await pool(pending, 8, async (i) => {
      try {
        const res = await fetch(`${base}/cloud-config/${macs[i]}`);
        const body = await res.text();
        if (res.status !== 200 || !body.includes(expect(i))) wrong.push(i);
      } catch {
        wrong.push(i);
      }
    });
    pending = wrong;
    if (pending.length > 0) await sleep(50);
  }
  return (nowMs() - t0) / 1000;
}

interface Listed {
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  data: Record<string, string>;
}

async function listRendered(client: KubeClient): Promise<Listed[]> {
  const out: Listed[] = [];
  let cont: string | undefined;
  do {
    const page = await client.request<{
      items: {
        metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
        data?: Record<string, string>;
      }[];
      metadata: { continue?: string };
    }>("GET", paths.configMaps({ namespace: NS }), {
      query: { labelSelector: SELECTOR, limit: 500, continue: cont },
    });
    for (const { metadata, data } of page.items)
      out.push({
        name: metadata.name,
        labels: metadata.labels ?? {},
        annotations: metadata.annotations ?? {},
        data: data ?? {},
      });
    cont = page.metadata.continue || undefined;
  } while (cont);
  return out;
}

function pathOf(obj: Obj): string {
  const scope = { namespace: obj.metadata.namespace };
  if (obj.kind === "Machine") return paths.machines(scope);
  if (obj.kind === "ClusterDesc") return paths.clusterDescs(scope);
  return paths.configMaps(scope);
}

const FANOUT_KEY = "ops@fanout";
/** The key of the fan-out on separate cores: as long as FANOUT_KEY, so the documents keep their size. */
const SEPARATE_CORES_KEY = "ops@fanou2";
/** The key of the fan-out that apply-to-served runs during (the same length). */
const DURING_FANOUT_KEY = "ops@fanou3";
const CONTENT_HASH = "ccts.io/content-hash";

export async function clusterBench(
  cfg: ClusterConfig,
  tmp: string,
  logDir: string,
  say: (s: string) => void,
): Promise<ClusterResult> {
  const n = cfg.machines;
  say("cluster: starting a private control plane (etcd, kube-apiserver, kube-controller-manager)");
  const cp = await startControlPlane({ log: (l) => say(`control plane: ${l}`) });
  const client = await KubeClient.create(loadKubeConfig(cp.kubeconfig));
  const procs: Proc[] = [];
  try {
    for (const name of [NS, RAW_NS])
      await client.request("POST", "/api/v1/namespaces", {
        body: { apiVersion: "v1", kind: "Namespace", metadata: { name } },
      });
    await client.request("POST", pathOf(clusterDesc(NS)), { body: clusterDesc(NS) });
    const machines = Array.from({ length: n }, (_, i) => machine(NS, i));
    const macs = machines.map((m) => String(m.spec!.mac));
    say(`cluster: creating ${n} Machines (16 POSTs in flight)`);
    let t = nowMs();
    await pool(machines, 16, async (m) => {
      await client.request("POST", pathOf(m), { body: m });
    });
    const createMachinesSeconds = (nowMs() - t) / 1000;
    say(`cluster: created in ${createMachinesSeconds.toFixed(1)} s; starting controller and server`);

    const metricsPort = await freePort();
    const serverPort = await freePort();
    t = nowMs();
    const controllerArgs = (port: number, resync = cfg.resync) => [
      "controller",
      "--kubeconfig",
      cp.kubeconfig,
      "--namespace",
      NS,
      "--no-leader-elect",
      "--metrics-port",
      String(port),
      "--metrics-host",
      "127.0.0.1",
      "--concurrency",
      String(cfg.writeConcurrency),
      "--resync",
      resync,
    ];
    const controller = startCcts("ccts-controller", controllerArgs(metricsPort), logDir, controllerEnv());
    procs.push(controller);
    const rateFlags = await rateLimitFlag();
    const cacheDir = join(tmp, "cache");
    const serverArgs = [
      "server",
      "--kubeconfig",
      cp.kubeconfig,
      "--namespace",
      NS,
      "--port",
      String(serverPort),
      "--host",
      "127.0.0.1",
      "--cache-dir",
      cacheDir,
      ...rateFlags,
    ];
    const server = startCcts("ccts-server", serverArgs, logDir, { NODE_OPTIONS: SERVER_NODE_OPTIONS });
    procs.push(server);
    const metrics = () => metricsOf(controller, metricsPort);
    const renderTimeout = Math.max(120_000, n * 60);
    try {
      await waitUntil(
        `${n} ConfigMaps written`,
        async () => {
          const m = await metrics();
          return (m.writes.configmap ?? 0) >= n && m.depth === 0;
        },
        renderTimeout,
        100,
      );
    } catch (e) {
      // Say how far it got: the figures of a miss are what the report needs.
      const m = await controllerMetrics(metricsPort).catch(() => undefined);
      const mem = controller.memory();
      throw new Error(
        `${(e as Error).message}; by then: ${m?.writes.configmap ?? "?"} ConfigMaps written, queue depth ${m?.depth ?? "?"}, controller RSS ${mem?.rssMiB ?? "?"} MiB (peak ${mem?.peakRssMiB ?? "?"}), V8 heap ${JSON.stringify(await heapOf(metricsPort))}, CPU ${cpuSeconds(controller.pid)} s`,
      );
    }
    const initialRenderSeconds = (nowMs() - t) / 1000;
    /** The processes' peak RSS so far, for the log: which phase set the controller's peak. */
    const peaksSoFar = () =>
      `(peak RSS so far: controller ${controller.memory()?.peakRssMiB ?? "?"} MiB, server ${server.memory()?.peakRssMiB ?? "?"} MiB)`;
    // More renders than Machines: resync passes during the initial render rendered some again.
    const afterInitial = await metrics();
    say(
      `cluster: initial render of ${n} Machines took ${initialRenderSeconds.toFixed(1)} s, ${afterInitial.renders} renders (${causesSince({ ...afterInitial, causes: {} }, afterInitial)}) ${peaksSoFar()}`,
    );
    const base = `http://127.0.0.1:${serverPort}`;
    await waitUntil("server /readyz", async () => (await fetch(`${base}/readyz`)).status === 200, 60_000);
    await sweepServed(base, macs, (i) => machineName(i), renderTimeout);
    const initialServedSeconds = (nowMs() - t) / 1000;

    // The controller's periodic resync (a pass over every Machine, writing nothing) must not
    // fall into a timed phase: it takes CPU from the raw writes (helping the ratio) or adds
    // reconciles to the fan-out (hurting it; seen in a CPU profile). Each timed phase starts
    // right after a pass, so the next one is a whole --resync period away.
    /**
     * Until the controller has reconciled every Machine once more since `r0`, queue empty.
     * Resolves to the longest the controller took to answer one of the polls, in ms.
     */
    const resyncPassSince = async (r0: Metrics, what: string) => {
      let slowest = 0;
      await waitUntil(
        what,
        async () => {
          const asked = nowMs();
          const m = await metrics();
          slowest = Math.max(slowest, nowMs() - asked);
          return m.reconciles - r0.reconciles >= n && m.depth === 0;
        },
        120_000 + n * 20,
        250,
      );
      return slowest;
    };
    const afterResyncPass = async (what: string) => {
      const r0 = await metrics();
      say(`cluster: waiting for a resync pass before ${what} (--resync ${cfg.resync})`);
      await resyncPassSince(r0, `a resync pass before ${what}`);
      const r1 = await metrics();
      say(
        `cluster: resync pass done, ${r1.renders - r0.renders} renders since (${causesSince(r0, r1)}) ${peaksSoFar()}`,
      );
    };
    await afterResyncPass("the raw reference");

    // Reference: the same API server taking the same number of ConfigMap writes of the same size
    // and shape from a plain client, server-side apply, same concurrency: the data, labels and
    // annotations of a rendered ConfigMap with its Machine's name swapped, and an owner reference
    // (to a ConfigMap in the raw namespace, so the garbage collector finds its owner). The labels
    // and the owner reference alone cost the API server ~10% more CPU per write than data with one
    // label (measured, bench/README). Created first, then updated (the fan-out updates existing
    // ConfigMaps, so the update pass is the reference). The raw namespace is not ccts's: neither
    // the controller nor the server watches it.
    const sample = (await listRendered(client)).find((c) => c.name === `ccts-machine-${machineName(5)}`);
    if (!sample) throw new Error("no rendered ConfigMap for m-00005");
    const rawOwner = await client.request<{ metadata: { uid: string } }>(
      "POST",
      paths.configMaps({ namespace: RAW_NS }),
      { body: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "raw-owner", namespace: RAW_NS } } },
    );
    const rawNames = Array.from({ length: n }, (_, i) => `raw-${String(i).padStart(5, "0")}`);
    const rawBody = (name: string, key: string) => {
      const swap = (texts: Record<string, string>) =>
        Object.fromEntries(
          Object.entries(texts).map(([k, v]) => [
            k,
            v.replaceAll(machineName(5), name.replace("raw", "r")).replaceAll("ops@bench", key),
          ]),
        );
      const data = swap(sample.data);
      return {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: {
          name,
          namespace: RAW_NS,
          labels: swap(sample.labels),
          annotations: {
            ...swap(sample.annotations),
            // Same length as ccts's content hash, new with each content.
            [CONTENT_HASH]: createHash("sha256")
              .update(JSON.stringify(data))
              .digest("hex")
              .slice(0, sample.annotations[CONTENT_HASH]?.length ?? 16),
          },
          ownerReferences: [
            {
              apiVersion: "v1",
              kind: "ConfigMap",
              name: "raw-owner",
              uid: rawOwner.metadata.uid,
              controller: true,
              blockOwnerDeletion: true,
            },
          ],
        },
        data,
      };
    };
    const cpDir = dirname(cp.kubeconfig);
    /**
     * One raw pass: its seconds, and the CPU seconds kube-apiserver and etcd spent meanwhile. A
     * plain client's applies, or (`asController`) with the query and answer the controller asks for.
     */
    const rawPass = async (key: string, concurrency: number, asController = false) => {
      const t0 = nowMs();
      const cpu0 = controlPlaneCpuSeconds(cpDir);
      await pool(rawNames, concurrency, async (name) => {
        await client.request("PATCH", paths.one(paths.configMaps({ namespace: RAW_NS }), name), {
          query: asController
            ? { ...APPLY_QUERY, fieldManager: "bench-raw" }
            : { fieldManager: "bench-raw", force: true },
          contentType: "application/apply-patch+yaml",
          ...(asController ? { accept: METADATA_ONLY } : {}),
          body: rawBody(name, key),
        });
      });
      return { seconds: (nowMs() - t0) / 1000, controlPlaneCpu: controlPlaneCpuSeconds(cpDir) - cpu0 };
    };
    say(`cluster: raw reference: ${n} server-side applies (create, 32 in flight), then ${n} (update)`);
    const rawCreate = (await rawPass("ops@bench", 32)).seconds;
    const rawUpdatePass = await rawPass("ops@bnch2", cfg.writeConcurrency);
    const rawUpdate = rawUpdatePass.seconds;
    say(`cluster: raw: create ${Math.round(n / rawCreate)}/s, update ${Math.round(n / rawUpdate)}/s`);

    /** The ClusterDesc edit of a fan-out: its SSH key, which every Machine's cloud-config carries. */
    const editKey = (key: string) =>
      client.request("PATCH", paths.one(paths.clusterDescs({ namespace: NS }), CLUSTER), {
        contentType: "application/merge-patch+json",
        body: { spec: { sshAuthorizedKeys: clusterDesc(NS, key).spec!.sshAuthorizedKeys } },
      });
    /**
     * Fan-out: one ClusterDesc edit (its SSH key) re-renders every Machine. Resolves with the
     * controller's metrics before the edit, once it has written `count` more ConfigMaps (one per
     * Machine) and its queue is empty (`read`: that controller's metrics).
     */
    const fanOut = async (key: string, count: number, read: () => Promise<Metrics>): Promise<Metrics> => {
      const before = await read();
      await editKey(key);
      await waitUntil(
        `fan-out to ${key}: ConfigMap writes`,
        async () => {
          const m = await read();
          return (m.writes.configmap ?? 0) - (before.writes.configmap ?? 0) >= count && m.depth === 0;
        },
        renderTimeout,
        // Each poll costs the controller a /metrics scrape (~1 ms of its CPU, 6% of a fan-out's
        // at 50 ms); 250 ms bounds the error at 1% of a 25-s fan-out.
        250,
      );
      return before;
    };
    /**
     * fanOut, measured: its seconds, and the CPU seconds the controller and the server (`pids`)
     * and kube-apiserver + etcd spent meanwhile. `startedAt`: the edit's time, for what follows.
     */
    const measuredFanOut = async (
      key: string,
      count: number,
      read: () => Promise<Metrics>,
      pids: { controller: number; server: number },
    ) => {
      const controllerCpu0 = cpuSeconds(pids.controller);
      const serverCpu0 = cpuSeconds(pids.server);
      const controlPlaneCpu0 = controlPlaneCpuSeconds(cpDir);
      const startedAt = nowMs();
      const before = await fanOut(key, count, read);
      return {
        before,
        startedAt,
        seconds: (nowMs() - startedAt) / 1000,
        controllerCpu: cpuSeconds(pids.controller) - controllerCpu0,
        serverCpu: cpuSeconds(pids.server) - serverCpu0,
        controlPlaneCpu: controlPlaneCpuSeconds(cpDir) - controlPlaneCpu0,
      };
    };
    /** How many rendered ConfigMaps carry `key` in their cloud-config. */
    const carrying = async (key: string) =>
      (await listRendered(client)).filter((c) => c.data["cloud-config"]?.includes(key)).length;

    await afterResyncPass("the fan-out");
    say("cluster: fan-out: editing the ClusterDesc");
    const {
      before,
      startedAt,
      seconds: configMapsSeconds,
      controllerCpu,
      serverCpu,
      controlPlaneCpu: fanoutControlPlaneCpu,
    } = await measuredFanOut(FANOUT_KEY, n, metrics, { controller: controller.pid, server: server.pid });
    const serverSweepSeconds = await sweepServed(base, macs, () => FANOUT_KEY, 120_000);
    const servedSeconds = (nowMs() - startedAt) / 1000;
    say(
      `cluster: fan-out: ConfigMaps ${configMapsSeconds.toFixed(1)} s, served ${servedSeconds.toFixed(1)} s ${peaksSoFar()}`,
    );
    // Every write of the fan-out is counted (a status write would be one more per Machine; the
    // controller writes none when only the content changed).
    await waitUntil("controller idle after the fan-out", async () => (await metrics()).depth === 0, 60_000);
    const afterFanout = await metrics();
    const fanoutWrites = deltaOf(before.writes, afterFanout.writes);
    const verified = await carrying(FANOUT_KEY);
    if (verified !== n) throw new Error(`fan-out: only ${verified} of ${n} ConfigMaps carry the new content`);

    // No-op resync: with nothing changed, a full pass over every Machine must write nothing.
    await sleep(2000);
    const r0 = await metrics();
    say(`cluster: waiting for a no-op resync (--resync ${cfg.resync})`);
    t = nowMs();
    // The slowest poll answer: a pass that writes nothing must still let watch events, probes
    // and the lease renewal in. (prom-client's nodejs_eventloop_lag_max_seconds does not show
    // it: 11 ms after a 2-s block on Node 24.)
    const longestStall = await resyncPassSince(r0, "a resync pass");
    await sleep(1000);
    const r1 = await metrics();
    const noopWrites = deltaOf(r0.writes, r1.writes);
    const noopResync = {
      reconciles: r1.reconciles - r0.reconciles,
      renders: r1.renders - r0.renders,
      writes: noopWrites,
      totalWrites: totalOf(noopWrites),
      waitedSeconds: round((nowMs() - t) / 1000, 1),
      longestStallMs: round(longestStall, 1),
    };
    say(
      `cluster: no-op resync: ${noopResync.reconciles} reconciles, ${noopResync.renders} renders, ${noopResync.totalWrites} writes, the controller answered /metrics within ${noopResync.longestStallMs} ms ${peaksSoFar()}`,
    );

    // The raw update pass again, on the other side of the fan-out, right after a resync pass (the
    // no-op one) like the first: the reference is both passes together.
    say(`cluster: raw reference after the fan-out: ${n} server-side applies (update)`);
    const rawUpdateAfterPass = await rawPass("ops@bnch3", cfg.writeConcurrency);
    const rawUpdateAfter = rawUpdateAfterPass.seconds;
    const rawControlPlaneCpu = rawUpdatePass.controlPlaneCpu + rawUpdateAfterPass.controlPlaneCpu;
    say(`cluster: raw applies as the controller makes them (fieldValidation=Ignore, metadata answer): ${n}`);
    const rawAsControllerPass = await rawPass("ops@bnch6", cfg.writeConcurrency, true);
    const raw = {
      createSeconds: round(rawCreate),
      createPerSecond: Math.round(n / rawCreate),
      updateSeconds: round(rawUpdate),
      updatePerSecond: Math.round(n / rawUpdate),
      updateAfterSeconds: round(rawUpdateAfter),
      updateAfterPerSecond: Math.round(n / rawUpdateAfter),
      referencePerSecond: Math.round((2 * n) / (rawUpdate + rawUpdateAfter)),
      controlPlaneCpuMsPerWrite: round((rawControlPlaneCpu / (2 * n)) * 1000),
      asController: {
        perSecond: Math.round(n / rawAsControllerPass.seconds),
        controlPlaneCpuMsPerWrite: round((rawAsControllerPass.controlPlaneCpu / n) * 1000),
      },
    };
    say(
      `cluster: raw update after the fan-out ${raw.updateAfterPerSecond}/s (before: ${raw.updatePerSecond}/s); reference ${raw.referencePerSecond}/s; applied as the controller does ${raw.asController.perSecond}/s`,
    );

    /**
     * Apply to served, one Machine at a time: POST, then ask the server every 2 ms until it
     * answers with the new Machine's hostname (10 s at most, counted as a failure).
     */
    const applyOneByOne = async (prefix: string, macPrefix: string, count: number) => {
      const latencies: number[] = [];
      let failures = 0;
      for (let s = 0; s < count; s++) {
        const m = machine(NS, s, prefix, macPrefix);
        const mac = macOf(s, macPrefix);
        const t0 = nowMs();
        await client.request("POST", pathOf(m), { body: m });
        try {
          await waitUntil(
            `${m.metadata.name} served`,
            async () => {
              const res = await fetch(`${base}/cloud-config/${mac}`);
              const body = await res.text();
              return res.status === 200 && body.includes(`hostname: "${m.metadata.name}"`);
            },
            10_000,
            2,
          );
          latencies.push(nowMs() - t0);
        } catch {
          failures++;
          latencies.push(10_000);
        }
        await sleep(50);
      }
      return {
        samples: count,
        p50Ms: round(percentile(latencies, 50), 1),
        p99Ms: round(percentile(latencies, 99), 1),
        maxMs: round(Math.max(...latencies), 1),
        failures,
      };
    };
    const applyToServed = await applyOneByOne("lat", "02:cd", cfg.applySamples);
    say(
      `cluster: apply-to-served p50 ${applyToServed.p50Ms} ms, p99 ${applyToServed.p99Ms} ms ${peaksSoFar()}`,
    );

    // The cluster-mode server under the same load as the embedded one, against nginx.
    const memory = {
      controller: controller.memory(),
      server: server.memory(),
      controllerHeap: await heapOf(metricsPort),
      serverHeap: await heapOf(serverPort),
    };
    // The serving runs measure the server: the controller's periodic resync (a pass over every
    // Machine each --resync) shared the two cores with some runs and not others (0.46 cores during
    // one ccts run at 15:56 on 2026-12-01). Its figures are taken; it is done once it has written
    // the dnsmasq.conf of the last Machines applied: the controller waits a second for more Machine
    // changes before it renders that (a timer, not in its queue's depth), SIGTERM finishes only
    // the reconciles in flight, and the controller started again below would write it, where it
    // must write nothing (found in the quick run: 10 reservations missing).
    await sleep(2000);
    await waitUntil(
      "controller idle before the serving runs",
      async () => (await metrics()).depth === 0,
      60_000,
    );
    await controller.stop();
    say("cluster: controller stopped for the serving runs");
    const othersCpu = () =>
      controlPlaneCpuSeconds(cpDir, /(^|\/)(kube-apiserver|etcd|kube-controller-manager)$/);
    const comparison = await compareWithNginx(
      cfg.serving,
      serverPort,
      server.pid,
      macs,
      macs.map((_, i) => machineName(i)),
      join(tmp, "serving"),
      logDir,
      (s) => say(`serving (cluster): ${s}`),
      othersCpu,
    );
    const serverPeakAfterLoad = server.memory()?.peakRssMiB;
    // Diagnostics: the same server restarted from its disk cache (a fresh process, no fan-out
    // behind it), first with the access log as above, then without it, then with its documents in
    // memory. Tells the cost of the log and of the document file from the server's history.
    const restarted: Pick<ServingResult, "cctsRestarted" | "cctsAccessLogOff" | "cctsDocumentsInMemory"> = {};
    let running = server;
    if (cfg.serving.restartedRuns) {
      for (const [name, level, extraArgs, field] of [
        ["ccts-server-restarted", "info", [], "cctsRestarted"],
        ["ccts-server-quiet", "warn", [], "cctsAccessLogOff"],
        ["ccts-server-in-memory", "info", ["--documents-in-memory"], "cctsDocumentsInMemory"],
      ] as const) {
        await running.stop();
        running = startCcts(name, [...serverArgs, ...extraArgs], logDir, {
          CCTS_LOG_LEVEL: level,
          NODE_OPTIONS: SERVER_NODE_OPTIONS,
        });
        procs.push(running);
        await waitUntil(
          `${name} /readyz`,
          async () => (await fetch(`${base}/readyz`)).status === 200,
          60_000,
        );
        await sweepServed(base, macs, () => FANOUT_KEY, 60_000);
        // It serves from its disk cache at once, while it relists the API server in the background.
        await idle(running.pid, 60_000);
        const figures = await quietRun(cfg.serving, serverPort, macs, tmp, othersCpu);
        restarted[field] =
          field === "cctsDocumentsInMemory"
            ? { ...figures, peakRssMiB: running.memory()?.peakRssMiB }
            : figures;
        say(
          `serving (cluster): ${name}: ${figures.rps} req/s (other processes: ${figures.othersCores} cores), peak RSS ${running.memory()?.peakRssMiB} MiB`,
        );
      }
    }
    await running.stop();
    const joinStart = nowMs();
    const joining = startCcts(
      "ccts-server-joining",
      serverArgs.map((a) => (a === cacheDir ? join(tmp, "cache-joining") : a)),
      logDir,
      { NODE_OPTIONS: SERVER_NODE_OPTIONS },
    );
    procs.push(joining);
    await sweepServed(base, macs, () => FANOUT_KEY, 120_000);
    const serverJoining = {
      servedSeconds: round((nowMs() - joinStart) / 1000),
      peakRssMiB: joining.memory()?.peakRssMiB,
    };
    say(
      `cluster: a server with an empty cache served all ${n} Machines after ${serverJoining.servedSeconds} s, peak RSS ${serverJoining.peakRssMiB} MiB`,
    );

    // Two diagnostics, last so that no figure above has them in its history, with a controller
    // started again (the first was stopped for the serving runs) and the joining server.
    // The Machines of apply-to-served are members too: the fan-out rewrites theirs as well.
    const members = n + cfg.applySamples;
    const port = await freePort();
    // No resync pass in these (a fan-out of 10,000 takes longer than --resync 60s here): a pass
    // landing in one adds a render per Machine and a queue to drain to its time.
    const againStarted = nowMs();
    const again = startCcts("ccts-controller-again", controllerArgs(port, "1h"), logDir, controllerEnv());
    procs.push(again);
    const readAgain = () => metricsOf(again, port);
    await waitUntil(
      "the restarted controller's first pass",
      async () => {
        const m = await readAgain();
        return m.reconciles >= members && m.depth === 0;
      },
      renderTimeout,
      250,
    );
    const firstPass = await readAgain();
    const restartPass = {
      machines: members,
      seconds: round((nowMs() - againStarted) / 1000),
      renders: firstPass.renders,
      writes: firstPass.writes,
      totalWrites: totalOf(firstPass.writes),
    };
    say(
      `cluster: a controller started again went over all ${members} Machines in ${restartPass.seconds} s: ${restartPass.renders} renders, writes ${JSON.stringify(restartPass.writes)}`,
    );

    // 1. The raw passes and a fan-out again, with the control plane (etcd, kube-apiserver,
    // kube-controller-manager) bound to CPU 0 and ccts and this client to CPU 1. In a real
    // cluster the API server does not share its cores with the controller; this tells whether
    // ccts keeps up with an API server that has a core of its own.
    let separateCores: SeparateCores;
    const whyNot = cannotPin();
    if (whyNot) {
      separateCores = { skipped: whyNot };
      say(`cluster: fan-out on separate cores skipped: ${whyNot}`);
    } else {
      const controlPlane = processesNaming(cpDir)
        .map((line) => line.split(" "))
        .filter(([, command]) => /(^|\/)(kube-apiserver|etcd|kube-controller-manager)$/.test(command ?? ""))
        .map(([pid]) => Number(pid));
      const ours = [again.pid, joining.pid, process.pid];
      const masks = [...controlPlane, ...ours].map((pid) => [pid, allowedCpus(pid)] as const);
      try {
        pin(controlPlane, "0");
        pin(ours, "1");
        say(
          "cluster: on separate cores (control plane on CPU 0, ccts and the raw client on CPU 1): raw, fan-out, raw",
        );
        const before = await rawPass("ops@bnch4", cfg.writeConcurrency);
        const {
          seconds,
          controllerCpu,
          controlPlaneCpu: fanoutCpu,
        } = await measuredFanOut(SEPARATE_CORES_KEY, members, readAgain, {
          controller: again.pid,
          server: joining.pid,
        });
        const after = await rawPass("ops@bnch5", cfg.writeConcurrency);
        const rawBefore = before.seconds;
        const rawAfter = after.seconds;
        const rawCpu = before.controlPlaneCpu + after.controlPlaneCpu;
        const verifiedConfigMaps = await carrying(SEPARATE_CORES_KEY);
        if (verifiedConfigMaps !== members)
          throw new Error(
            `fan-out on separate cores: ${verifiedConfigMaps} of ${members} ConfigMaps carry the new content`,
          );
        const referencePerSecond = (2 * n) / (rawBefore + rawAfter);
        separateCores = {
          configMaps: members,
          rawUpdatePerSecond: Math.round(n / rawBefore),
          rawUpdateAfterPerSecond: Math.round(n / rawAfter),
          referencePerSecond: Math.round(referencePerSecond),
          configMapsSeconds: round(seconds),
          configMapWritesPerSecond: Math.round(members / seconds),
          ratioToRaw: round(members / seconds / referencePerSecond, 3),
          verifiedConfigMaps,
          controllerCpuMsPerWrite: round((controllerCpu / members) * 1000),
          controlPlaneCpuMsPerWrite: {
            raw: round((rawCpu / (2 * n)) * 1000),
            fanout: round((fanoutCpu / members) * 1000),
          },
        };
        say(
          `cluster: on separate cores: fan-out ${separateCores.configMapsSeconds} s, ${separateCores.configMapWritesPerSecond}/s (${separateCores.ratioToRaw}x of raw ${separateCores.referencePerSecond}/s: ${separateCores.rawUpdatePerSecond}/s before, ${separateCores.rawUpdateAfterPerSecond}/s after)`,
        );
      } finally {
        for (const [pid, cpus] of masks) {
          try {
            pin([pid], cpus);
          } catch {
            // ended meanwhile
          }
        }
      }
    }

    // 2. Apply to served while a fan-out of every Machine is under way: a Machine's own change
    // goes ahead of the fan-out's (the queue's bulk lane), so it is served in its time, not after
    // the fan-out's remaining Machines.
    say(`cluster: apply to served during a fan-out of ${members} Machines`);
    const duringSamples = Math.max(2, Math.round(cfg.applySamples / 5));
    const beforeDuring = await readAgain();
    const writtenSince = async () =>
      ((await readAgain()).writes.configmap ?? 0) - (beforeDuring.writes.configmap ?? 0);
    await editKey(DURING_FANOUT_KEY);
    await waitUntil(
      "the fan-out under way",
      async () => (await writtenSince()) >= members / 10,
      renderTimeout,
      50,
    );
    const during = await applyOneByOne("dur", "02:ce", duringSamples);
    // The samples' own ConfigMaps are among the writes.
    const fanoutWritten = (await writtenSince()) - duringSamples;
    await waitUntil(
      "the fan-out done",
      async () => (await writtenSince()) >= members + duringSamples && (await readAgain()).depth === 0,
      renderTimeout,
      250,
    );
    const applyDuringFanout = { ...during, fanoutMachines: members, fanoutWritten };
    say(
      `cluster: apply to served during the fan-out: p50 ${during.p50Ms} ms, p99 ${during.p99Ms} ms (the fan-out had written ${fanoutWritten} of ${members} by then)`,
    );

    const serving: ServingResult = {
      mode: "cluster",
      loadSeconds: round(initialServedSeconds),
      rateLimitFlag: rateFlags,
      ...comparison,
      ...restarted,
      peakRssMiB: serverPeakAfterLoad,
    };

    return {
      machines: n,
      writeConcurrency: cfg.writeConcurrency,
      createMachinesSeconds: round(createMachinesSeconds),
      initialRenderSeconds: round(initialRenderSeconds),
      initialRenders: afterInitial.renders,
      initialServedSeconds: round(initialServedSeconds),
      raw,
      fanout: {
        configMapsSeconds: round(configMapsSeconds),
        servedSeconds: round(servedSeconds),
        serverSweepSeconds: round(serverSweepSeconds),
        verifiedConfigMaps: verified,
        configMapWritesPerSecond: Math.round(n / configMapsSeconds),
        writes: fanoutWrites,
        apiWritesPerSecond: Math.round(totalOf(fanoutWrites) / configMapsSeconds),
        ratioToRaw: round(n / configMapsSeconds / raw.referencePerSecond, 3),
        controllerCpuSeconds: round(controllerCpu),
        controllerCpuShare: round(controllerCpu / configMapsSeconds),
        serverCpuSeconds: round(serverCpu),
        controlPlaneCpuMsPerWrite: round((fanoutControlPlaneCpu / n) * 1000),
      },
      noopResync,
      applyToServed,
      restartPass,
      serving,
      memory: { ...memory, serverJoining },
      separateCores,
      applyDuringFanout,
    };
  } finally {
    for (const p of procs.reverse()) await p.stop();
    client.close();
    await cp.stop();
  }
}
