// Strict template data. Handlebars' `strict` mode throws for a missing field only
// where a path is printed (`{{machine.hostnam}}`); a path passed to a helper (`{{#if
// machine.hostnam}}`, `{{indent 4 machine.hostnam}}`) is looked up leniently and silently yields
// undefined. Strict data closes that gap: reading a field the data does not document throws
// MissingFieldError, wherever the template reads it. Free-form maps (variables, images) are left
// lenient on purpose, so that `{{#if variables.timezone}}` tests for an optional variable, while
// printing a missing one (`{{variables.timezone}}`) still fails through Handlebars' strict mode.
//
// How: every documented object and array of the data gets a prototype that throws. A field the
// object has is read from the object itself, at the speed of any property read; only a read the
// object cannot answer goes on to the prototype, a Proxy that answers for Object.prototype's (or
// Array.prototype's) members and throws for anything else. The former design, a Proxy in front
// of every object, ran a trap for every field a template read: a third of the render time of a
// Machine's documents (measured, bench/README.md).

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

/** Marks objects that stay lenient (free-form maps); set by the data builder, never enumerated. */
const FREE_FORM = Symbol("ccts.freeForm");

/** Names that generic code probes on any object; reading them never throws. */
const PROBED = new Set(["toJSON", "then", "inspect", "$$typeof", "asymmetricMatch", "nodeType"]);
const INDEX = /^\d+$/;

export function markFreeForm<T extends object>(value: T): T {
  Object.defineProperty(value, FREE_FORM, { value: true });
  return value;
}

/**
 * The throwing prototypes, one per place in the data (`machine`, `machines[]`) and kind: a few
 * dozen for the whole process, shared by every render. A Set of them tells a strict object: no
 * WeakSet of the objects themselves, as V8 keeps what weak tables reach through young-generation
 * GCs (the strict views' WeakMap once promoted each render pass's garbage: +17 MiB of old space).
 */
const prototypes = new Map<string, object>();
const strictPrototypes = new Set<object>();

function prototypeFor(label: string, isArray: boolean): object {
  const key = isArray ? `${label}\0[]` : label;
  const known = prototypes.get(key);
  if (known) return known;
  const owner = label || "the template data";
  const base: object = isArray ? Array.prototype : Object.prototype;
  const prototype = new Proxy(base, {
    get(target, field, receiver) {
      if (typeof field === "symbol") return Reflect.get(target, field, receiver);
      // `{{machine}}` prints where the object is, not "[object Object]".
      if (field === "toString" && !isArray) return () => owner;
      if (field in target) return Reflect.get(target, field, receiver);
      if (PROBED.has(field) || (isArray && INDEX.test(field))) return undefined;
      throw new MissingFieldError(field, owner);
    },
  });
  prototypes.set(key, prototype);
  strictPrototypes.add(prototype);
  return prototype;
}

function isStrict(value: object): boolean {
  return strictPrototypes.has(Object.getPrototypeOf(value) as object);
}

/**
 * Makes the documented objects and arrays of `value` strict, in place, and returns it. The data
 * builder's objects are its own (data.ts copies every declaration it reads), so changing their
 * prototype touches nothing else. An object made strict before (the cluster facts shared by
 * every Machine of a pass, their 10,000-Machine list) is passed over with all it holds.
 */
export function makeStrict<T>(value: T, label: string): T {
  if (value === null || typeof value !== "object" || FREE_FORM in value || isStrict(value)) return value;
  if (Array.isArray(value)) {
    Object.setPrototypeOf(value, prototypeFor(label, true));
    const itemLabel = `${label}[]`;
    for (const item of value) makeStrict(item, itemLabel);
  } else {
    Object.setPrototypeOf(value, prototypeFor(label, false));
    // The labels only for fields that hold objects: most hold text, and every render passes here.
    for (const field of Object.keys(value)) {
      const child = (value as Record<string, unknown>)[field];
      if (child !== null && typeof child === "object") makeStrict(child, label ? `${label}.${field}` : field);
    }
  }
  return value;
}
