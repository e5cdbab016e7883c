// List-then-watch with a local cache, that never gives up: a watch the server ends is resumed at
// once from the last resourceVersion; a 410 Gone (resourceVersion too old) or any error leads to a
// fresh list, retried with capped backoff while the API server is unreachable. After a relist the
// cache is diffed against the list, so handlers see every change they missed as ordinary events.
import { namespacedKey } from "../api/machine.js";
import { ApiError, type KubeClient, METADATA_ONLY, METADATA_ONLY_LIST } from "./client.js";

export interface KubeObject {
  metadata: { name: string; namespace?: string; resourceVersion?: string; uid?: string };
}

export type EventType = "ADDED" | "MODIFIED" | "DELETED";

export interface InformerOptions<T extends KubeObject> {
  client: KubeClient;
  /** Collection path, e.g. `/apis/ccts.io/v1alpha1/namespaces/ns/machines` or `/api/v1/configmaps`. */
  path: string;
  labelSelector?: string;
  /**
   * Lists and watches the objects' metadata only (PartialObjectMetadata): for a component that
   * reads none of their content, the API server sends and this process parses a tenth of it.
   */
  metadataOnly?: boolean;
  /**
   * Handlers get each object whole; `old` is what the cache kept of it: `cached(obj)` when given,
   * so a component can keep only the fields it reads later (the memory of 10,000 objects).
   */
  onEvent: (type: EventType, obj: T, old: T | undefined) => void;
  /**
   * What the cache keeps of `obj`, given what it kept of the object's previous version and the
   * object's managedFields (handlers and the cache get the object without them).
   */
  cached?: (obj: T, previous: T | undefined, managedFields: ManagedFieldsEntry[] | undefined) => T;
  /** Told of every error with the delay before the next try, for logs. */
  onError?: (error: unknown, retryInMs: number) => void;
  /**
   * Objects per listed page (default 100). Pages of 500 rendered ConfigMaps are ~5 MB bodies held
   * as Buffers, a string and objects until a full GC: a controller restarted against 10,000
   * Machines peaked at 265-281 MiB with 500, 244 with 100 (restart 21.3 -> 21.7-22.2 s).
   */
  pageSize?: number;
  /** Awaited after each listed page's events, before the next page is asked for (backpressure). */
  afterPage?: () => Promise<void>;
  maxBackoffMs?: number;
}

/** One entry of metadata.managedFields: who last set which fields (server-side apply bookkeeping). */
export interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  fieldsV1?: Record<string, unknown>;
}

interface WatchEvent<T> {
  type: EventType | "BOOKMARK" | "ERROR";
  object: T & { code?: number; message?: string };
}

/**
 * managedFields (server-side apply bookkeeping) are often the largest part of an object and only
 * `cached` may read them: drop them before caching, as controller-runtime's informers do. Returns
 * what was dropped.
 */
function trim<T extends KubeObject>(obj: T): ManagedFieldsEntry[] | undefined {
  const metadata = obj.metadata as T["metadata"] & { managedFields?: ManagedFieldsEntry[] };
  const managedFields = metadata?.managedFields;
  if (managedFields !== undefined) {
    // A copy without it, not `delete`: deleting a property turns the object into a slow dictionary
    // (~450 bytes each, measured: 10 MB over the controller's caches at 10,000 Machines).
    const { managedFields: _dropped, ...rest } = metadata;
    obj.metadata = rest;
  }
  return managedFields;
}

function keyOf(obj: KubeObject): string {
  return namespacedKey(obj.metadata.namespace ?? "", obj.metadata.name);
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(t);
      resolve();
    });
  });

export class Informer<T extends KubeObject> {
  private readonly cache = new Map<string, T>();
  private readonly abort = new AbortController();
  private resourceVersion = "";
  private syncedOnce = false;
  private syncWaiters: (() => void)[] = [];
  private running: Promise<void> | undefined;
  /** Times the informer listed; tests and metrics read it. */
  lists = 0;

  constructor(private readonly options: InformerOptions<T>) {}

  start(): void {
    this.running ??= this.loop();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
  }

  get hasSynced(): boolean {
    return this.syncedOnce;
  }

  /** Resolves after the first complete list. */
  synced(): Promise<void> {
    if (this.syncedOnce) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.cache.get(`${namespace ?? ""}/${name}`);
  }

