// Keeps a MemoryLookup in step with rendered entries as they are added, changed and removed.
// A MAC is served only while exactly one entry claims it (two claimants: served to neither).
// Documents that hold private keys arrive as separate private entries (from Secrets, without MAC
// labels) and are served under the MACs of the public entry of the same Machine.
import type { ClusterDocuments, MachineDocuments } from "../server/lookup.js";
import { type MemoryLookup, servedDocument } from "../server/memory-lookup.js";
import type { RenderedEntry } from "./rendered-entry.js";

export class DocumentIndex {
  private readonly entries = new Map<string, { entry: RenderedEntry; docs: MachineDocuments }>();
  private readonly privates = new Map<string, RenderedEntry>();
  /** Machine key -> key of its public entry and of its private entry. */
  private readonly publicOf = new Map<string, string>();
  private readonly privateOf = new Map<string, string>();
  private readonly claims = new Map<string, Set<string>>();
  /** Per-ClusterDesc documents (dnsmasq.conf) by entry key. */
  private readonly clusterEntries = new Map<string, ClusterDocuments>();

  constructor(private readonly lookup: MemoryLookup) {}

  get size(): number {
    return this.entries.size;
  }

  /** Keys of every entry, public and private. */
  keys(): string[] {
    return [...this.entries.keys(), ...this.privates.keys(), ...this.clusterEntries.keys()];
  }

  get(key: string): RenderedEntry | undefined {
    return this.entries.get(key)?.entry ?? this.privates.get(key);
  }

  upsert(entry: RenderedEntry): void {
    if (entry.cluster) {
      const [namespace, name] = entry.cluster.split("/") as [string, string];
      const documents = new Map(
        Object.entries(entry.documents).map(([output, d]) => [
          output,
          servedDocument(d.content, d.contentType, `${entry.hash}-${output}`),
        ]),
      );
      this.clusterEntries.set(entry.key, { namespace, name, documents });
      this.lookup.replaceClusters(this.clusterEntries.values());
      return;
    }
    if (entry.private) {
      this.privates.set(entry.key, entry);
      this.privateOf.set(entry.machine, entry.key);
      this.rebuild(entry.machine);
      return;
    }
    const previous = this.entries.get(entry.key);
    const docs = previous && sameEntry(previous.entry, entry) ? previous.docs : this.documentsOf(entry);
    const touched = new Set([...(previous?.entry.macs ?? []), ...entry.macs]);
    for (const mac of previous?.entry.macs ?? []) this.claims.get(mac)?.delete(entry.key);
    for (const mac of entry.macs) {
      const set = this.claims.get(mac) ?? new Set<string>();
      set.add(entry.key);
      this.claims.set(mac, set);
    }
    this.entries.set(entry.key, { entry, docs });
    this.publicOf.set(entry.machine, entry.key);
    for (const mac of touched) this.refresh(mac);
  }

  remove(key: string): void {
    if (this.clusterEntries.delete(key)) {
      this.lookup.replaceClusters(this.clusterEntries.values());
      return;
    }
    const privateEntry = this.privates.get(key);
    if (privateEntry) {
      this.privates.delete(key);
      if (this.privateOf.get(privateEntry.machine) === key) this.privateOf.delete(privateEntry.machine);
      this.rebuild(privateEntry.machine);
      return;
    }
    const previous = this.entries.get(key);
    if (!previous) return;
    this.entries.delete(key);
    if (this.publicOf.get(previous.entry.machine) === key) this.publicOf.delete(previous.entry.machine);
    for (const mac of previous.entry.macs) {
      this.claims.get(mac)?.delete(key);
      this.refresh(mac);
    }
  }

  /** The served documents of a public entry: its own plus its Machine's private ones. */
  private documentsOf(entry: RenderedEntry): MachineDocuments {
    const privateKey = this.privateOf.get(entry.machine);
    const privateEntry = privateKey ? this.privates.get(privateKey) : undefined;
    const documents = new Map<string, ReturnType<typeof servedDocument>>();
    for (const source of [entry, privateEntry]) {
      for (const [output, d] of Object.entries(source?.documents ?? {})) {
        documents.set(output, servedDocument(d.content, d.contentType, `${source!.hash}-${output}`));
      }
    }
    return { machine: entry.machine, addresses: entry.addresses, documents };
  }

  /** Re-joins a Machine's public entry after its private entry changed. */
  private rebuild(machine: string): void {
    const key = this.publicOf.get(machine);
    const current = key ? this.entries.get(key) : undefined;
    if (!current) return;
    current.docs = this.documentsOf(current.entry);
    for (const mac of current.entry.macs) this.refresh(mac);
  }

  private refresh(mac: string): void {
    const claimants = this.claims.get(mac);
    if (claimants && claimants.size === 1) {
      const [only] = claimants;
      this.lookup.set(mac, this.entries.get(only!)!.docs);
    } else {
      if (claimants?.size === 0) this.claims.delete(mac);
      this.lookup.delete(mac);
    }
  }
}

function sameEntry(a: RenderedEntry, b: RenderedEntry): boolean {
  const ka = Object.keys(a.documents);
  return (
    a.hash === b.hash &&
    a.addresses.join() === b.addresses.join() &&
    ka.length === Object.keys(b.documents).length &&
    ka.every(
      (k) =>
        a.documents[k]?.content === b.documents[k]?.content &&
        a.documents[k]?.contentType === b.documents[k]?.contentType,
    )
  );
}
