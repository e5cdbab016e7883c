import { resolve } from "node:path";
import { pino } from "pino";
import { DiskCache } from "../cache/disk-cache.js";
import { DocumentIndex } from "../cache/document-index.js";
import { KubeClient, loadKubeConfig } from "../k8s/client.js";
import { ServedConfigMaps } from "../k8s/served-configmaps.js";
import { buildApp } from "../server/app.js";
import { MemoryLookup } from "../server/memory-lookup.js";
import { HTTP_FLAGS, httpSettings } from "./http-flags.js";
import { parse, required } from "./usage.js";

/** Cluster mode: serves the controller's rendered ConfigMaps, from memory, backed by a disk cache. */
export async function runServer(args: string[]): Promise<number> {
  const { values } = parse(args, {
    kubeconfig: { type: "string" },
    namespace: { type: "string" },
    "documents-namespace": { type: "string" },
    "cache-dir": { type: "string" },
    ...HTTP_FLAGS,
  });
  const http = httpSettings(values);
  const logger = pino({ level: process.env.CCTS_LOG_LEVEL ?? "info" });
  const lookup = new MemoryLookup();
  const index = new DocumentIndex(lookup);
  const cache = new DiskCache(resolve(required(values["cache-dir"], "--cache-dir")), (op, key, err) =>
    logger.error({ op, key, err: String(err) }, "disk cache"),
  );
  // Serve what the cache holds before the API server is even asked: it may be down.
  const cached = await cache.load((entry) => index.upsert(entry));
  if (cached > 0) lookup.setReady(true);
  logger.info({ entries: cached, dir: cache.dir }, "loaded disk cache");

  const app = buildApp({ lookup, logger, ...http.app });
  await app.listen(http.listen);

  const client = await KubeClient.create(loadKubeConfig(values.kubeconfig));
  const served = new ServedConfigMaps(client, index, cache, logger, {
    namespace: values.namespace,
    documentsNamespace: values["documents-namespace"],
  });
  void served.start().then(() => {
    lookup.setReady(true);
    logger.info({ machines: index.size }, "ConfigMap watch synced");
  });

  await new Promise<void>((done) => {
    process.once("SIGINT", done);
    process.once("SIGTERM", done);
  });
  logger.info("shutting down");
  await app.close();
  await served.stop();
  await cache.flush();
  client.close();
  return 0;
}
