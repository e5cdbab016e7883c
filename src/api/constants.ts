/** API group and version of the ccts custom resources. */
export const GROUP = "ccts.io";
export const VERSION = "v1alpha1";
export const API_VERSION = `${GROUP}/${VERSION}`;

export const KIND_CLUSTER_DESC = "ClusterDesc";

/** Output name of a ClusterDesc's dnsmasq configuration: rendered by render/, served by server/. */
export const DNSMASQ_OUTPUT = "dnsmasq.conf";
export const KIND_MACHINE = "Machine";

/** Labels and annotations on the ConfigMaps that hold rendered documents. */
export const LABEL_MANAGED_BY = "app.kubernetes.io/managed-by";
export const LABEL_MACHINE = "ccts.io/machine";
export const LABEL_CLUSTER = "ccts.io/cluster";
/** What a Secret or ConfigMap of the controller holds besides a Machine's documents: "ca", "certificate", "documents", ... */
export const LABEL_KIND = "ccts.io/kind";
/** One label per interface MAC: `mac.ccts.io/<aa-bb-cc-dd-ee-ff>: "true"`. */
export const LABEL_MAC_PREFIX = "mac.ccts.io/";
export const ANNOTATION_CONTENT_HASH = "ccts.io/content-hash";
/** JSON map of output name to the content type it is served with. */
export const ANNOTATION_CONTENT_TYPES = "ccts.io/content-types";
/** JSON list of the IP addresses the Machine declares, for the server's opt-in authorization. */
export const ANNOTATION_ADDRESSES = "ccts.io/addresses";
/**
 * `namespace/name` of the Machine a documents Secret belongs to: that Secret may live in another
 * namespace (--documents-namespace), where no owner reference can reach the Machine.
 */
export const ANNOTATION_MACHINE = "ccts.io/machine";

/** Why a Machine is not (freshly) rendered: the reason of its Rendered=False condition. */
export type FailureReason =
  | "TemplateError"
  | "InvalidOutput"
  | "OutputTooLarge"
  | "InvalidMachine"
  | "ClusterDescNotFound"
  | "TemplateNotFound"
  | "DuplicateMAC"
  | "CANotFound"
  | "InvalidCA"
  | "WriteRefused";

/** Roles a Machine may carry that the built-in templates and derived data understand. */
export const KNOWN_ROLES = ["master", "etcd", "worker", "ingress"] as const;
