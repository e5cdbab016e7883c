// Types of the ccts.io/v1alpha1 resources. The CRD schemas in crds/ describe the same shapes;
// test/api/crd-drift.test.ts fails when the two differ.

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  creationTimestamp?: string;
}

/** A free-form map of template variables. */
export type Variables = Record<string, unknown>;

export interface DHCPRange {
  /** First address handed out to machines without a fixed IP. */
  start: string;
  /** Last address handed out to machines without a fixed IP. */
  end: string;
}

export interface ClusterNetwork {
  /** IP of the bootstrapper (PXE, DHCP, DNS and this server). */
  bootstrapperIP: string;
  /** Network address of the provisioning subnet. */
  subnet: string;
  /** Netmask of the provisioning subnet. */
  netmask: string;
  dhcpRange?: DHCPRange;
  routers?: string[];
  broadcast?: string;
  /** Name servers handed to machines. */
  nameservers?: string[];
  /** Name servers the bootstrapper's DNS forwards to. */
  upstreamNameservers?: string[];
  /** DNS domain of the machines. */
  domain: string;
  /** Name under which the bootstrapper's image registry is reached. */
  dockerDomain?: string;
  /** DHCP lease time, dnsmasq notation (`12h`, `infinite`). */
  lease?: string;
  /** Whether the bootstrapper answers PXE. */
  pxe?: boolean;
  /** Whether DHCP hands out the bootstrapper as NTP server. */
  ntp?: boolean;
}

export interface ClusterKubernetes {
  /** Service cluster IP range (CIDR). */
  serviceClusterIPRange?: string;
  /** Cluster DNS service IP. */
  clusterDNS?: string;
  /** IPs the API server certificate is valid for. */
  masterIPs?: string[];
  /** DNS names the API server certificate is valid for. */
  masterDNSNames?: string[];
  /** Flannel backend type (`vxlan`, `host-gw`, ...). */
  flannelBackend?: string;
}

export interface ClusterUpdates {
  /** Reboot strategy after OS updates (`etcd-lock`, `reboot`, `off`). */
  rebootStrategy?: string;
  /** Start of the maintenance window (`03:00`). */
  windowStart?: string;
  /** Length of the maintenance window (`3h`). */
  windowLength?: string;
}

export interface ClusterOS {
  /** Operating system name (`flatcar`, `CoreOS`, `ubuntu`, ...). */
  name?: string;
  /** Release channel (`stable`, `beta`, ...). */
  channel?: string;
  /** OS version to install. */
  version?: string;
  updates?: ClusterUpdates;
}

export interface ConfigMapKeyRef {
  /** ConfigMap name, in the namespace of the ClusterDesc. */
  name: string;
  /** Key inside the ConfigMap. */
  key: string;
}

export interface TemplateRef {
  /** Output name: the document this template renders (`cloud-config`, `ipxe`, ...). */
  output: string;
  /** Template text held in a ConfigMap key. */
  configMapKeyRef?: ConfigMapKeyRef;
  /** Template text given inline. */
  inline?: string;
}

export interface ClusterDescSpec {
  network: ClusterNetwork;
  kubernetes?: ClusterKubernetes;
  os?: ClusterOS;
  /** Base URL under which machines reach this server (default `http://<bootstrapperIP>:8080`). */
  serverURL?: string;
  /** SSH public keys authorized on every machine. */
  sshAuthorizedKeys?: string[];
  /** Container images by role (`hyperkube`, `pause`, ...). */
  images?: Record<string, string>;
  /** Free-form template variables; a Machine's variables override them. */
  variables?: Variables;
  pki?: ClusterPKI;
  /** Templates to render. Empty: the built-in set. */
  templates?: TemplateRef[];
  /** Templates from a git repository (excludes templates); see docs/templates-from-git.md. */
  git?: GitTemplateSource;
}

// --- templates from git (src/git/, src/k8s/git-sync.ts) ---
export interface LocalObjectReference {
  /** Name of the object, in the namespace of the ClusterDesc. */
  name: string;
}

export interface GitTemplateSource {
  /** Repository URL: https://, http://, ssh://, git:// or git@host:path; no credentials in it. */
  url: string;
  /** Branch, tag or full commit hash; default HEAD. */
  ref?: string;
  /** Folder in the repository holding the templates, one per file; default the root. */
  path?: string;
  /** Secret with credentials: token, username+password, bearerToken, or ssh-privatekey (+ known_hosts). */
  secretRef?: LocalObjectReference;
  /** How often to fetch (30s, 10m, 1h); default 10m. */
  interval?: string;
}

export interface GitSyncStatus {
  /** Commit the templates in use come from. */
  commit?: string;
  /** When the repository was last fetched (successfully or not). */
  lastFetchTime?: string;
  /** When templates were last fetched and checked successfully. */
  lastSuccessTime?: string;
  /** Why the last attempt failed; absent after a success. */
  lastError?: string;
}
// --- end templates from git ---

export interface ClusterPKI {
  /** Secret (kubernetes.io/tls) with the cluster CA; absent: generated into ccts-ca-<name>. */
  caSecretName?: string;
  /** Lifetime of Machine certificates (`8760h`, `90m`); renewed after two thirds of it. */
  certificateLifetime?: string;
}

export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export interface ClusterDescStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  /** Number of Machines that belong to this ClusterDesc. */
  machines?: number;
  /** Templates from git: what was fetched, and the last error (spec.git). */
  git?: GitSyncStatus;
}

export interface ClusterDesc {
  apiVersion: "ccts.io/v1alpha1";
  kind: "ClusterDesc";
  metadata: ObjectMeta;
  spec: ClusterDescSpec;
  status?: ClusterDescStatus;
}

export interface MachineInterface {
  /** Interface name on the machine (`eth1`). */
  name?: string;
  /** MAC address of the interface. */
  mac: string;
  /** Fixed IP of the interface. */
  ip?: string;
}

export interface MachineSpec {
  /** Name of the ClusterDesc (same namespace) this machine belongs to. */
  clusterDesc: string;
  /** MAC address of the boot interface: the key machines ask with. */
  mac: string;
  /** Further interfaces; each MAC also finds this machine. */
  interfaces?: MachineInterface[];
  /** Hostname; default derived from the MAC (`00-25-90-c0-f7-80`). */
  hostname?: string;
  /** Fixed IP of the boot interface. */
  ip?: string;
  /** Roles: master, etcd, worker, ingress, or any other word templates understand. */
  roles?: string[];
  /** Interface flannel binds to. */
  flannelInterface?: string;
  /** Free-form template variables, overriding the ClusterDesc's. */
  variables?: Variables;
}

export interface MachineStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  /**
   * ConfigMap holding the rendered documents. Their content hash is its annotation, not a status
   * field: a fan-out then costs one write per Machine, not two.
   */
  configMap?: string;
  /** Names of the rendered outputs. */
  outputs?: string[];
  /** Secret holding the outputs that contain private key material: name, or `namespace/name` in the documents namespace. */
  secret?: string;
  certificate?: MachineCertificateStatus;
}

export interface MachineCertificateStatus {
  /** Secret (kubernetes.io/tls) with the certificate, its key and the CA certificate. */
  secretName?: string;
  /** Expiry, RFC 3339. */
  notAfter?: string;
  /** When the controller renews it, RFC 3339. */
  renewAfter?: string;
}

export interface Machine {
  apiVersion: "ccts.io/v1alpha1";
  kind: "Machine";
  metadata: ObjectMeta;
  spec: MachineSpec;
  status?: MachineStatus;
}
