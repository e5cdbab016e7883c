// Strings that every cached object of a kind repeats (an annotation's text, a condition's message,
// output names): JSON parsing makes a new copy per object and watch event; the controller's caches
// keep one. Bounded: when full it starts again (kept strings stay valid, new ones stop sharing).
const known = new Map<string, string>();
const MAX_SHARED = 512;

/** The one kept copy of `value` (equal to it). */
export function shared(value: string): string {
  const kept = known.get(value);
  if (kept !== undefined) return kept;
  if (known.size >= MAX_SHARED) known.clear();
  known.set(value, value);
  return value;
}
