// A strict view of the template data. Handlebars' `strict` mode throws for a missing field only
// where a path is printed (`{{machine.hostnam}}`); a path passed to a helper (`{{#if
// machine.hostnam}}`, `{{indent 4 machine.hostnam}}`) is looked up leniently and silently yields
// undefined. The view closes that gap: reading a field the data does not document throws
// MissingFieldError, wherever the template reads it. Free-form maps (variables, images) are left
// lenient on purpose, so that `{{#if variables.timezone}}` tests for an optional variable, while
// printing a missing one (`{{variables.timezone}}`) still fails through Handlebars' strict mode.

export class MissingFieldError extends Error {
  constructor(
    readonly field: string,
    /** Where the field was looked for (`machine`, `cluster.network`, `machines[]`). */
    readonly owner: string,
  ) {
    super(`"${field}" not defined in ${owner}`);
    this.name = "MissingFieldError";
  }
}

/** Objects that stay lenient (free-form maps); marked by the data builder. */
const freeForm = new WeakSet<object>();
/** The raw object behind each view, for helpers that serialise (toYaml, toJson). */
const rawOf = new WeakMap<object, object>();
/** One view per raw object, so identity is stable and views are built once. */
const viewOf = new WeakMap<object, object>();

/** Names that generic code probes on any object; reading them never throws. */
const PROBED = new Set(["toJSON", "then", "inspect", "$$typeof", "asymmetricMatch", "nodeType"]);
const INDEX = /^\d+$/;

export function markFreeForm<T extends object>(value: T): T {
  freeForm.add(value);
  return value;
}

/** The raw value behind a view (the value itself when it is not a view). */
export function unwrap<T>(value: T): T {
  if (value !== null && typeof value === "object") {
    const raw = rawOf.get(value);
    if (raw) return raw as T;
  }
  return value;
}

function childLabel(label: string, key: string, isArray: boolean): string {
  return isArray ? `${label}[]` : label ? `${label}.${key}` : key;
}

/** Wraps documented objects and arrays in a view that throws on unknown fields. */
export function strictView<T>(value: T, label: string): T {
  if (value === null || typeof value !== "object" || freeForm.has(value)) return value;
  const cached = viewOf.get(value);
  if (cached) return cached as T;
  const target = value as object;
  const isArray = Array.isArray(target);
  const owner = label || "the template data";
  const view = new Proxy(target, {
    get(t, key, receiver) {
      if (typeof key === "symbol") return Reflect.get(t, key, receiver);
      if (key in t) {
        if (key === "toString" && !Object.hasOwn(t, key) && !isArray) return () => owner;
        return strictView(Reflect.get(t, key, receiver), childLabel(label, key, isArray));
      }
      if (PROBED.has(key) || (isArray && INDEX.test(key))) return undefined;
      throw new MissingFieldError(key, owner);
    },
  });
  viewOf.set(target, view);
  rawOf.set(view, target);
  return view as T;
}
