// The Handlebars environments of the render core: isolated (Handlebars.create()), strict, no HTML
// escaping, our helpers only; compiled templates cached by their text.
import Handlebars from "handlebars";
import { HelperError, handlebarsHelpers } from "./helpers.js";
import { MissingFieldError } from "./strict.js";

const HELPERS = handlebarsHelpers();
/** Parses only; compiling is done in the environment of the helpers a template names. */
const parser = Handlebars.create();

/**
 * Each call of a compiled template copies and wraps every helper of its environment (Handlebars'
 * runtime `_setup`): 6.7 us a call with our 23 helpers, 1.5 with none, nine calls per Machine. So a
 * template is compiled in an environment with the helpers it names, one environment per set.
 */
const environments = new Map<string, typeof Handlebars>();

function environmentFor(helpers: readonly string[]): typeof Handlebars {
  const key = helpers.join(" ");
  let env = environments.get(key);
  if (env === undefined) {
    env = Handlebars.create();
    for (const name of helpers) env.registerHelper(name, HELPERS[name]!);
    environments.set(key, env);
  }
  return env;
}

interface AstNode {
  type?: string;
  parts?: string[];
  original?: unknown;
  value?: unknown;
  loc?: hbs.AST.SourceLocation;
}

/** Calls `fn` for every node of a template's AST, depth first, in source order. */
function forEachNode(node: unknown, fn: (node: AstNode) => void): void {
  if (node === null || typeof node !== "object") return;
  if (Array.isArray(node)) {
    for (const n of node) forEachNode(n, fn);
    return;
  }
  fn(node as AstNode);
  for (const [k, v] of Object.entries(node)) if (k !== "loc" && k !== "strip") forEachNode(v, fn);
}

/**
 * Our helpers a template can call: every helper name that heads a path or is a string literal in
 * it. A superset (a name may be a field, or a literal only an argument), which is what matters: a
 * helper left out would turn its call into a field read.
 */
function helpersNamed(ast: hbs.AST.Program): string[] {
  const named = new Set<string>();
  forEachNode(ast, (n) => {
    if (n.type === "PathExpression") {
      if (n.parts?.[0] !== undefined) named.add(n.parts[0]);
      if (typeof n.original === "string") named.add(n.original);
    } else if (n.type === "StringLiteral" && typeof n.value === "string") named.add(n.value);
  });
  return [...named].filter((name) => Object.hasOwn(HELPERS, name)).sort();
}

const COMPILE_OPTIONS: CompileOptions = { strict: true, noEscape: true };

type CompileOptions = Parameters<typeof Handlebars.compile>[1];

export interface CompiledTemplate {
  render(data: unknown): string;
  ast: hbs.AST.Program;
}

/** A template that failed to parse or render, with the template line when known. */
export class TemplateError extends Error {
  constructor(
    message: string,
    readonly line: number | undefined,
  ) {
    super(message);
    this.name = "TemplateError";
  }
}

type CacheEntry = CompiledTemplate | TemplateError;

/** Bound on distinct template texts kept compiled; the oldest is dropped first. */
export const COMPILE_CACHE_LIMIT = 512;
const cache = new Map<string, CacheEntry>();
let compiles = 0;

/** How many times a template text was compiled (parsed) since start: for tests and metrics. */
export function compileCount(): number {
  return compiles;
}

export function compileCacheSize(): number {
  return cache.size;
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, " ").trim();
}

/** Turns a Handlebars parse error into a TemplateError with its line. */
function parseError(err: Error): TemplateError {
  const m = /^Parse error on line (\d+):\n([^\n]*)\n[^\n]*\n([\s\S]*)$/.exec(err.message);
  if (m) {
    const expecting = m[3]!.replace(/^Expecting /, "expecting ");
    return new TemplateError(
      `parse error near ${JSON.stringify(m[2]!.trim())}: ${oneLine(expecting)}`,
      Number(m[1]),
    );
  }
  return fromHandlebars(err);
}

/** Errors Handlebars raises with a location (strict lookups, mismatched blocks) carry `lineNumber`. */
function fromHandlebars(err: Error): TemplateError {
  const e = err as Error & { lineNumber?: number };
  const line = typeof e.lineNumber === "number" ? e.lineNumber : undefined;
  const message = e.message.replace(/ - \d+:\d+$/, "").replace(/\[object Object\]/g, "object");
  return new TemplateError(oneLine(message), line);
}

/** First line where the template mentions `field` as a path segment, for errors without location. */
function lineOfField(ast: hbs.AST.Program, field: string, owner: string): number | undefined {
  const ownerLast = owner.replace(/\[\]$/, "").split(".").at(-1);
  let best: number | undefined;
  let fallback: number | undefined;
  forEachNode(ast, (n) => {
    if (best !== undefined || n.type !== "PathExpression" || !n.parts || !n.loc) return;
    const i = n.parts.indexOf(field);
    if (i > 0 && n.parts[i - 1] === ownerLast) best = n.loc.start.line;
    else if (i >= 0 && fallback === undefined) fallback = n.loc.start.line;
  });
  return best ?? fallback;
}

/** Compiles (once per distinct text) a template; throws TemplateError for a parse error. */
export function compile(text: string): CompiledTemplate {
  const hit = cache.get(text);
  if (hit) {
    // Refresh recency so the bound drops the least recently used text.
    cache.delete(text);
    cache.set(text, hit);
    if (hit instanceof TemplateError) throw hit;
    return hit;
  }
  compiles++;
  let entry: CacheEntry;
  try {
    const ast = parser.parse(text);
    const fn = environmentFor(helpersNamed(ast)).compile(text, COMPILE_OPTIONS);
    // Parse errors, mismatched blocks and invalid paths are all raised by parse above; the
    // code generation Handlebars does lazily on the first call raises nothing a template causes.
    entry = { ast, render: (data) => fn(data) };
  } catch (err) {
    entry = parseError(err as Error);
  }
  cache.set(text, entry);
  if (cache.size > COMPILE_CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
  if (entry instanceof TemplateError) throw entry;
  return entry;
}

/** Maps an error thrown while rendering to a TemplateError. */
export function renderError(err: unknown, template: CompiledTemplate): TemplateError {
  if (err instanceof TemplateError) return err;
  if (err instanceof HelperError) return new TemplateError(oneLine(err.message), err.line);
  if (err instanceof MissingFieldError) {
    return new TemplateError(err.message, lineOfField(template.ast, err.field, err.owner));
  }
  if (err instanceof TypeError) {
    // In strict mode Handlebars reads `a.b` without a guard: `a` null yields a TypeError.
    const m = /Cannot read properties of (null|undefined) \(reading '([^']*)'\)/.exec(err.message);
    if (m) {
      return new TemplateError(
        `"${m[2]}" read from ${m[1]} (test the field that holds it with #if first)`,
        lineOfField(template.ast, m[2]!, ""),
      );
    }
  }
  if (err instanceof Error) {
    if ((err as { lineNumber?: unknown }).lineNumber !== undefined || err.message.startsWith("Parse error")) {
      return err.message.startsWith("Parse error") ? parseError(err) : fromHandlebars(err);
    }
    return new TemplateError(oneLine(err.message), undefined);
  }
  return new TemplateError(String(err), undefined);
}

/** Compiles (once per text) and renders; any failure is a TemplateError carrying its line. */
export function renderText(text: string, data: unknown): string {
  const compiled = compile(text);
  try {
    return compiled.render(data);
  } catch (err) {
    throw renderError(err, compiled);
  }
}
