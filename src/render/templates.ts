// Which templates a ClusterDesc renders: its spec.templates (ConfigMap keys or inline text), or
// the built-in set in templates/builtin/<output>.hbs when it names none. `dnsmasq.conf` is the
// ClusterDesc's own document (templates/builtin/cluster/), rendered once for all its Machines.
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { DNSMASQ_OUTPUT } from "../api/constants.js";
import type { ClusterDesc } from "../api/types.js";
import { outputNameProblem } from "./format.js";
import { gitTemplates, gitTemplatesConfigMapName, usesGitTemplates } from "./git-templates.js";
import type { TemplateSource } from "./types.js";

/** templates/builtin/ at the repository (package) root, from src/render/ and dist/render/ alike. */
export const BUILTIN_DIR = fileURLToPath(new URL("../../templates/builtin/", import.meta.url));

/** templates/builtin/cluster/: templates rendered once per ClusterDesc (not per-machine outputs). */
export const CLUSTER_TEMPLATE_DIR = `${BUILTIN_DIR}cluster/`;

let builtin: readonly TemplateSource[] | undefined;
let builtinDnsmasq: TemplateSource | undefined;

/**
 * True when a template text may list every Machine (`machines` in the template data): any member
 * change may change its output. A word match: a false alarm costs renders, a miss stale documents.
 */
export function namesMachineList(text: string): boolean {
  let names = namingMachines.get(text);
  if (names === undefined) {
    names = /\bmachines\b/.test(text);
    if (namingMachines.size >= NAMING_MACHINES_LIMIT) namingMachines.clear();
    namingMachines.set(text, names);
  }
  return names;
}

/**
 * namesMachineList's answers by template text: every reconcile asks for each of its templates, and
 * a fan-out asks 10,000 times of the same few texts (the scans were 2% of a render's CPU). Bounded
 * as the compile cache is, which holds the same texts.
 */
const namingMachines = new Map<string, boolean>();
const NAMING_MACHINES_LIMIT = 512;

/** The built-in dnsmasq template (templates/builtin/cluster/dnsmasq.conf.hbs), read once. */
export function builtinDnsmasqTemplate(): TemplateSource {
  builtinDnsmasq ??= Object.freeze({
    output: DNSMASQ_OUTPUT,
    origin: `builtin:cluster/${DNSMASQ_OUTPUT}`,
    text: readFileSync(`${CLUSTER_TEMPLATE_DIR}${DNSMASQ_OUTPUT}.hbs`, "utf8"),
  });
  return builtinDnsmasq;
}

/** The built-in template set, read from disk once, sorted by output name. */
export function builtinTemplates(): readonly TemplateSource[] {
  if (!builtin) {
    builtin = Object.freeze(
      readdirSync(BUILTIN_DIR)
        .filter((f) => f.endsWith(".hbs"))
        .sort()
        .map((f) => {
          const output = f.slice(0, -".hbs".length);
          return Object.freeze({
            output,
            origin: `builtin:${output}`,
            text: readFileSync(BUILTIN_DIR + f, "utf8"),
          });
        }),
    );
  }
  return builtin;
}

function clusterKey(cluster: ClusterDesc): string {
  return `${cluster.metadata.namespace ?? "default"}/${cluster.metadata.name}`;
}

/**
 * Which of a ClusterDesc's templates: those rendered for each Machine, or the one rendered once for
 * the ClusterDesc (its dnsmasq configuration: the template named `dnsmasq.conf`, if any). Each part
 * resolves, and fails, on its own: a missing ConfigMap of one does not stop the other.
 */
export type TemplatePart = "machines" | "dnsmasq";

/** Which part a template of this output name belongs to. */
export const templatePart = (output: string): TemplatePart =>
  output === DNSMASQ_OUTPUT ? "dnsmasq" : "machines";

