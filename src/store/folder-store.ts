// The embedded store behind `ccts serve --dir`: loads a folder, renders every Machine with the
// shared render core, serves the result through a MemoryLookup, and reloads on every change.
// Bad input never takes anything away: a bad file keeps its last good content, a failed render
// keeps the Machine's last good documents, and each problem is logged and kept in `report()`.
import { type FSWatcher, watch } from "node:fs";
import type { Logger } from "pino";
import { objectKey } from "../api/machine.js";
import type { Checked } from "../api/validate.js";
import { type ClusterRenderResult, renderDnsmasq, resolveDnsmasqTemplate } from "../render/index.js";
import type { ClusterDocuments, MachineDocuments } from "../server/lookup.js";
import { MemoryLookup, servedDocuments } from "../server/memory-lookup.js";
import { type FileError, folderFingerprint, readFolder } from "./folder.js";
import { buildSnapshot, type Declarations, type MachineOutcome, type Snapshot } from "./snapshot.js";

export interface StoreReport {
  files: FileError[];
  machines: { machine: string; reason: string; message: string }[];
  /** Per-ClusterDesc documents (dnsmasq.conf) that failed to render; the last good one is served. */
  clusters: { cluster: string; reason: string; message: string }[];
}

export interface FolderStoreOptions {
  logger?: Logger;
  /** Interval of the safety-net rescan, for file systems where fs.watch misses events. */
  pollMs?: number;
  /** Quiet time after a change before reloading, so an editor's burst of writes is one reload. */
  debounceMs?: number;
}

export class FolderStore {
  readonly lookup = new MemoryLookup();
  private good = new Map<string, Checked[]>();
  private outcomes: ReadonlyMap<string, MachineOutcome> = new Map();
  private snapshot: Snapshot | undefined;
  private lastReport: StoreReport = { files: [], machines: [], clusters: [] };
  private clusterDocuments = new Map<string, ClusterDocuments>();
  private watcher: FSWatcher | undefined;
  private poll: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private loading: Promise<StoreReport> | undefined;
  private again = false;
  private reloads = 0;
  /** Fingerprint of the folder as of the last load (taken before reading, so no edit slips by). */
  private fingerprint = "";

  constructor(
    readonly dir: string,
    private readonly options: FolderStoreOptions = {},
  ) {}

  /** Reads and renders the folder now. Concurrent calls coalesce into one extra reload. */
  load(): Promise<StoreReport> {
    if (this.loading) {
      this.again = true;
      return this.loading;
    }
    this.loading = this.loadOnce().finally(() => {
      this.loading = undefined;
      if (this.again) {
        this.again = false;
        void this.load();
      }
    });
    return this.loading;
  }

  report(): StoreReport {
    return this.lastReport;
  }

  /** Number of completed loads; tests wait on it. */
  get generation(): number {
    return this.reloads;
  }

  /** The outcome of the last render of a machine, by `namespace/name`. */
  outcome(key: string): MachineOutcome | undefined {
    return this.outcomes.get(key);
  }

  private async loadOnce(): Promise<StoreReport> {
    const log = this.options.logger;
    this.fingerprint = await folderFingerprint(this.dir);
    const read = await readFolder(this.dir, this.good);
    this.good = read.good;
    const snapshot = buildSnapshot(read.declarations, this.outcomes);
    this.outcomes = snapshot.outcomes;
    this.snapshot = snapshot;
    this.lookup.replaceAll(indexEntries(snapshot));
    const clusterFailures = this.renderClusterDocuments(read.declarations);
    this.lookup.setReady(true);
    const report: StoreReport = {
      files: read.errors,
      machines: [...snapshot.outcomes.values()]
        .filter((o) => o.failure)
        .map((o) => ({ machine: o.key, reason: o.failure!.reason, message: o.failure!.message })),
      clusters: clusterFailures,
    };
    for (const f of report.files) log?.error({ file: f.file }, `invalid file ${f.file}: ${f.error}`);
    for (const c of report.clusters)
      log?.error({ cluster: c.cluster, reason: c.reason }, `${c.reason}: ${c.message}`);
    for (const m of report.machines) {
      log?.error({ machine: m.machine, reason: m.reason }, `${m.reason}: ${m.message}`);
    }
    log?.info(
      {
        machines: snapshot.outcomes.size,
        macs: snapshot.macIndex.size,
        problems: report.files.length + report.machines.length,
      },
      "loaded %s",
      this.dir,
    );
    this.lastReport = report;
    this.reloads++;
    return report;
  }

