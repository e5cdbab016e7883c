// Reads a folder of YAML into declarations. Every *.yaml/*.yml file may hold several documents:
// ClusterDescs, Machines and ConfigMaps (for templates). A folder `templates/<name>/` holds the
// files of a template ConfigMap named <name>, one key per file, like
// `kubectl create configmap <name> --from-file=templates/<name>/`.
// A file that fails to read, parse or validate keeps contributing what it held when it was last
// good; its error is reported.
import { readdir, readFile, stat } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import yaml from "js-yaml";
import { objectKey } from "../api/machine.js";
import type { ClusterDesc, Machine } from "../api/types.js";
import { type Checked, checkObject } from "../api/validate.js";
import type { Declarations } from "./snapshot.js";

export const TEMPLATES_DIR = "templates";
const MAX_FILE_BYTES = 4 * 1024 * 1024;

export interface FileError {
  file: string;
  error: string;
}

export interface FolderRead {
  declarations: Declarations;
  errors: FileError[];
  /** What each file contributed, to carry over when it turns bad; keyed by relative path. */
  good: Map<string, Checked[]>;
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.name.startsWith(".")) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(path)));
    else if (entry.isFile()) out.push(path);
  }
  return out.sort();
}

/**
 * Paths, sizes and modification times of every file: cheap to take (no file is read), and it
 * changes whenever an edit happened, so the safety-net rescan reloads only when something did.
 */
export async function folderFingerprint(dir: string): Promise<string> {
  const parts: string[] = [];
  for (const path of await listFiles(dir)) {
    try {
      const info = await stat(path);
      parts.push(`${relative(dir, path)}\0${info.size}\0${info.mtimeMs}`);
    } catch {
      parts.push(`${relative(dir, path)}\0gone`);
    }
  }
  return parts.join("\n");
}

async function readSmall(path: string): Promise<string> {
  const info = await stat(path);
  if (info.size > MAX_FILE_BYTES) throw new Error(`larger than ${MAX_FILE_BYTES} bytes`);
  return readFile(path, "utf8");
}

function templateConfigMap(rel: string, text: string): Checked | undefined {
  const parts = rel.split(sep);
  if (parts.length !== 3) return undefined;
  const [, name, key] = parts as [string, string, string];
  return { kind: "ConfigMap", object: { metadata: { name }, data: { [key]: text } } };
}

function decode(rel: string, text: string): Checked[] {
  const docs = yaml.loadAll(text, undefined, { filename: rel }).filter((d) => d !== null && d !== undefined);
  return docs.map((doc, i) => {
    try {
      return checkObject(doc);
    } catch (e) {
      throw new Error(docs.length > 1 ? `document ${i + 1}: ${(e as Error).message}` : (e as Error).message);
    }
  });
}

/** Reads `dir`; `previousGood` carries each file's last good content over a bad edit. */
export async function readFolder(
  dir: string,
  previousGood: ReadonlyMap<string, Checked[]>,
): Promise<FolderRead> {
  const errors: FileError[] = [];
  const good = new Map<string, Checked[]>();
  for (const path of await listFiles(dir)) {
    const rel = relative(dir, path);
    const inTemplates = rel.startsWith(TEMPLATES_DIR + sep);
    if (!inTemplates && !/\.ya?ml$/i.test(rel)) continue;
    try {
      const text = await readSmall(path);
      const objects = inTemplates
        ? [templateConfigMap(rel, text)].filter((o) => o !== undefined)
        : decode(rel, text);
      good.set(rel, objects);
    } catch (e) {
      errors.push({ file: rel, error: oneLine((e as Error).message) });
      const last = previousGood.get(rel);
      if (last) good.set(rel, last);
    }
  }
  return { declarations: merge(good, errors), errors, good };
}

function oneLine(s: string): string {
  return s.split("\n")[0]!.slice(0, 500);
}

function merge(good: Map<string, Checked[]>, errors: FileError[]): Declarations {
  const clusters = new Map<string, ClusterDesc>();
  const machines = new Map<string, Machine>();
  const configMaps = new Map<string, Record<string, string>>();
  for (const [file, objects] of good) {
    for (const checked of objects) {
      const obj = checked.object;
      obj.metadata.namespace ??= "default";
      const key = objectKey(obj);
      if (checked.kind === "ConfigMap") {
        configMaps.set(key, { ...configMaps.get(key), ...checked.object.data });
        continue;
      }
      const seen = checked.kind === "ClusterDesc" ? clusters : machines;
      if (seen.has(key)) {
        errors.push({
          file,
          error: `${checked.kind} ${key} is declared more than once; the first one counts`,
        });
        continue;
      }
      (seen as Map<string, typeof obj>).set(key, obj);
    }
  }
  return { clusters: [...clusters.values()], machines: [...machines.values()], configMaps };
}
