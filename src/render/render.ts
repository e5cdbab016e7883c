// renderMachine: one machine's documents from its declarations and templates, or the reason why not.
import { createHash, type Hash } from "node:crypto";
import type { Machine } from "../api/types.js";
import { InvalidMachineError, machineKey, templateData } from "./data.js";
import { renderText, TemplateError } from "./engine.js";
import { CONTENT_TYPES, formatOf, outputNameProblem, validateOutput } from "./format.js";
import { makeStrict } from "./strict.js";
import type {
  RenderedDocument,
  RenderFailure,
  RenderFailureReason,
  RenderInput,
  RenderOptions,
  RenderResult,
  TemplateSource,
} from "./types.js";

/** 1 MiB (the ConfigMap limit) minus 64 KiB for the ConfigMap's metadata and annotations. */
export const DEFAULT_MAX_BYTES = 1024 * 1024 - 64 * 1024;

/** Length of the content hash in hex digits (80 bits of sha256). */
export const HASH_LENGTH = 20;

function safeKey(machine: Machine): string {
  try {
    return machineKey(machine);
  } catch {
    return "?";
  }
}

function failure(
  reason: RenderFailureReason,
  machine: string,
  what: string,
  template?: TemplateSource,
  line?: number,
  lineKind: "template" | "output" = "template",
): RenderResult {
  const where: string[] = [];
  if (template) where.push(`template ${template.output} (${template.origin})`);
  if (line !== undefined) where.push(`${lineKind === "output" ? "output " : ""}line ${line}`);
  const head = where.length > 0 ? `machine ${machine}: ${where.join(" ")}:` : `machine ${machine}:`;
  const f: RenderFailure = {
    reason,
    machine,
    message: `${head} ${what}`.replace(/\s*\n\s*/g, " "),
  };
  if (template) {
    f.output = template.output;
    f.origin = template.origin;
  }
  if (line !== undefined) f.line = line;
  return { ok: false, failure: f };
}

/** Content hash over the documents, sorted by output name (they are). */
export function contentHash(documents: readonly RenderedDocument[]): string {
  const h = createHash("sha256");
  for (const d of documents) addDocument(h, d);
  return h.digest("hex").slice(0, HASH_LENGTH);
}

/**
 * The content hash of documents with one more, from their hash (the controller adds the cluster's
 * ca.pem to every Machine's documents): the documents are not hashed a second time.
 */
export function contentHashWith(hash: string, extra: RenderedDocument): string {
  const h = createHash("sha256").update(`${hash}\0`);
  addDocument(h, extra);
  return h.digest("hex").slice(0, HASH_LENGTH);
}

function addDocument(h: Hash, d: RenderedDocument): void {
  h.update(`${d.output}\0${d.contentType}\0${Buffer.byteLength(d.content)}\0`);
  h.update(d.content);
  h.update("\0");
}

/**
 * Renders every template for one machine. Pure: the same input gives the same documents and hash,
 * whatever the order of `machines` and `templates`. Never throws for anything the declarations or
 * templates get wrong; that comes back as `{ ok: false, failure }`.
 */
export function renderMachine(input: RenderInput, options: RenderOptions = {}): RenderResult {
  const key = safeKey(input.machine);
  let data: unknown;
  try {
    data = makeStrict(templateData(input.cluster, input.machine, input.machines, input.tls), "");
  } catch (err) {
    if (err instanceof InvalidMachineError) return failure("InvalidMachine", key, err.message);
    throw err;
  }

  const templates = [...input.templates].sort((a, b) =>
    a.output < b.output ? -1 : a.output > b.output ? 1 : 0,
  );
  const documents: RenderedDocument[] = [];
  for (const [i, t] of templates.entries()) {
    const nameProblem = outputNameProblem(t.output);
    if (nameProblem) return failure("TemplateError", key, nameProblem, t);
    if (i > 0 && templates[i - 1]!.output === t.output) {
      return failure("TemplateError", key, `output ${t.output} is defined twice`, t);
    }
    let content: string;
    try {
      content = renderText(t.text, data);
    } catch (err) {
      if (!(err instanceof TemplateError)) throw err;
      return failure("TemplateError", key, err.message, t, err.line);
    }
    const format = t.format ?? formatOf(t.output);
    const problem = validateOutput(format, content);
    if (problem)
      return failure("InvalidOutput", key, `${format}: ${problem.message}`, t, problem.line, "output");
    documents.push({ output: t.output, format, contentType: CONTENT_TYPES[format], content });
  }

  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  let total = 0;
  for (const d of documents) total += Buffer.byteLength(d.output) + Buffer.byteLength(d.content);
  if (total > maxBytes) {
    const largest = documents.reduce((a, b) =>
      Buffer.byteLength(b.content) > Buffer.byteLength(a.content) ? b : a,
    );
    return failure(
      "OutputTooLarge",
      key,
      `documents total ${total} bytes, over the limit of ${maxBytes} bytes (largest: ${largest.output}, ${Buffer.byteLength(largest.content)} bytes)`,
    );
  }
  return { ok: true, documents, hash: contentHash(documents) };
}
