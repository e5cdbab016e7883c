// Keeps a MemoryLookup in step with rendered entries as they are added, changed and removed.
// A MAC is served only while exactly one entry claims it (two claimants: served to neither).
import type { MachineDocuments } from "../server/lookup.js";
import { type MemoryLookup, servedDocument } from "../server/memory-lookup.js";
import type { RenderedEntry } from "./rendered-entry.js";

export class DocumentIndex {
  private readonly entries = new Map<string, { entry: RenderedEntry; docs: MachineDocuments }>();
  private readonly claims = new Map<string, Set<string>>();

  constructor(private readonly lookup: MemoryLookup) {}

  get size(): number {
    return this.entries.size;
  }

  keys(): IterableIterator<string> {
    return this.entries.keys();
  }

  get(key: string): RenderedEntry | undefined {
    return this.entries.get(key)?.entry;
  }

  upsert(entry: RenderedEntry): void {
    const previous = this.entries.get(entry.key);
    const docs: MachineDocuments =
      previous &&
      previous.entry.hash === entry.hash &&
      sameDocs(previous.entry, entry) &&
      previous.entry.addresses.join() === entry.addresses.join()
        ? previous.docs
        : {
            machine: entry.machine,
            addresses: entry.addresses,
            documents: new Map(
              Object.entries(entry.documents).map(([output, d]) => [
                output,
                servedDocument(d.content, d.contentType, `${entry.hash}-${output}`),
              ]),
            ),
          };
    const touched = new Set([...(previous?.entry.macs ?? []), ...entry.macs]);
    for (const mac of previous?.entry.macs ?? []) this.claims.get(mac)?.delete(entry.key);
    for (const mac of entry.macs) {
      const set = this.claims.get(mac) ?? new Set<string>();
      set.add(entry.key);
      this.claims.set(mac, set);
    }
    this.entries.set(entry.key, { entry, docs });
    for (const mac of touched) this.refresh(mac);
  }

  remove(key: string): void {
    const previous = this.entries.get(key);
    if (!previous) return;
    this.entries.delete(key);
    for (const mac of previous.entry.macs) {
      this.claims.get(mac)?.delete(key);
      this.refresh(mac);
    }
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

function sameDocs(a: RenderedEntry, b: RenderedEntry): boolean {
  const ka = Object.keys(a.documents);
  return (
    ka.length === Object.keys(b.documents).length &&
    ka.every(
      (k) =>
        a.documents[k]?.content === b.documents[k]?.content &&
        a.documents[k]?.contentType === b.documents[k]?.contentType,
    )
  );
}
