// Reads the kustomize trees under deploy/ as plain YAML, for tests that check invariants of the
// manifests without a kustomize binary: resources are followed (files and folders), transforms
// (namespace, labels, images, patches) are not applied. The tests against the API server build
// with the real kustomize (kubectl -k).
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import yaml from "js-yaml";

export const REPO_ROOT = join(import.meta.dirname, "../..");
export const DEPLOY_DIR = join(REPO_ROOT, "deploy");
export const BASE_DIR = join(DEPLOY_DIR, "base");
export const OVERLAY_DIR = join(DEPLOY_DIR, "overlays", "example-site");

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  // biome-ignore lint/suspicious/noExplicitAny: manifests are free-form; tests narrow what they read.
  [key: string]: any;
}

export interface Kustomization {
  namespace?: string;
  resources?: string[];
  patches?: { path?: string; patch?: string }[];
  images?: { name: string; newName?: string; newTag?: string; digest?: string }[];
  replicas?: { name: string; count: number }[];
}

export function readKustomization(dir: string): Kustomization {
  return yaml.load(readFileSync(join(dir, "kustomization.yaml"), "utf8")) as Kustomization;
}

export function loadYamlFile(path: string): K8sObject[] {
  return (yaml.loadAll(readFileSync(path, "utf8")) as (K8sObject | null)[]).filter(
    (d): d is K8sObject => d !== null,
  );
}

/** Every object the kustomization in `dir` lists, following folders of further kustomizations. */
export function loadKustomization(dir: string): K8sObject[] {
  const k = readKustomization(dir);
  return (k.resources ?? []).flatMap((r) => {
    const path = join(dir, r);
    return statSync(path).isDirectory() ? loadKustomization(path) : loadYamlFile(path);
  });
}

export function find(objects: K8sObject[], kind: string, name: string): K8sObject {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} in the manifests`);
  return found;
}