/**
 * Resolves the Machine templates of spec.templates (or of the templates from git) to template
 * texts. `configMaps(name)` returns the data of a ConfigMap in the ClusterDesc's namespace, or
 * undefined when there is none. None declared (or only `dnsmasq.conf`): the built-in set.
 */
export function resolveTemplates(
  cluster: ClusterDesc,
  configMaps: (name: string) => Record<string, string> | undefined,
): { templates: TemplateSource[] } | { error: string } {
  const declared = declaredTemplates(cluster, configMaps, "machines");
  if ("error" in declared) return declared;
  return { templates: declared.templates.length > 0 ? declared.templates : [...builtinTemplates()] };
}

/** The ClusterDesc's dnsmasq template: one named `dnsmasq.conf` (spec.templates or git), else the built-in. */
export function resolveDnsmasqTemplate(
  cluster: ClusterDesc,
  configMaps: (name: string) => Record<string, string> | undefined,
): { template: TemplateSource } | { error: string } {
  const declared = declaredTemplates(cluster, configMaps, "dnsmasq");
  if ("error" in declared) return declared;
  return { template: declared.templates[0] ?? builtinDnsmasqTemplate() };
}

/** The templates of one part as declared (possibly none). Every declaration is checked. */
function declaredTemplates(
  cluster: ClusterDesc,
  configMaps: (name: string) => Record<string, string> | undefined,
  part: TemplatePart,
): { templates: TemplateSource[] } | { error: string } {
  // Templates from git (spec.git, src/render/git-templates.ts) when spec.templates is empty.
  const fromGit = gitTemplates(cluster, configMaps);
  if (fromGit && "error" in fromGit) return fromGit;
  if (fromGit) return { templates: fromGit.templates.filter((t) => templatePart(t.output) === part) };
  const refs = cluster.spec.templates ?? [];
  const where = `ClusterDesc ${clusterKey(cluster)}`;
  const seen = new Set<string>();
  const templates: TemplateSource[] = [];
  for (const [i, ref] of refs.entries()) {
    const output = ref.output;
    if (typeof output !== "string") return { error: `${where}: spec.templates[${i}] has no output name` };
    const nameProblem = outputNameProblem(output);
    if (nameProblem) return { error: `${where}: spec.templates[${i}]: ${nameProblem}` };
    if (seen.has(output)) return { error: `${where}: output ${JSON.stringify(output)} is declared twice` };
    seen.add(output);
    const hasInline = typeof ref.inline === "string";
    if (hasInline === Boolean(ref.configMapKeyRef)) {
      return { error: `${where}: template ${output} needs exactly one of configMapKeyRef and inline` };
    }
    if (templatePart(output) !== part) continue;
    if (hasInline) {
      templates.push({ output, origin: `inline:${output}`, text: ref.inline as string });
      continue;
    }
    const { name, key } = ref.configMapKeyRef!;
    const data = configMaps(name);
    if (!data) return { error: `${where}: template ${output}: ConfigMap ${JSON.stringify(name)} not found` };
    const text = data[key];
    if (typeof text !== "string") {
      return {
        error: `${where}: template ${output}: ConfigMap ${JSON.stringify(name)} has no key ${JSON.stringify(key)}`,
      };
    }
    templates.push({ output, origin: `configmap/${name}:${key}`, text });
  }
  return { templates };
}

/**
 * Names of the ConfigMaps a ClusterDesc's templates read (of one part, when given), sorted, without
 * repeats. The ConfigMap of templates from git holds both parts.
 */
export function templateConfigMapNames(cluster: ClusterDesc, part?: TemplatePart): string[] {
  const names = new Set<string>();
  if (usesGitTemplates(cluster)) names.add(gitTemplatesConfigMapName(cluster.metadata.name));
  for (const ref of cluster.spec.templates ?? []) {
    if (part !== undefined && (typeof ref.output !== "string" || templatePart(ref.output) !== part)) continue;
    if (ref.configMapKeyRef?.name) names.add(ref.configMapKeyRef.name);
  }
  return [...names].sort();
}
