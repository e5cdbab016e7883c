// The Kubernetes permissions each ccts component needs, in one place: plain data, no imports.
// deploy/base/rbac-*.yaml grant exactly these (test/deploy/rbac.test.ts keeps them equal), and the
// RBAC tests against the real API server check each identity can do all of this and nothing else.
// A new request in src/k8s/ (another verb, resource or subresource) goes here first.

export type Verb = "get" | "list" | "watch" | "create" | "update" | "patch" | "delete" | "deletecollection";

export interface Permission {
  /** API group; "" is the core group (configmaps, events, secrets). */
  apiGroup: string;
  /** Plural resource, with "/subresource" when it is one (e.g. "machines/status"). */
  resource: string;
  verbs: readonly Verb[];
  /**
   * "namespace": granted by a Role in the component's own namespace. "documents": by a Role in the
   * documents namespace (--documents-namespace), which holds only documents Secrets. "cluster": a
   * ClusterRole.
   */
  scope: "namespace" | "documents" | "cluster";
  /** When set, only objects of these names (cannot limit create: the name is not known yet). */
  resourceNames?: readonly string[];
  /** Which code needs it. */
  why: string;
}

/** Name of the Lease the controller's leader election holds (`ccts controller --lease-name`, default). */
export const CONTROLLER_LEASE_NAME = "ccts-controller";

/** `ccts controller --namespace NS --documents-namespace NS --lease-namespace NS` (deploy/base/controller.yaml). */
export const CONTROLLER_PERMISSIONS: readonly Permission[] = [
  {
    apiGroup: "ccts.io",
    resource: "machines",
    verbs: ["get", "list", "watch"],
    scope: "namespace",
    why: "Machine informer (controller-runtime.ts); never writes the spec",
  },
  {
    apiGroup: "ccts.io",
    resource: "clusterdescs",
    verbs: ["get", "list", "watch"],
    scope: "namespace",
    why: "ClusterDesc informer (controller-runtime.ts)",
  },
  {
    apiGroup: "ccts.io",
    resource: "machines/status",
    verbs: ["patch"],
    scope: "namespace",
    why: "status by server-side apply (writes.ts patchMachineStatus)",
  },
  {
    apiGroup: "ccts.io",
    resource: "clusterdescs/status",
    verbs: ["patch"],
    scope: "namespace",
    why: "templates from git: status.git and the TemplatesSynced condition by server-side apply (git-sync.ts)",
  },
  {
    apiGroup: "ccts.io",
    resource: "machines/finalizers",
    verbs: ["update"],
    scope: "namespace",
    why:
      "the rendered ConfigMap's owner reference sets blockOwnerDeletion, which the " +
      "OwnerReferencesPermissionEnforcement admission plugin (OpenShift, hardened clusters) allows " +
      "only to who may update the owner's finalizers",
  },
  {
    apiGroup: "",
    resource: "configmaps",
    verbs: ["get", "list", "watch", "create", "patch"],
    scope: "namespace",
    why:
      "template ConfigMap informer; rendered ConfigMaps by server-side apply (writes.ts " +
      "applyConfigMap), which needs create for a new object and patch for an existing one",
  },
  {
    apiGroup: "",
    resource: "events",
    verbs: ["create"],
    scope: "namespace",
    why: "events on Machines (writes.ts event)",
  },
  {
    apiGroup: "",
    resource: "secrets",
    verbs: ["get", "list", "watch", "create", "patch"],
    scope: "namespace",
    why:
      "cluster CA (read a user's, create a generated one) and Machine certificates by server-side " +
      "apply (certificates.ts, writes.ts); the garbage collector deletes them with their owners",
  },
  {
    apiGroup: "",
    resource: "secrets",
    verbs: ["get", "list", "watch", "create", "patch", "delete"],
    scope: "documents",
    why:
      "Secrets of documents holding private keys (reconcile.ts, by server-side apply); delete when a " +
      "Machine no longer has such documents or is gone (no owner reference across namespaces)",
  },
  {
    apiGroup: "coordination.k8s.io",
    resource: "leases",
    verbs: ["create"],
    scope: "namespace",
    why: "leader election, first start (leader.ts); a create cannot be limited by name",
  },
  {
    apiGroup: "coordination.k8s.io",
    resource: "leases",
    verbs: ["get", "update"],
    scope: "namespace",
    resourceNames: [CONTROLLER_LEASE_NAME],
    why: "leader election: read, renew, take over and release the lease (leader.ts)",
  },
];

/** `ccts server --namespace NS --documents-namespace NS` (deploy/base/server.yaml). */
export const SERVER_PERMISSIONS: readonly Permission[] = [
  {
    apiGroup: "",
    resource: "configmaps",
    verbs: ["get", "list", "watch"],
    scope: "namespace",
    why: "rendered ConfigMap informer (served-configmaps.ts)",
  },
  {
    apiGroup: "",
    resource: "secrets",
    verbs: ["get", "list", "watch"],
    scope: "documents",
    why:
      "Secrets of documents that hold private keys (served-configmaps.ts). RBAC cannot narrow " +
      "list/watch to a label, so they have a namespace of their own: no other Secret is readable",
  },
];

/** Per ServiceAccount name (deploy/base/rbac-*.yaml): what it is granted. */
export const PERMISSIONS: Readonly<Record<"ccts-controller" | "ccts-server", readonly Permission[]>> = {
  "ccts-controller": CONTROLLER_PERMISSIONS,
  "ccts-server": SERVER_PERMISSIONS,
};
