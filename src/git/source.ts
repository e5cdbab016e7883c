// Pure parts of templates-from-git: URL and ref checks, credential scrubbing, interval parsing and
// the mapping of repository files to templates. No I/O here; repo.ts runs git.
import { outputNameProblem } from "../render/format.js";

/** Default refresh interval of spec.git.interval. */
export const DEFAULT_INTERVAL_MS = 10 * 60_000;
/** Shortest interval accepted (tests use 2s; anything lower would hammer the git host). */
export const MIN_INTERVAL_MS = 1000;
/** Templates are stored in one ConfigMap: their sum must stay well under its 1 MiB limit. */
export const MAX_TEMPLATE_BYTES = 900 * 1024;
export const MAX_TEMPLATE_FILES = 64;

/** spec.git.interval (`30s`, `10m`, `1h`) in milliseconds; absent: 10 minutes. */
export function parseInterval(value: string | undefined): number {
  if (value === undefined || value === "") return DEFAULT_INTERVAL_MS;
  const m = /^(\d+)(s|m|h)$/.exec(value);
  if (!m) throw new Error(`interval ${JSON.stringify(value)} is not a duration like 30s, 10m or 1h`);
  const ms = Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[m[2] as "s" | "m" | "h"];
  if (ms < MIN_INTERVAL_MS) throw new Error(`interval ${value} is shorter than 1s`);
  return ms;
}

const SCP_LIKE = /^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^\s]+$/;

/**
 * Why a repository URL is refused, or undefined. Only http(s), ssh, git and scp-like addresses:
 * never `file://`, local paths or `ext::` (which would run commands in the controller), never an
 * option (`-...`), never credentials in the URL (they would show in logs and status).
 */
export function urlProblem(url: string): string | undefined {
  if (/\s/.test(url) || url.startsWith("-")) return "the URL must not contain blanks or start with '-'";
  if (SCP_LIKE.test(url) && !url.includes("://")) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "the URL is neither scheme://host/path nor user@host:path";
  }
  if (!["http:", "https:", "ssh:", "git:"].includes(parsed.protocol)) {
    return `scheme ${parsed.protocol.slice(0, -1)} is not allowed (http, https, ssh, git)`;
  }
  if (parsed.password || ((parsed.protocol === "http:" || parsed.protocol === "https:") && parsed.username)) {
    return "the URL carries credentials: put them in the Secret named by secretRef";
  }
  if (!parsed.hostname) return "the URL has no host";
  return undefined;
}

/** Why a ref is refused, or undefined: branch, tag or commit names only, no options. */
export function refProblem(ref: string): string | undefined {
  if (!/^[A-Za-z0-9._/][A-Za-z0-9._/-]*$/.test(ref) || ref.includes("..") || ref.endsWith(".lock")) {
    return `ref ${JSON.stringify(ref)} is not a branch, tag or commit name`;
  }
  return undefined;
}

/** spec.git.path as a tree path relative to the repository root ("" for the root), or an error. */
export function normalizePath(path: string | undefined): { path: string } | { error: string } {
  const parts = (path ?? "").split("/").filter((p) => p !== "" && p !== ".");
  if (parts.some((p) => p === ".." || p.includes("\\") || p.includes(":") || p.includes("\0"))) {
    return { error: `path ${JSON.stringify(path)} is not a folder inside the repository` };
  }
  return { path: parts.join("/") };
}

/**
 * Hides credentials in text that is about to be logged or reported (git's stderr, URLs): the
 * userinfo of http(s) URLs, the password of any URL, and every given secret value verbatim (and
 * each line of multi-line ones, such as private keys).
 */
export function scrub(text: string, secrets: readonly string[] = []): string {
  let out = text
    .replace(/\b(https?:\/\/)[^/@\s]+@/gi, "$1***@")
    .replace(/\b([a-z][a-z0-9+.-]*:\/\/[^/:@\s]*):[^/@\s]*@/gi, "$1:***@");
  const needles = new Set<string>();
  for (const s of secrets) {
    if (!s) continue;
    needles.add(s);
    needles.add(s.trim());
    for (const line of s.split(/\r?\n/)) if (line.trim().length >= 8) needles.add(line.trim());
    needles.add(Buffer.from(s).toString("base64"));
  }
  // Longest first, so a line of a key does not hide only part of the whole key.
  for (const needle of [...needles].sort((a, b) => b.length - a.length)) {
    if (needle.length < 4) continue;
    out = out.split(needle).join("***");
  }
  return out;
}

export interface RepoFile {
  /** File name inside the folder (no slashes). */
  name: string;
  content: Buffer;
}

/** Files in the folder that are not templates: hidden files and READMEs. */
export function isIgnoredFile(name: string): boolean {
  return name.startsWith(".") || /^readme(\.[A-Za-z0-9]+)?$/i.test(name);
}

/**
 * One template per file: output name = file name without a `.hbs` suffix. Hidden files and
 * README files are skipped; subfolders and symlinks never reach here (repo.ts lists blobs only).
 */
export function templatesFromFiles(
  files: readonly RepoFile[],
): { templates: Record<string, string> } | { error: string; reason: "PathNotFound" | "RenderFailed" } {
  const templates: Record<string, string> = {};
  let bytes = 0;
  const decoder = new TextDecoder("utf-8", { fatal: true });
  for (const f of [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (isIgnoredFile(f.name)) continue;
    const output = f.name.endsWith(".hbs") ? f.name.slice(0, -".hbs".length) : f.name;
    const problem = outputNameProblem(output);
    if (problem) return { reason: "RenderFailed", error: `file ${f.name}: ${problem}` };
    if (output in templates) {
      return { reason: "RenderFailed", error: `file ${f.name}: output ${output} is given by two files` };
    }
    let text: string;
    try {
      text = decoder.decode(f.content);
    } catch {
      return { reason: "RenderFailed", error: `file ${f.name} is not UTF-8 text` };
    }
    bytes += Buffer.byteLength(output) + f.content.length;
    templates[output] = text;
  }
  const count = Object.keys(templates).length;
  if (count === 0) return { reason: "PathNotFound", error: "no template files in the folder" };
  if (count > MAX_TEMPLATE_FILES) {
    return { reason: "RenderFailed", error: `${count} template files; at most ${MAX_TEMPLATE_FILES}` };
  }
  if (bytes > MAX_TEMPLATE_BYTES) {
    return { reason: "RenderFailed", error: `templates total ${bytes} bytes; at most ${MAX_TEMPLATE_BYTES}` };
  }
  return { templates };
}
