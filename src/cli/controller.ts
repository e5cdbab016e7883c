import { hostname } from "node:os";
import { join } from "node:path";
import { collectDefaultMetrics, Registry } from "prom-client";
import { KubeClient, loadKubeConfig } from "../k8s/client.js";
import { ControllerRuntime, DAY_MS } from "../k8s/controller-runtime.js";
import { GitSync } from "../k8s/git-sync.js";
import { LeaderElector } from "../k8s/leader.js";
import { startHealthServer } from "./health.js";
import { processLogger } from "./logger.js";
import { durationMs, parse, port, UsageError } from "./usage.js";
import { registerBuildInfo, VERSION } from "./version.js";

/** Runs until SIGINT/SIGTERM; then finishes reconciles in flight and releases the lease. */
export async function runController(args: string[]): Promise<number> {
  const { values } = parse(args, {
    kubeconfig: { type: "string" },
    namespace: { type: "string" },
    "documents-namespace": { type: "string" },
    "metrics-port": { type: "string" },
    "metrics-host": { type: "string", default: "0.0.0.0" },
    concurrency: { type: "string", default: "8" },
    resync: { type: "string", default: "10m" },
    "leader-elect": { type: "boolean", default: true },
    "no-leader-elect": { type: "boolean", default: false },
    "lease-namespace": { type: "string" },
    "lease-name": { type: "string", default: "ccts-controller" },
    "lease-duration": { type: "string", default: "10s" },
    identity: { type: "string" },
    "git-cache-dir": { type: "string" },
  });
  const logger = processLogger().child({ component: "controller" });
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  registerBuildInfo(registry);
  // Flags first: a typo is a usage error whether or not a cluster is reachable.
  const concurrency = Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new UsageError("--concurrency must be a positive integer");
  const resyncMs = durationMs(values.resync!);
  if (resyncMs < 1000) throw new UsageError(`--resync must be at least 1s, got ${values.resync}`);
  const leaderElect = values["leader-elect"] && !values["no-leader-elect"];
  const leaseNamespace = values["lease-namespace"] ?? values.namespace ?? process.env.POD_NAMESPACE;
  if (leaderElect && !leaseNamespace)
    throw new UsageError("--lease-namespace is required when watching all namespaces (or set POD_NAMESPACE)");
  const client = await KubeClient.create(loadKubeConfig(values.kubeconfig));
  const runtime = new ControllerRuntime({
    client,
    namespace: values.namespace,
    documentsNamespace: values["documents-namespace"],
    concurrency,
    logger,
    metrics: registry,
    // Renewals due within two resyncs (at least a day) get a timer; later ones a resync finds.
    renewalHorizonMs: Math.max(DAY_MS, 2 * resyncMs),
  });
  // Templates from git (ClusterDesc spec.git, docs/templates-from-git.md): leader only, like reconciling.
  const gitCacheDir =
    values["git-cache-dir"] ??
    (process.env.XDG_CACHE_HOME ? join(process.env.XDG_CACHE_HOME, "ccts/git") : "/var/cache/ccts/git");
  const gitSync = new GitSync({ client, cache: runtime.cache, cacheDir: gitCacheDir, logger });
  const health = await startHealthServer(
    registry,
    () => runtime.synced,
    port(values["metrics-port"], 9090),
    values["metrics-host"]!,
  );
  logger.info(
    { version: VERSION, server: client.serverURL, namespace: values.namespace ?? "(all)" },
    "starting",
  );
  await runtime.startInformers();
  logger.info({ machines: runtime.cache.machines.size }, "caches synced");

  const resync = setInterval(() => runtime.resync(), resyncMs);
  let elector: LeaderElector | undefined;
  let lost = false;
  if (leaderElect && leaseNamespace) {
    elector = new LeaderElector({
      client,
      namespace: leaseNamespace,
      name: values["lease-name"]!,
      identity: values.identity ?? `${hostname()}-${process.pid}`,
      leaseDurationSeconds: durationMs(values["lease-duration"]!) / 1000,
      logger,
    });
    elector.run(
      () => {
        runtime.startReconciling();
        gitSync.start();
      },
      () => {
        // Another replica may already be writing: stop at once, the kubelet restarts us as a standby.
        lost = true;
        process.kill(process.pid, "SIGTERM");
      },
    );
  } else {
    runtime.startReconciling();
    gitSync.start();
  }

  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  logger.info("shutting down: finishing reconciles in flight");
  clearInterval(resync);
  await gitSync.stop();
  await runtime.stop();
  await elector?.release();
  health.close();
  client.close();
  logger.info("stopped");
  return lost ? 1 : 0;
}