  list(): IterableIterator<T> {
    return this.cache.values();
  }

  get size(): number {
    return this.cache.size;
  }

  private toCache(obj: T, previous: T | undefined, managedFields: ManagedFieldsEntry[] | undefined): T {
    return this.options.cached ? this.options.cached(obj, previous, managedFields) : obj;
  }

  private async loop(): Promise<void> {
    const signal = this.abort.signal;
    let needList = true;
    let backoff = 0;
    while (!signal.aborted) {
      try {
        if (needList) {
          await this.relist(signal);
          needList = false;
        }
        backoff = 0;
        needList = await this.watch(signal);
      } catch (error) {
        if (signal.aborted) break;
        needList = true;
        backoff = Math.min(backoff ? backoff * 2 : 100, this.options.maxBackoffMs ?? 2000);
        this.options.onError?.(error, backoff);
        await sleep(backoff, signal);
      }
    }
  }

  /**
   * Lists page by page, handing each page's changes to the handlers as it arrives, so no more
   * than a page of whole objects is held at once (10,000 rendered ConfigMaps are ~100 MB); what
   * went is known, and told, only after the last page.
   */
  private async relist(signal: AbortSignal): Promise<void> {
    const seen = new Set<string>();
    let continueToken: string | undefined;
    let rv = "";
    do {
      const page = await this.options.client.request<{
        metadata: { resourceVersion: string; continue?: string };
        items?: T[];
      }>("GET", this.options.path, {
        query: {
          labelSelector: this.options.labelSelector,
          limit: this.options.pageSize ?? 100,
          continue: continueToken,
        },
        accept: this.options.metadataOnly ? METADATA_ONLY_LIST : undefined,
        signal,
      });
      // A PartialObjectMetadataList with no items has no `items` at all.
      for (const obj of page.items ?? []) {
        const managedFields = trim(obj);
        const key = keyOf(obj);
        seen.add(key);
        const old = this.cache.get(key);
        this.cache.set(key, this.toCache(obj, old, managedFields));
        if (!old) this.options.onEvent("ADDED", obj, undefined);
        else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion)
          this.options.onEvent("MODIFIED", obj, old);
      }
      await this.options.afterPage?.();
      continueToken = page.metadata.continue || undefined;
      rv = page.metadata.resourceVersion;
    } while (continueToken);
    this.lists++;
    for (const [key, old] of this.cache) {
      if (!seen.has(key)) {
        this.cache.delete(key);
        this.options.onEvent("DELETED", old, old);
      }
    }
    this.resourceVersion = rv;
    if (!this.syncedOnce) {
      this.syncedOnce = true;
      for (const w of this.syncWaiters.splice(0)) w();
    }
  }

  /** Watches until the server ends the stream; returns true when a relist is needed (410 Gone). */
  private async watch(signal: AbortSignal): Promise<boolean> {
    let gone = false;
    const query = {
      watch: 1,
      allowWatchBookmarks: true,
      resourceVersion: this.resourceVersion,
      labelSelector: this.options.labelSelector,
      // The server ends the watch after this; we resume at once. Jitter spreads reconnects.
      timeoutSeconds: 240 + Math.floor(Math.random() * 60),
    };
    try {
      await this.options.client.stream(
        this.options.path,
        query,
        (raw) => {
          const event = raw as WatchEvent<T>;
          if (event.type === "ERROR") {
            if (event.object.code === 410) gone = true;
            else
              throw new ApiError(
                event.object.code ?? 500,
                "WatchError",
                event.object.message ?? "watch error",
              );
            return;
          }
          const obj = event.object;
          const managedFields = trim(obj);
          if (obj.metadata?.resourceVersion) this.resourceVersion = obj.metadata.resourceVersion;
          if (event.type === "BOOKMARK") return;
          const key = keyOf(obj);
          const old = this.cache.get(key);
          if (event.type === "DELETED") this.cache.delete(key);
          else this.cache.set(key, this.toCache(obj, old, managedFields));
          this.options.onEvent(event.type, obj, old);
        },
        signal,
        this.options.metadataOnly ? METADATA_ONLY : undefined,
      );
    } catch (error) {
      if (error instanceof ApiError && error.status === 410) return true;
      throw error;
    }
    return gone;
  }
}
