// Documents that belong to a ClusterDesc rather than to one Machine (the dnsmasq configuration):
// rendered from the ClusterDesc and all its Machines into the ConfigMap ccts-cluster-<name>,
// owned by the ClusterDesc. A failed render keeps the last good ConfigMap and says why in an
// event on the ClusterDesc.
import {
  ANNOTATION_CONTENT_HASH,
  ANNOTATION_CONTENT_TYPES,
  KIND_CLUSTER_DESC,
  LABEL_CLUSTER,
  LABEL_KIND,
  LABEL_MANAGED_BY,
} from "../api/constants.js";
import type { ClusterDesc, Machine } from "../api/types.js";
import { renderDnsmasq, resolveDnsmasqTemplate } from "../render/index.js";
import type { RenderedDocument } from "../render/types.js";
import { type ClusterState, RefusedWrite } from "./reconcile.js";
import {
  type ConfigMapObject,
  controllerOwner,
  fitName,
  labelValue,
  MANAGED_BY,
  sameRendered,
} from "./rendered-configmap.js";

/** Value of the ccts.io/kind label on ConfigMaps of per-ClusterDesc documents. */
export const KIND_CLUSTER_DOCUMENTS = "cluster-documents";
/** Queue keys of ClusterDescs carry this prefix; plain keys are Machines. */
export const CLUSTER_KEY_PREFIX = "cluster:";

/** Queue key of a ClusterDesc's own documents. */
export function clusterDocumentsKey(namespace: string | undefined, name: string): string {
  return `${CLUSTER_KEY_PREFIX}${namespace ?? "default"}/${name}`;
}

export function clusterDocumentsName(cluster: string): string {
  return fitName(`ccts-cluster-${cluster}`, 253);
}

export interface ClusterDocumentsPorts {
  state: ClusterState;
  applyConfigMap(cm: ConfigMapObject): Promise<unknown>;
  clusterEvent(
    cluster: ClusterDesc,
    type: "Normal" | "Warning",
    reason: string,
    message: string,
  ): Promise<void>;
  /** Last failure message per ClusterDesc, so an unchanged failure is one event, not one per resync. */
  lastFailure: Map<string, string>;
  /**
   * Per ClusterDesc: the inputs of the last good render and its ConfigMap. The state hands out the
   * same ClusterDesc and member list objects until one of them changes, so a reconcile with both
   * unchanged (a resync, a status-only update) reuses the ConfigMap instead of rendering every
   * Machine's reservation again (10,000 Machines: ~70 ms and ~35 MB of garbage per render).
   */
  lastRender: Map<string, LastClusterRender>;
}

export interface LastClusterRender {
  cluster: ClusterDesc;
  members: readonly Machine[];
  /** The dnsmasq template's text (a ClusterDesc's own, from a ConfigMap or git, or the built-in). */
  template: string;
  desired: ConfigMapObject;
}

export function clusterDocumentsConfigMap(
  cluster: ClusterDesc,
  documents: RenderedDocument[],
  hash: string,
): ConfigMapObject {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: clusterDocumentsName(cluster.metadata.name),
      namespace: cluster.metadata.namespace ?? "default",
      labels: {
        [LABEL_MANAGED_BY]: MANAGED_BY,
        [LABEL_KIND]: KIND_CLUSTER_DOCUMENTS,
        [LABEL_CLUSTER]: labelValue(cluster.metadata.name),
      },
      annotations: {
        [ANNOTATION_CONTENT_HASH]: hash,
        [ANNOTATION_CONTENT_TYPES]: JSON.stringify(
          Object.fromEntries(documents.map((d) => [d.output, d.contentType])),
        ),
      },
      ownerReferences: [controllerOwner(KIND_CLUSTER_DESC, cluster)],
    },
    data: Object.fromEntries(documents.map((d) => [d.output, d.content])),
  };
}

export async function reconcileClusterDocuments(
  ports: ClusterDocumentsPorts,
  namespace: string,
  name: string,
): Promise<void> {
  const key = `${namespace}/${name}`;
  const cluster = ports.state.cluster(namespace, name);
  if (!cluster) {
    ports.lastRender.delete(key);
    return; // deleted: garbage collection removes the ConfigMap
  }
  const members = ports.state.members(namespace, name);
  const desired = await desiredClusterDocuments(ports, key, cluster, members);
  if (!desired) return;
  // Written only when the cluster's ConfigMap differs (new documents, or changed or deleted by
  // someone else).
  if (!sameRendered(ports.state.configMap(namespace, desired.metadata.name), desired)) {
    try {
      await ports.applyConfigMap(desired);
    } catch (err) {
      if (err instanceof RefusedWrite) {
        // Said once in an event, as a failed render is; the queue retries.
        const message = `the API server refused ConfigMap ${desired.metadata.name}: ${err.message}; the last stored dnsmasq.conf is served`;
        await warnOnce(ports, key, cluster, "WriteRefused", message).catch(() => {});
      }
      throw err;
    }
  }
  // Recovered once the documents are stored (not when they render: the write may be refused again).
  if (ports.lastFailure.delete(key))
    await ports.clusterEvent(cluster, "Normal", "Recovered", "dnsmasq.conf renders and is stored again");
}

/**
 * The ConfigMap of the cluster's documents: the last good render's when its inputs are the same
 * objects, else rendered now (and remembered). Undefined when the render fails (reported once).
 */
async function desiredClusterDocuments(
  ports: ClusterDocumentsPorts,
  key: string,
  cluster: ClusterDesc,
  members: readonly Machine[],
): Promise<ConfigMapObject | undefined> {
  const namespace = cluster.metadata.namespace ?? "default";
  const resolved = resolveDnsmasqTemplate(cluster, (cm) => ports.state.configMap(namespace, cm)?.data);
  if ("error" in resolved) return failed(ports, key, cluster, "TemplateNotFound", resolved.error);
  const template = resolved.template.text;
  const last = ports.lastRender.get(key);
  if (last && last.cluster === cluster && last.members === members && last.template === template)
    return last.desired;
  const result = renderDnsmasq(cluster, members, resolved.template);
  if (!result.ok) return failed(ports, key, cluster, result.failure.reason, result.failure.message);
  const desired = clusterDocumentsConfigMap(cluster, result.documents, result.hash);
  ports.lastRender.set(key, { cluster, members, template, desired });
  return desired;
}

/** A failed render: no ConfigMap to write (the last good one stays), one event per new failure. */
async function failed(
  ports: ClusterDocumentsPorts,
  key: string,
  cluster: ClusterDesc,
  reason: string,
  message: string,
): Promise<undefined> {
  ports.lastRender.delete(key);
  await warnOnce(ports, key, cluster, reason, message);
  return undefined;
}

/** A Warning event on the ClusterDesc, unless this failure was told last time already. */
async function warnOnce(
  ports: ClusterDocumentsPorts,
  key: string,
  cluster: ClusterDesc,
  reason: string,
  message: string,
): Promise<void> {
  if (ports.lastFailure.get(key) === message) return;
  ports.lastFailure.set(key, message);
  await ports.clusterEvent(cluster, "Warning", reason, message);
}