  /** Renders each ClusterDesc's own documents (dnsmasq.conf); a failure keeps the last good one. */
  private renderClusterDocuments(decl: Declarations): StoreReport["clusters"] {
    const failures: StoreReport["clusters"] = [];
    const next = new Map<string, ClusterDocuments>();
    for (const cluster of decl.clusters) {
      const key = objectKey(cluster);
      const namespace = cluster.metadata.namespace ?? "default";
      const members = decl.machines.filter(
        (m) =>
          (m.metadata.namespace ?? "default") === namespace && m.spec.clusterDesc === cluster.metadata.name,
      );
      const resolved = resolveDnsmasqTemplate(cluster, (name) => decl.configMaps.get(`${namespace}/${name}`));
      const result: ClusterRenderResult =
        "error" in resolved
          ? { ok: false, failure: { reason: "TemplateNotFound", cluster: key, message: resolved.error } }
          : renderDnsmasq(cluster, members, resolved.template);
      if (result.ok) {
        const documents = servedDocuments(result.documents, result.hash);
        next.set(key, { namespace, name: cluster.metadata.name, documents });
      } else {
        failures.push({ cluster: key, reason: result.failure.reason, message: result.failure.message });
        const lastGood = this.clusterDocuments.get(key);
        if (lastGood) next.set(key, lastGood);
      }
    }
    this.clusterDocuments = next;
    this.lookup.replaceClusters(next.values());
    return failures;
  }

  /** Watches the folder and reloads on change (fs.watch plus a slow rescan as a safety net). */
  watch(): void {
    const debounceMs = this.options.debounceMs ?? 100;
    const schedule = () => {
      clearTimeout(this.debounce);
      this.debounce = setTimeout(() => void this.load(), debounceMs);
    };
    try {
      this.watcher = watch(this.dir, { recursive: true }, schedule);
      this.watcher.on("error", (e) =>
        this.options.logger?.warn({ err: e }, "watch failed; rescanning on a timer"),
      );
    } catch (e) {
      this.options.logger?.warn({ err: e }, "fs.watch unavailable; rescanning on a timer");
    }
    // The rescan only stats files; it reloads when the fingerprint differs from the last load's.
    this.poll = setInterval(() => {
      void folderFingerprint(this.dir).then(
        (now) => {
          if (now !== this.fingerprint) schedule();
        },
        () => schedule(),
      );
    }, this.options.pollMs ?? 5000);
    this.poll.unref();
  }

  close(): void {
    this.watcher?.close();
    clearInterval(this.poll);
    clearTimeout(this.debounce);
  }

  /** The rendered text of one output of the machine with this canonical MAC, or a reason it has none. */
  document(mac: string, output: string): { content: string } | { error: string } {
    const key = this.snapshot?.macIndex.get(mac);
    const duplicate = this.snapshot?.duplicates.get(mac);
    if (duplicate) return { error: `MAC ${mac} is claimed by ${duplicate.join(", ")}; served to neither` };
    if (!key) return { error: `no machine has MAC ${mac}` };
    const outcome = this.outcomes.get(key)!;
    if (outcome.failure) return { error: outcome.failure.message };
    const doc = outcome.served?.documents.find((d) => d.output === output);
    if (!doc) {
      const names = outcome.served?.documents.map((d) => d.output).join(", ");
      return { error: `machine ${key} has no output ${output} (it has: ${names})` };
    }
    return { content: doc.content };
  }

  /** One document of a ClusterDesc (`dnsmasq.conf`), by name and, when several share it, namespace. */
  clusterDocument(
    name: string,
    namespace: string | undefined,
    output: string,
  ): { content: string } | { error: string } {
    // Keys are `namespace/name`; neither part holds a slash.
    const wanted = (key: string) =>
      namespace === undefined ? key.slice(key.indexOf("/") + 1) === name : key === `${namespace}/${name}`;
    // The ClusterDescs rendered now and those that failed (a failed one may still serve its last good).
    const keys = new Set([
      ...this.lookup.clusters().map((c) => `${c.namespace}/${c.name}`),
      ...this.lastReport.clusters.map((f) => f.cluster),
    ]);
    const matches = [...keys].filter(wanted);
    if (matches.length === 0)
      return { error: `no ClusterDesc ${namespace === undefined ? name : `${namespace}/${name}`}` };
    if (matches.length > 1)
      return { error: `ClusterDescs ${matches.join(", ")} share the name ${name}: give --namespace` };
    const key = matches[0]!;
    const failure = this.lastReport.clusters.find((f) => f.cluster === key);
    if (failure) return { error: failure.message };
    const documents = this.lookup.clusters().find((c) => `${c.namespace}/${c.name}` === key)!.documents;
    const doc = documents.get(output);
    if (!doc)
      return {
        error: `ClusterDesc ${key} has no output ${output} (it has: ${[...documents.keys()].join(", ")})`,
      };
    return { content: doc.body.toString("utf8") };
  }
}

function indexEntries(snapshot: Snapshot): Map<string, MachineDocuments> {
  const byMachine = new Map<string, MachineDocuments>();
  for (const outcome of snapshot.outcomes.values()) {
    const served = outcome.served;
    if (!served) continue;
    const documents = servedDocuments(served.documents, served.hash);
    byMachine.set(outcome.key, { machine: outcome.key, documents, addresses: served.addresses });
  }
  const entries = new Map<string, MachineDocuments>();
  for (const [mac, key] of snapshot.macIndex) {
    const docs = byMachine.get(key);
    if (docs) entries.set(mac, docs);
  }
  return entries;
}
