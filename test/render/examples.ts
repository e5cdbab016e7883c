// Test helper: reads the example declarations (examples/**/*.yaml) with js-yaml, independent of
// the embedded store in src/store/.
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import yaml from "js-yaml";
import type { ClusterDesc, Machine } from "../../src/api/types.js";
import { renderMachine, resolveTemplates } from "../../src/render/index.js";
import type { RenderedDocument } from "../../src/render/types.js";

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const EXAMPLES_DIR = join(REPO_ROOT, "examples");

export interface ExampleSet {
  /** Folder of the example, relative to examples/ (`cluster`). */
  folder: string;
  clusters: ClusterDesc[];
  machines: Machine[];
  /** ConfigMaps found beside them, by name, for template references. */
  configMaps: Map<string, Record<string, string>>;
}

function yamlFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...yamlFiles(path));
    else if (/\.ya?ml$/.test(entry.name)) out.push(path);
  }
  return out.sort();
}

/** Every example folder's declarations, grouped by the folder that holds the YAML files. */
export function loadExamples(root = EXAMPLES_DIR): ExampleSet[] {
  const sets = new Map<string, ExampleSet>();
  for (const file of yamlFiles(root)) {
    const folder = relative(root, join(file, ".."));
    let set = sets.get(folder);
    if (!set) {
      set = { folder, clusters: [], machines: [], configMaps: new Map() };
      sets.set(folder, set);
    }
    for (const doc of yaml.loadAll(readFileSync(file, "utf8"))) {
      if (doc === null || typeof doc !== "object") continue;
      const obj = doc as { kind?: string; metadata?: { name: string }; data?: Record<string, string> };
      if (obj.kind === "ClusterDesc") set.clusters.push(doc as ClusterDesc);
      else if (obj.kind === "Machine") set.machines.push(doc as Machine);
      else if (obj.kind === "ConfigMap" && obj.metadata)
        set.configMaps.set(obj.metadata.name, obj.data ?? {});
    }
  }
  return [...sets.values()];
}

/** The machines of one cluster (same namespace, spec.clusterDesc naming it). */
export function machinesOf(set: ExampleSet, cluster: ClusterDesc): Machine[] {
  const ns = cluster.metadata.namespace ?? "default";
  return set.machines.filter(
    (m) => m.spec.clusterDesc === cluster.metadata.name && (m.metadata.namespace ?? "default") === ns,
  );
}

export interface RenderedExample {
  machine: string;
  documents: RenderedDocument[];
}

/** Every machine of every example, rendered with its cluster's templates; throws on any failure. */
export function renderExamples(): RenderedExample[] {
  const out: RenderedExample[] = [];
  for (const set of loadExamples()) {
    for (const cluster of set.clusters) {
      const resolved = resolveTemplates(cluster, (name) => set.configMaps.get(name));
      if ("error" in resolved) throw new Error(resolved.error);
      const machines = machinesOf(set, cluster);
      for (const machine of machines) {
        const r = renderMachine({ cluster, machine, machines, templates: resolved.templates });
        if (!r.ok) throw new Error(r.failure.message);
        out.push({ machine: machine.metadata.name, documents: r.documents });
      }
    }
  }
  return out;
}
