// Sorted arrays, searched without building an index: the render core and the controller's cache
// keep lists of 10,000 entries in order instead of making a Map of them per list.

/** Orders strings by UTF-16 code units, as `<` and Array.prototype.sort do. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The index of the entry `order` places at 0 in an array sorted the same way (`order(entry)` < 0:
 * the entry comes before the one sought), or -1.
 */
export function indexIn<T>(sorted: readonly T[], order: (entry: T) => number): number {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const at = order(sorted[mid]!);
    if (at === 0) return mid;
    if (at < 0) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}
