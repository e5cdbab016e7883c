// What the stack takes from the rest of the repository at synth time: the CRDs (crds/*.yaml, the
// one copy) and the RBAC rules of deploy/base (so cdktf and `kubectl apply -k deploy/` grant
// exactly the same permissions). cdktf/ never imports src/.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import yaml from "js-yaml";

export const repoRoot = join(fileURLToPath(new URL(".", import.meta.url)), "..", "..");

/** Labels and names shared with deploy/base. */
export const APP = "ccts";
export const CONTROLLER = "ccts-controller";
export const SERVER = "ccts-server";
export const HAPROXY = "ccts-haproxy";
export const BOOTSTRAPPER = "ccts-bootstrapper";
export const SERVER_PORT = 8080;
export const METRICS_PORT = 9090;
/** UID/GID of every container (the image's USER), as in deploy/base. */
export const UID = 10001;

export const labels = (component: string) => ({
  "app.kubernetes.io/name": APP,
  "app.kubernetes.io/component": component,
  "app.kubernetes.io/managed-by": "cdktf",
});
export const selector = (component: string) => ({
  "app.kubernetes.io/name": APP,
  "app.kubernetes.io/component": component,
});

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; [k: string]: unknown };
  [k: string]: unknown;
}

function loadAll(file: string): K8sObject[] {
  return (yaml.loadAll(readFileSync(file, "utf8")) as (K8sObject | null)[]).filter(
    (d): d is K8sObject => d !== null && typeof d === "object",
  );
}

/** The CRDs in crds/, in file name order. */
export function loadCrds(dir = join(repoRoot, "crds")): K8sObject[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".yaml") || f.endsWith(".yml"))
    .sort()
    .flatMap((f) => loadAll(join(dir, f)))
    .filter((d) => d.kind === "CustomResourceDefinition");
}

export interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  verbs: string[];
}

/** Rules of the Role named `name` in deploy/base/rbac-*.yaml. */
export function loadRoleRules(name: string, dir = join(repoRoot, "deploy", "base")): PolicyRule[] {
  for (const f of readdirSync(dir).filter((f) => f.startsWith("rbac-") && f.endsWith(".yaml"))) {
    for (const d of loadAll(join(dir, f))) {
      if (d.kind === "Role" && d.metadata.name === name) return d.rules as PolicyRule[];
    }
  }
  throw new Error(`no Role ${name} in ${dir}/rbac-*.yaml`);
}
