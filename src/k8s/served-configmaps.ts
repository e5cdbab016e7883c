// The server's view of the cluster: a watch on the rendered ConfigMaps (by label), feeding the
// in-memory MAC index and the disk cache. While the API server is away the index and the cache
// keep what they had; when it is back the informer relists and both catch up.
import type { Logger } from "pino";
import { LABEL_MANAGED_BY } from "../api/constants.js";
import type { DiskCache } from "../cache/disk-cache.js";
import type { DocumentIndex } from "../cache/document-index.js";
import { entryFromConfigMap, type RenderedConfigMapLike } from "../cache/rendered-entry.js";
import { MANAGED_BY } from "../controller/rendered-configmap.js";
import type { KubeClient } from "./client.js";
import { Informer } from "./informer.js";
import { paths } from "./paths.js";

type RenderedConfigMap = RenderedConfigMapLike & {
  metadata: { name: string; namespace?: string; resourceVersion?: string };
};

export class ServedConfigMaps {
  private readonly informer: Informer<RenderedConfigMap>;

  constructor(
    client: KubeClient,
    namespace: string | undefined,
    private readonly index: DocumentIndex,
    private readonly cache: DiskCache,
    logger: Logger,
  ) {
    this.informer = new Informer<RenderedConfigMap>({
      client,
      path: paths.configMaps({ namespace }),
      labelSelector: `${LABEL_MANAGED_BY}=${MANAGED_BY}`,
      onEvent: (type, obj) => {
        const entry = entryFromConfigMap(obj);
        if (type === "DELETED") {
          this.index.remove(entry.key);
          void this.cache.remove(entry.key);
        } else {
          this.index.upsert(entry);
          void this.cache.write(entry);
        }
      },
      onError: (err, retryInMs) =>
        logger.warn({ err: String(err), retryInMs }, "ConfigMap watch failed; serving what is known"),
    });
  }

  get synced(): boolean {
    return this.informer.hasSynced;
  }

  /** Starts watching; resolves after the first list, having dropped entries the cluster no longer has. */
  async start(): Promise<void> {
    this.informer.start();
    await this.informer.synced();
    const live = new Set([...this.informer.list()].map((cm) => entryFromConfigMap(cm).key));
    for (const key of [...this.index.keys()]) {
      if (!live.has(key)) {
        this.index.remove(key);
        void this.cache.remove(key);
      }
    }
  }

  stop(): Promise<void> {
    return this.informer.stop();
  }
}
