import { mkdir } from "node:fs/promises";
import { resolve } from "node:path";
import type { Logger } from "pino";
import { Gauge, Registry } from "prom-client";
import { DiskCache } from "../cache/disk-cache.js";
import { DocumentFile } from "../cache/document-file.js";
import { DocumentIndex } from "../cache/document-index.js";
import { KubeClient, loadKubeConfig } from "../k8s/client.js";
import { ServedConfigMaps } from "../k8s/served-configmaps.js";
import { buildApp } from "../server/app.js";
import { MemoryLookup } from "../server/memory-lookup.js";
import { HTTP_FLAGS, httpSettings } from "./http-flags.js";
import { processLogging } from "./logger.js";
import { parse, required } from "./usage.js";
import { registerBuildInfo, VERSION } from "./version.js";

/**
 * Cluster mode: serves the controller's rendered ConfigMaps, indexed in memory, their bytes in a
 * file of the cache directory (page cache), backed by a disk cache that outlives restarts.
 */
export async function runServer(args: string[]): Promise<number> {
  const { values } = parse(args, {
    kubeconfig: { type: "string" },
    namespace: { type: "string" },
    "documents-namespace": { type: "string" },
    "cache-dir": { type: "string" },
    "documents-in-memory": { type: "boolean", default: false },
    ...HTTP_FLAGS,
  });
  // Behind a NodePort (kube-proxy's SNAT) or a proxy, one address stands for many machines: no
  // per-client limit unless asked for (README, Protecting the server).
  const http = httpSettings(values, 0);
  const { logger, accessLog } = processLogging();
  const cacheDir = resolve(required(values["cache-dir"], "--cache-dir"));
  logger.info({ version: VERSION, cacheDir }, "starting");
  // Read before anything is served: a kubeconfig that cannot be read is a configuration error,
  // not an API server that is away (which the disk cache is there for).
  const access = await loadKubeConfig(values.kubeconfig);
  const cache = new DiskCache(cacheDir, (op, key, err) =>
    logger.error({ op, key, err: String(err) }, "disk cache"),
  );
  // In memory the documents cost ~8 MB of RSS per 1,000 Machines and save the pread per request.
  const documentFile = values["documents-in-memory"] ? undefined : await openDocumentFile(cacheDir, logger);
  const registry = new Registry();
  registerBuildInfo(registry);
  if (documentFile) documentFileMetrics(documentFile, registry);
  fileBytesGauge(
    registry,
    "ccts_disk_cache_bytes",
    "Bytes of the disk cache's journal: live (latest record per ConfigMap) and garbage (replaced or removed, until compacted).",
    () => cache.stats(),
  );
  const lookup = new MemoryLookup();
  const index = new DocumentIndex(lookup, documentFile);
  // Serve what the cache holds before the API server is even asked: it may be down.
  const cached = await cache.load((entry) => index.upsert(entry));
  if (cached > 0) lookup.setReady(true);
  logger.info(
    { entries: cached, dir: cache.dir, documents: documentFile ? "document file" : "memory" },
    "loaded disk cache",
  );

  const app = buildApp({ lookup, logger, accessLog, metrics: registry, ...http.app });
  await app.listen(http.listen);

  const client = await KubeClient.create(access);
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
  await cache.close();
  documentFile?.close();
  client.close();
  return 0;
}

/** The document file in the cache directory; undefined (documents in memory) when it cannot be made. */
async function openDocumentFile(dir: string, logger: Logger): Promise<DocumentFile | undefined> {
  try {
    await mkdir(dir, { recursive: true });
    return new DocumentFile(dir, (op, err) =>
      logger.error(
        { op, err: String(err) },
        "document file failed; documents it could not take stay in memory",
      ),
    );
  } catch (err) {
    logger.error(
      { dir, err: String(err) },
      "no document file in the cache directory; documents are kept in memory",
    );
    return undefined;
  }
}

function documentFileMetrics(file: DocumentFile, registry: Registry): void {
  fileBytesGauge(
    registry,
    "ccts_document_file_bytes",
    "Bytes of the server's document file: live (served) and garbage (replaced, until compacted).",
    () => file.stats(),
  );
}

/** A gauge of a file's live and garbage bytes (a file that appends and compacts now and then). */
function fileBytesGauge(
  registry: Registry,
  name: string,
  help: string,
  stats: () => { liveBytes: number; garbageBytes: number },
): void {
  new Gauge({
    name,
    help,
    labelNames: ["state"] as const,
    registers: [registry],
    collect() {
      const { liveBytes, garbageBytes } = stats();
      this.set({ state: "live" }, liveBytes);
      this.set({ state: "garbage" }, garbageBytes);
    },
  });
}
