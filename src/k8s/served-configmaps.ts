// The server's view of the cluster: watches on the rendered ConfigMaps and on the Secrets of
// documents that hold private keys (both by label), feeding the in-memory MAC index and the disk
// cache. While the API server is away the index and the cache keep what they had; when it is back
// the informers relist and both catch up.
import type { Logger } from "pino";
import { LABEL_KIND, LABEL_MANAGED_BY } from "../api/constants.js";
import type { DiskCache } from "../cache/disk-cache.js";
import type { DocumentIndex } from "../cache/document-index.js";
import {
  entryFromConfigMap,
  entryFromSecret,
  type RenderedConfigMapLike,
  type RenderedEntry,
} from "../cache/rendered-entry.js";
import { MANAGED_BY } from "../controller/rendered-configmap.js";
import type { KubeClient } from "./client.js";
import { Informer } from "./informer.js";
import { paths } from "./paths.js";

type Rendered = RenderedConfigMapLike & {
  metadata: { name: string; namespace?: string; resourceVersion?: string };
};

const RELIST_PAGE = 50;
/** The longest a relist waits for the disk cache per page: a slow disk must not stop serving. */
const RELIST_WAIT_MS = 5000;

export class ServedConfigMaps {
  private readonly informers: { informer: Informer<Rendered>; toEntry: (obj: Rendered) => RenderedEntry }[];

  /**
   * `namespace`: where the rendered ConfigMaps are (all namespaces when absent).
   * `documentsNamespace`: where the Secrets of documents holding private keys are (the
   * controller's --documents-namespace; default `namespace`).
   */
  constructor(
    client: KubeClient,
    private readonly index: DocumentIndex,
    private readonly cache: DiskCache,
    logger: Logger,
    { namespace, documentsNamespace = namespace }: { namespace?: string; documentsNamespace?: string } = {},
  ) {
    const watch = (
      path: string,
      labelSelector: string,
      toEntry: (obj: Rendered) => RenderedEntry,
      what: string,
    ) => {
      /** The disk cache did not keep up with the last page: do not wait for it again until it has. */
      let diskBehind = false;
      return {
        toEntry,
        informer: new Informer<Rendered>({
          client,
          path,
          labelSelector,
          // The index and the disk cache take what they need from each event; the informer keeps
          // only what a relist needs to tell what changed or went.
          cached: ({ metadata: { name, namespace, resourceVersion } }) => ({
            metadata: { name, namespace, resourceVersion },
          }),
          // A relist of 10,000 ConfigMaps (a new replica, an empty cache) arrives in seconds; pages of
          // 50, each written to the disk cache before the next is asked for (so each also waits for
          // the cache's 20-ms batch window), keep its peak RSS near the steady state's (measured: 358
          // MB with pages of 500 and no wait; see bench/README.md). The faster the pages come, the
          // higher the peak, whatever their size: 10,000 ConfigMaps joined in 1.7-2.2 s peaked at
          // 148-162 MiB, in 2.0-2.4 s at 128-145 (pages of 100, or of 50 without the window), in
          // 3.4-3.8 s at 126-135 (pages of 100), in 5.6-6.9 s at 117-122 (pages of 50).
          pageSize: RELIST_PAGE,
          afterPage: async () => {
            // A stalled volume costs one wait, not one per page (200 pages of 5 s).
            const caughtUp = await this.cache.caughtUp(0, diskBehind ? 0 : RELIST_WAIT_MS);
            if (!caughtUp && !diskBehind)
              logger.warn(
                { waitedMs: RELIST_WAIT_MS },
                "disk cache behind; listing on without waiting for it",
              );
            diskBehind = !caughtUp;
          },
          onEvent: (type, obj) => {
            const entry = toEntry(obj);
            if (type === "DELETED") {
              this.index.remove(entry.key);
              void this.cache.remove(entry.key);
            } else {
              this.index.upsert(entry);
              void this.cache.write(entry);
            }
          },
          onError: (err, retryInMs) =>
            logger.warn({ err: String(err), retryInMs }, `${what} watch failed; serving what is known`),
        }),
      };
    };
    this.informers = [
      watch(
        paths.configMaps({ namespace }),
        `${LABEL_MANAGED_BY}=${MANAGED_BY}`,
        entryFromConfigMap,
        "ConfigMap",
      ),
      watch(
        paths.secrets({ namespace: documentsNamespace }),
        `${LABEL_MANAGED_BY}=${MANAGED_BY},${LABEL_KIND}=documents`,
        entryFromSecret,
        "Secret",
      ),
    ];
  }

  get synced(): boolean {
    return this.informers.every((i) => i.informer.hasSynced);
  }

  /** Starts watching; resolves after the first lists, having dropped entries the cluster no longer has. */
  async start(): Promise<void> {
    for (const { informer } of this.informers) informer.start();
    await Promise.all(this.informers.map(({ informer }) => informer.synced()));
    const live = new Set(
      this.informers.flatMap(({ informer, toEntry }) => [...informer.list()].map((o) => toEntry(o).key)),
    );
    for (const key of this.index.keys()) {
      if (!live.has(key)) {
        this.index.remove(key);
        void this.cache.remove(key);
      }
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.informers.map(({ informer }) => informer.stop()));
  }
}
