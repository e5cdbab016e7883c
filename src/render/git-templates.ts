// Templates from git (spec.git): the controller's GitSync (src/k8s/git-sync.ts) writes the files
// of the repository folder into the ConfigMap ccts-git-<ClusterDesc name>, one key per output;
// template resolution reads that ConfigMap here. Pure, like the rest of the render core.
import { createHash } from "node:crypto";
import type { ClusterDesc } from "../api/types.js";
import { outputNameProblem } from "./format.js";
import type { TemplateSource } from "./types.js";

/** Value of app.kubernetes.io/managed-by on the ConfigMaps GitSync writes. */
export const GIT_MANAGED_BY = "ccts-git";
/** Annotations on that ConfigMap: the commit, and the folder and URL it came from. */
export const ANNOTATION_GIT_COMMIT = "ccts.io/git-commit";
export const ANNOTATION_GIT_PATH = "ccts.io/git-path";
export const ANNOTATION_GIT_URL = "ccts.io/git-url";

/** Name of the ConfigMap holding a ClusterDesc's templates from git (fits the 253-character limit). */
export function gitTemplatesConfigMapName(clusterName: string): string {
  const name = `ccts-git-${clusterName}`;
  if (name.length <= 253) return name;
  const hash = createHash("sha256").update(name).digest("hex").slice(0, 10);
  return `${name.slice(0, 242).replace(/[-.]+$/, "")}-${hash}`;
}

/** Whether the ClusterDesc takes its templates from git (spec.git set, spec.templates empty). */
export function usesGitTemplates(cluster: ClusterDesc): boolean {
  return Boolean(cluster.spec.git?.url) && (cluster.spec.templates ?? []).length === 0;
}

/**
 * The templates from git, or undefined when the ClusterDesc does not use git. Before the first
 * successful sync there is no ConfigMap yet: an error that says so (Machines wait, TemplateNotFound).
 */
export function gitTemplates(
  cluster: ClusterDesc,
  configMaps: (name: string) => Record<string, string> | undefined,
): { templates: TemplateSource[] } | { error: string } | undefined {
  if (!usesGitTemplates(cluster)) return undefined;
  const where = `ClusterDesc ${cluster.metadata.namespace ?? "default"}/${cluster.metadata.name}`;
  const name = gitTemplatesConfigMapName(cluster.metadata.name);
  const data = configMaps(name);
  if (!data || Object.keys(data).length === 0) {
    return {
      error: `${where}: templates from git are not synced yet (ConfigMap ${name}; see the ClusterDesc's TemplatesSynced condition)`,
    };
  }
  const templates: TemplateSource[] = [];
  for (const output of Object.keys(data).sort()) {
    const problem = outputNameProblem(output);
    if (problem) return { error: `${where}: ConfigMap ${name}: ${problem}` };
    templates.push({ output, origin: `git/${name}:${output}`, text: data[output]! });
  }
  return { templates };
}
