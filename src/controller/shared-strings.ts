// Strings that every cached object of a kind repeats (an annotation's text, a condition's message,
// output names, a Secret's type): JSON parsing makes a new copy per object and watch event; the
// controller's caches keep one. Bounded: when full a table starts again (kept strings stay valid,
// new ones stop sharing until they are seen again).
class StringTable {
  private readonly known = new Map<string, string>();

  constructor(private readonly max: number) {}

  keep(value: string): string {
    const kept = this.known.get(value);
    if (kept !== undefined) return kept;
    if (this.known.size >= this.max) this.known.clear();
    this.known.set(value, value);
    return value;
  }
}

const common = new StringTable(512);
/**
 * Timestamps, apart so that their many values do not push the common ones out: the objects of a
 * bulk apply, or of an initial render, made within one second share one (a heap snapshot at 10,000
 * Machines: 50,000 copies, 1.9 MiB, of a few hundred values).
 */
const times = new StringTable(4096);

/** The one kept copy of `value` (equal to it). */
export function shared(value: string): string {
  return common.keep(value);
}

/** The one kept copy of a timestamp (equal to it); undefined stays undefined. */
export function sharedTime<T extends string | undefined>(value: T): T {
  return (value === undefined ? value : times.keep(value)) as T;
}
