// Helpers for template authors. docs/templates.md ("Helpers") documents each with an example.
// Every helper receives Handlebars' options object as its last argument; `args` strips it.

import type { HelperOptions } from "handlebars";
import yaml from "js-yaml";
import { dottedToNumber } from "../api/ipv4.js";

/** An error thrown by a helper, with the template line of the call when Handlebars knows it. */
export class HelperError extends Error {
  constructor(
    readonly helper: string,
    reason: string,
    readonly line: number | undefined,
  ) {
    super(`helper "${helper}": ${reason}`);
    this.name = "HelperError";
  }
}

type Helper = (...args: unknown[]) => unknown;

function isOptions(v: unknown): v is HelperOptions {
  return v !== null && typeof v === "object" && "hash" in v && "data" in v && "name" in v;
}

/** A deep copy on plain objects and arrays: serialisers see no strict prototypes (strict.ts). */
function plain(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = plain(x);
    return out;
  }
  return v;
}

function isEmpty(v: unknown): boolean {
  return v === null || v === undefined || v === "" || (Array.isArray(v) && v.length === 0);
}

function truthy(v: unknown): boolean {
  return Array.isArray(v) ? v.length > 0 : Boolean(v);
}

function text(v: unknown): string {
  if (v === undefined) throw new Error("value is undefined");
  if (v === null) return "";
  if (typeof v === "object")
    throw new Error(`expected text, got ${Array.isArray(v) ? "a list" : "an object"}`);
  return String(v);
}

function count(v: unknown): number {
  const n = typeof v === "string" && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > 64) {
    throw new Error(`expected a whole number of spaces (0-64), got ${JSON.stringify(v) ?? String(v)}`);
  }
  return n;
}

function indentLines(n: number, s: string): string {
  const pad = " ".repeat(n);
  return s
    .split("\n")
    .map((line) => (line === "" ? line : pad + line))
    .join("\n");
}

/** Escapes for YAML double-quoted scalars beyond what JSON.stringify escapes. */
const YAML_UNSAFE = /[\u007f-\u009f\u2028\u2029\ufeff]/g;

function quoteString(s: string): string {
  return JSON.stringify(s).replace(YAML_UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** POSIX shell single quoting: 'it'\''s'. */
function shellQuote(s: string): string {
  return `'${s.replaceAll("'", "'\\''")}'`;
}

function maskBits(mask: string): number {
  if (/^\d{1,2}$/.test(mask) && Number(mask) <= 32) return Number(mask);
  const n = dottedToNumber(mask);
  if (n === undefined) throw new Error(`${JSON.stringify(mask)} is not a netmask`);
  const bits = n.toString(2).padStart(32, "0");
  const ones = bits.includes("0") ? bits.indexOf("0") : 32;
  if (bits.slice(ones).includes("1")) throw new Error(`${JSON.stringify(mask)} is not a contiguous netmask`);
  return ones;
}

/**
 * The text a helper with a block form works on: its one argument (`{{base64 x}}`), or the rendered
 * block (`{{#base64}}...{{/base64}}`, rendered in the current context). Not both.
 */
function blockText(
  name: string,
  args: unknown[],
  options: HelperOptions | undefined,
  self: unknown,
): unknown {
  const fn = (options as { fn?: (context: unknown) => string } | undefined)?.fn;
  if (fn) {
    if (args.length > 0) throw new Error(`{{#${name}}} takes no argument: it works on its block`);
    return fn(self);
  }
  return args[0];
}

/** The helpers, by name, as plain functions of their positional arguments. */
const HELPERS: Record<string, (args: unknown[], options: HelperOptions, self: unknown) => unknown> = {
  indent([n, s]) {
    return indentLines(count(n), text(s));
  },
  nindent([n, s]) {
    return `\n${indentLines(count(n), text(s))}`;
  },
  toYaml([value, spaces]) {
    if (value === undefined) throw new Error("value is undefined");
    const indent = spaces === undefined ? 2 : count(spaces) || 2;
    return yaml.dump(plain(value), { indent, lineWidth: -1, noRefs: true }).replace(/\n$/, "");
  },
  toJson([value, spaces]) {
    if (value === undefined) throw new Error("value is undefined");
    return JSON.stringify(plain(value), null, spaces === undefined ? undefined : count(spaces));
  },
  join([list, sep]) {
    if (!Array.isArray(list)) throw new Error(`expected a list, got ${list === null ? "null" : typeof list}`);
    return list.map((x) => text(x)).join(sep === undefined ? "," : text(sep));
  },
  default([value, fallback]) {
    return isEmpty(value) ? fallback : value;
  },
  base64(args, options, self) {
    return Buffer.from(text(blockText("base64", args, options, self)), "utf8").toString("base64");
  },
  eq([a, b]) {
    return a === b;
  },
  ne([a, b]) {
    return a !== b;
  },
  and(args) {
    if (args.length === 0) throw new Error("needs at least one argument");
    for (const a of args) if (!truthy(a)) return a;
    return args[args.length - 1];
  },
  or(args) {
    if (args.length === 0) throw new Error("needs at least one argument");
    for (const a of args) if (truthy(a)) return a;
    return args[args.length - 1];
  },
  not([a]) {
    return !truthy(a);
  },
  hasRole([role, machine], options) {
    const m = machine === undefined ? (options.data.root as { machine: unknown }).machine : machine;
    // An own field only: any other object would throw for a field it does not document.
    const roles =
      m !== null && typeof m === "object" && Object.hasOwn(m, "roles")
        ? (m as { roles: unknown }).roles
        : undefined;
    if (!Array.isArray(roles)) throw new Error("the machine has no roles list");
    return roles.includes(text(role));
  },
  lower([s]) {
    return text(s).toLowerCase();
  },
  upper([s]) {
    return text(s).toUpperCase();
  },
  quote(args, options, self) {
    const v = blockText("quote", args, options, self);
    return quoteString(typeof v === "number" || typeof v === "boolean" ? String(v) : text(v));
  },
  shellQuote([s]) {
    return shellQuote(typeof s === "number" ? String(s) : text(s));
  },
  concat(args) {
    return args.map((a) => (typeof a === "number" || typeof a === "boolean" ? String(a) : text(a))).join("");
  },
  replace([s, from, to]) {
    return text(s).replaceAll(text(from), text(to));
  },
  trim([s]) {
    return text(s).trim();
  },
  array(args) {
    return [...args];
  },
  includes([list, item]) {
    if (!Array.isArray(list)) throw new Error("expected a list");
    return list.includes(item);
  },
  cidr([ip, mask]) {
    const addr = text(ip);
    if (dottedToNumber(addr) === undefined) throw new Error(`${JSON.stringify(addr)} is not an IPv4 address`);
    return `${addr}/${maskBits(typeof mask === "number" ? String(mask) : text(mask))}`;
  },
};

export const HELPER_NAMES = Object.keys(HELPERS).sort();

/** The helpers as Handlebars functions; each error becomes a HelperError with the call's line. */
export function handlebarsHelpers(): Record<string, Helper> {
  const out: Record<string, Helper> = {};
  for (const [name, fn] of Object.entries(HELPERS)) {
    out[name] = function (this: unknown, ...all: unknown[]) {
      const last = all[all.length - 1];
      const options = isOptions(last) ? last : undefined;
      const args = options ? all.slice(0, -1) : all;
      try {
        return fn(args, options as HelperOptions, this);
      } catch (err) {
        if (err instanceof HelperError) throw err;
        throw new HelperError(
          name,
          (err as Error).message,
          (options as { loc?: { start: { line: number } } })?.loc?.start.line,
        );
      }
    };
  }
  return out;
}
