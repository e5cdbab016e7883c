// REST paths of the resources ccts reads and writes.
import { GROUP, VERSION } from "../api/constants.js";

export type Scope = { namespace?: string };

function collection(prefix: string, plural: string, scope: Scope): string {
  return scope.namespace
    ? `${prefix}/namespaces/${encodeURIComponent(scope.namespace)}/${plural}`
    : `${prefix}/${plural}`;
}

const CCTS = `/apis/${GROUP}/${VERSION}`;

export const paths = {
  machines: (scope: Scope) => collection(CCTS, "machines", scope),
  clusterDescs: (scope: Scope) => collection(CCTS, "clusterdescs", scope),
  configMaps: (scope: Scope) => collection("/api/v1", "configmaps", scope),
  secrets: (scope: Scope) => collection("/api/v1", "secrets", scope),
  events: (namespace: string) => collection("/api/v1", "events", { namespace }),
  leases: (namespace: string) => collection("/apis/coordination.k8s.io/v1", "leases", { namespace }),
  one: (collectionPath: string, name: string) => `${collectionPath}/${encodeURIComponent(name)}`,
};
