// Keeps a MemoryLookup in step with rendered entries as they are added, changed and removed.
// A MAC is served only while exactly one entry claims it (two claimants: served to neither).
// Documents that hold private keys arrive as separate private entries (from Secrets, without MAC
// labels) and are served under the MACs of the public entry of the same Machine.
// Only the prepared bytes are kept, not the entries' text: with 10,000 machines every copy counts.
// Given a store (the cluster server's document file), the bytes of Machines' documents live there
// and are released when their entry is replaced or removed.
import type { ClusterDocuments, MachineDocuments, ServedDocument } from "../server/lookup.js";
import { type MemoryLookup, servedDocuments } from "../server/memory-lookup.js";
import { type DocumentBytesStore, DocumentMap, type PackedDocuments } from "../server/packed-documents.js";
import type { RenderedEntry } from "./rendered-entry.js";

/** An entry as kept: what it is, and its documents ready to serve. */
interface Kept {
  entry: Omit<RenderedEntry, "documents">;
  served: PackedDocuments;
}

export class DocumentIndex {
  private readonly entries = new Map<string, Kept & { docs: MachineDocuments }>();
  private readonly privates = new Map<string, Kept>();
  /** Machine key -> key of its public entry and of its private entry. */
  private readonly publicOf = new Map<string, string>();
  private readonly privateOf = new Map<string, string>();
  private readonly claims = new Map<string, Set<string>>();
  /** Per-ClusterDesc documents (dnsmasq.conf) by entry key. */
  private readonly clusterEntries = new Map<string, ClusterDocuments>();

  constructor(
    private readonly lookup: MemoryLookup,
    /** Where Machines' document bytes go; in memory when absent. */
    private readonly store?: DocumentBytesStore,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** Keys of every entry, public and private. */
  keys(): string[] {
    return [...this.entries.keys(), ...this.privates.keys(), ...this.clusterEntries.keys()];
  }

  upsert(entry: RenderedEntry): void {
    if (entry.cluster) {
      const [namespace, name] = entry.cluster.split("/") as [string, string];
      const documents = servedDocuments(documentList(entry), entry.hash);
      this.clusterEntries.set(entry.key, { namespace, name, documents });
      this.lookup.replaceClusters(this.clusterEntries.values());
      return;
    }
    if (entry.private) {
      const previous = this.privates.get(entry.key);
      const kept = this.keep(entry, previous);
      this.privates.set(entry.key, kept);
      this.privateOf.set(entry.machine, entry.key);
      this.rebuild(entry.machine);
      if (previous && previous.served !== kept.served) previous.served.release();
      return;
    }
    const previous = this.entries.get(entry.key);
    const kept = this.keep(entry, previous);
    const docs =
      previous && previous.served === kept.served && sameAddresses(previous.entry, entry)
        ? previous.docs
        : this.documentsOf(kept);
    const touched = new Set([...(previous?.entry.macs ?? []), ...entry.macs]);
    for (const mac of previous?.entry.macs ?? []) this.claims.get(mac)?.delete(entry.key);
    for (const mac of entry.macs) {
      const set = this.claims.get(mac) ?? new Set<string>();
      set.add(entry.key);
      this.claims.set(mac, set);
    }
    this.entries.set(entry.key, { ...kept, docs });
    this.publicOf.set(entry.machine, entry.key);
    for (const mac of touched) this.refresh(mac);
    if (previous && previous.served !== kept.served) previous.served.release();
  }

  remove(key: string): void {
    if (this.clusterEntries.delete(key)) {
      this.lookup.replaceClusters(this.clusterEntries.values());
      return;
    }
    const privateEntry = this.privates.get(key);
    if (privateEntry) {
      const { machine } = privateEntry.entry;
      this.privates.delete(key);
      if (this.privateOf.get(machine) === key) this.privateOf.delete(machine);
      this.rebuild(machine);
      privateEntry.served.release();
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
    previous.served.release();
  }

  /** The entry without its text; the previous prepared bytes when its documents did not change. */
  private keep(entry: RenderedEntry, previous: Kept | undefined): Kept {
    const { documents: _text, ...summary } = entry;
    const served = servedDocuments(documentList(entry), entry.hash);
    if (previous?.served.sameAs(served)) return { entry: summary, served: previous.served };
    return { entry: summary, served: served.storedIn(this.store) };
  }

  /** The served documents of a public entry: its own plus its Machine's private ones. */
  private documentsOf(kept: Kept): MachineDocuments {
    const privateKey = this.privateOf.get(kept.entry.machine);
    const privateEntry = privateKey ? this.privates.get(privateKey) : undefined;
    const documents = privateEntry ? new JoinedDocuments(kept.served, privateEntry.served) : kept.served;
    return { machine: kept.entry.machine, addresses: kept.entry.addresses, documents };
  }

  /** Re-joins a Machine's public entry after its private entry changed. */
  private rebuild(machine: string): void {
    const key = this.publicOf.get(machine);
    const current = key ? this.entries.get(key) : undefined;
    if (!current) return;
    current.docs = this.documentsOf(current);
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

function documentList(entry: RenderedEntry) {
  return Object.entries(entry.documents).map(([output, d]) => ({ output, ...d }));
}

/**
 * A public entry's documents with its Machine's private ones over them, in the order a Map of both
 * would have: the public outputs first (a private one of the same name in its place), then the rest.
 */
class JoinedDocuments extends DocumentMap {
  constructor(
    private readonly base: ReadonlyMap<string, ServedDocument>,
    private readonly top: ReadonlyMap<string, ServedDocument>,
  ) {
    super();
  }

  get size(): number {
    let size = this.base.size;
    for (const name of this.top.keys()) if (!this.base.has(name)) size++;
    return size;
  }

  get(output: string): ServedDocument | undefined {
    return this.top.get(output) ?? this.base.get(output);
  }

  has(output: string): boolean {
    return this.top.has(output) || this.base.has(output);
  }

  keys(): MapIterator<string> {
    return [...this.base.keys(), ...[...this.top.keys()].filter((n) => !this.base.has(n))].values();
  }
}

function sameAddresses(a: { addresses: string[] }, b: { addresses: string[] }): boolean {
  return a.addresses.join() === b.addresses.join();
}
