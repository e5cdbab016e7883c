// Test helpers for talking to the real test API server with the project's own REST client.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import yaml from "js-yaml";
import type { ClusterDesc, Machine } from "../../src/api/types.js";
import { ApiError, KubeClient, loadKubeConfig } from "../../src/k8s/client.js";
import { paths } from "../../src/k8s/paths.js";

export const EXAMPLE_DIR = join(import.meta.dirname, "../../examples/cluster");

export async function kubeClient(kubeconfig: string): Promise<KubeClient> {
  return KubeClient.create(loadKubeConfig(kubeconfig));
}

/** The example cluster's objects, moved into `namespace`. */
export function exampleObjects(namespace: string): { cluster: ClusterDesc; machines: Machine[] } {
  const docs = ["cluster.yaml", "machines.yaml"].flatMap((f) =>
    yaml.loadAll(readFileSync(join(EXAMPLE_DIR, f), "utf8")),
  ) as (ClusterDesc | Machine)[];
  for (const d of docs) d.metadata.namespace = namespace;
  return {
    cluster: docs.find((d): d is ClusterDesc => d.kind === "ClusterDesc")!,
    machines: docs.filter((d): d is Machine => d.kind === "Machine"),
  };
}

function collectionOf(obj: { kind: string; metadata: { namespace?: string } }): string {
  const scope = { namespace: obj.metadata.namespace };
  switch (obj.kind) {
    case "Machine":
      return paths.machines(scope);
    case "ClusterDesc":
      return paths.clusterDescs(scope);
    case "ConfigMap":
      return paths.configMaps(scope);
    case "Secret":
      return paths.secrets(scope);
    default:
      throw new Error(`no path for ${obj.kind}`);
  }
}

export async function create<T extends { kind: string; metadata: { name: string; namespace?: string } }>(
  client: KubeClient,
  obj: T,
): Promise<T> {
  return client.request<T>("POST", collectionOf(obj), { body: obj });
}

export async function get<T>(
  client: KubeClient,
  kind: string,
  namespace: string,
  name: string,
): Promise<T | undefined> {
  try {
    return await client.request<T>("GET", paths.one(collectionOf({ kind, metadata: { namespace } }), name));
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return undefined;
    throw e;
  }
}

export async function mergePatch(
  client: KubeClient,
  kind: string,
  namespace: string,
  name: string,
  patch: unknown,
): Promise<void> {
  await client.request("PATCH", paths.one(collectionOf({ kind, metadata: { namespace } }), name), {
    contentType: "application/merge-patch+json",
    body: patch,
  });
}

export async function remove(
  client: KubeClient,
  kind: string,
  namespace: string,
  name: string,
): Promise<void> {
  await client.request("DELETE", paths.one(collectionOf({ kind, metadata: { namespace } }), name), {
    body: { propagationPolicy: "Background" },
  });
}

/** The fields of a core/v1 Event the tests read. */
export interface KubeEvent {
  reason: string;
  message: string;
  type: string;
  involvedObject: { kind: string; name: string };
}

export async function listEvents(client: KubeClient, namespace: string): Promise<KubeEvent[]> {
  const list = await client.request<{ items: KubeEvent[] }>("GET", paths.events(namespace));
  return list.items;
}
