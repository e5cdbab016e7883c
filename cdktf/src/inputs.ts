// Typed stack inputs. Every one is a Terraform variable with a type, a default where one makes
// sense, and validation blocks, so a value can come from `-var`, a .tfvars file or the
// environment as TF_VAR_<name> (e.g. TF_VAR_log_level=debug) and is checked at plan time.
import { TerraformVariable } from "cdktf";
import type { Construct } from "constructs";

/** A raw Terraform expression; cdktf passes `${...}` strings through unchanged. */
const expr = (e: string) => `\${${e}}`;

export interface Inputs {
  namespace: TerraformVariable;
  documentsNamespace: TerraformVariable;
  image: TerraformVariable;
  imagePullPolicy: TerraformVariable;
  controllerReplicas: TerraformVariable;
  serverReplicas: TerraformVariable;
  logLevel: TerraformVariable;
  controllerConcurrency: TerraformVariable;
  controllerResync: TerraformVariable;
  serverRateLimit: TerraformVariable;
  serverTrustedProxies: TerraformVariable;
  controllerMemoryMib: TerraformVariable;
  serverMemoryMib: TerraformVariable;
  extraEnv: TerraformVariable;
  installCrds: TerraformVariable;
  bootstrapImage: TerraformVariable;
  bootstrapStorageSize: TerraformVariable;
  storageClass: TerraformVariable;
  haproxyImage: TerraformVariable;
  haproxyReplicas: TerraformVariable;
  haproxyBackends: TerraformVariable;
  haproxyServiceType: TerraformVariable;
  haproxyNodePort: TerraformVariable;
  haproxyExternalTrafficPolicy: TerraformVariable;
  managementAddress: TerraformVariable;
  kubeHost: TerraformVariable;
  kubeToken: TerraformVariable;
  kubeClusterCaCertificate: TerraformVariable;
  kubeConfigPath: TerraformVariable;
  kubeConfigContext: TerraformVariable;
}

/** Names and defaults of all inputs (for docs and tests). */
export function defineInputs(scope: Construct): Inputs {
  const v = (name: string, config: ConstructorParameters<typeof TerraformVariable>[2]) => {
    // cdktf cannot synthesize `default: null` itself; an override writes it verbatim.
    if (config?.default === null) {
      const { default: _null, ...rest } = config;
      const variable = new TerraformVariable(scope, name, rest);
      variable.addOverride("default", null);
      return variable;
    }
    return new TerraformVariable(scope, name, config);
  };
  const oneOf = (name: string, values: string[]) => ({
    condition: expr(`contains(${JSON.stringify(values)}, var.${name})`),
    errorMessage: `${name} must be one of ${values.join(", ")}.`,
  });
  const quantity = (name: string) => ({
    condition: expr(`can(regex("^[0-9]+(\\\\.[0-9]+)?(Ki|Mi|Gi|Ti)$", var.${name}))`),
    errorMessage: `${name} must be a Kubernetes quantity such as 1Gi or 512Mi.`,
  });
  const image = (name: string) => ({
    condition: expr(`can(regex("^[^\\\\s]+$", var.${name})) && length(var.${name}) > 0`),
    errorMessage: `${name} must be a non-empty image reference without spaces.`,
  });
  const whole = (name: string, min: number, max: number) => ({
    condition: expr(`var.${name} == floor(var.${name}) && var.${name} >= ${min} && var.${name} <= ${max}`),
    errorMessage: `${name} must be a whole number from ${min} to ${max}.`,
  });
  const hostPort = "^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?:[0-9]{1,5}$";

  return {
    namespace: v("namespace", {
      type: "string",
      default: "ccts-system",
      description: "Namespace for all of ccts (created by the stack, restricted Pod Security Standard).",
      validation: [
        {
          condition: expr(
            `can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", var.namespace)) && length(var.namespace) <= 63`,
          ),
          errorMessage:
            "namespace must be a DNS label: lower-case letters, digits and '-', at most 63 characters.",
        },
      ],
    }),
    documentsNamespace: v("documents_namespace", {
      type: "string",
      default: "ccts-documents",
      description:
        "Namespace for the Secrets of rendered documents that hold private keys (created by the stack; not the same as namespace): the only namespace the server may read Secrets in.",
      validation: [
        {
          condition: expr(
            `can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", var.documents_namespace)) && length(var.documents_namespace) <= 63`,
          ),
          errorMessage:
            "documents_namespace must be a DNS label: lower-case letters, digits and '-', at most 63 characters.",
        },
      ],
    }),
    image: v("image", {
      type: "string",
      default: "ccts:dev",
      description: "ccts container image (controller and server).",
      validation: [image("image")],
    }),
    imagePullPolicy: v("image_pull_policy", {
      type: "string",
      default: "IfNotPresent",
      description: "imagePullPolicy of all containers.",
      validation: [oneOf("image_pull_policy", ["Always", "IfNotPresent", "Never"])],
    }),
    controllerReplicas: v("controller_replicas", {
      type: "number",
      default: 2,
      description: "Controller replicas (one leader, the others warm standbys).",
      validation: [whole("controller_replicas", 1, 5)],
    }),
    serverReplicas: v("server_replicas", {
      type: "number",
      default: 2,
      description: "Server replicas (all serve).",
      validation: [whole("server_replicas", 1, 20)],
    }),
    logLevel: v("log_level", {
      type: "string",
      default: "info",
      description: "CCTS_LOG_LEVEL of controller, server and bootstrapper.",
      validation: [oneOf("log_level", ["trace", "debug", "info", "warn", "error", "fatal"])],
    }),
    controllerConcurrency: v("controller_concurrency", {
      type: "number",
      default: 8,
      description: "ccts controller --concurrency.",
      validation: [whole("controller_concurrency", 1, 64)],
    }),
    controllerResync: v("controller_resync", {
      type: "string",
      default: "10m",
      description: "ccts controller --resync (a duration such as 30s, 10m, 1h).",
      validation: [
        {
          condition: expr(`can(regex("^[0-9]+(ms|s|m|h)$", var.controller_resync))`),
          errorMessage: "controller_resync must be a duration such as 30s, 10m or 1h.",
        },
      ],
    }),
    // Behind HAProxy the server sees HAProxy as every machine's client: a per-client limit there
    // throttles the whole fleet in a boot storm unless server_trusted_proxies names HAProxy's Pods.
    serverRateLimit: v("server_rate_limit", {
      type: "number",
      default: 0,
      description:
        "ccts server --rate-limit (requests/s per client; 0 turns it off). Needs server_trusted_proxies and haproxy_external_traffic_policy = Local to tell machines apart.",
      validation: [
        {
          condition: expr("var.server_rate_limit >= 0"),
          errorMessage: "server_rate_limit must not be negative.",
        },
      ],
    }),
    serverTrustedProxies: v("server_trusted_proxies", {
      type: "list(string)",
      default: [],
      description:
        "ccts server --trusted-proxies: addresses or CIDRs (the Pod network) whose X-Forwarded-For names the client; empty: none.",
      validation: [
        {
          condition: expr(
            `alltrue([for p in var.server_trusted_proxies : can(regex("^[0-9A-Fa-f:.]+(/[0-9]+)?$", p))])`,
          ),
          errorMessage: "server_trusted_proxies entries must be addresses or CIDRs.",
        },
      ],
    }),
    // Sized for ~15,000 Machines at the defaults (deploy/README.md, "Memory"). The heap cap follows
    // the limit: without one, V8 sizes its heap from the host and leaves garbage up to the limit.
    controllerMemoryMib: v("controller_memory_mib", {
      type: "number",
      default: 512,
      description:
        "Memory limit of the controller container in MiB; its V8 heap is capped at half of it (--max-old-space-size).",
      validation: [whole("controller_memory_mib", 256, 65536)],
    }),
    serverMemoryMib: v("server_memory_mib", {
      type: "number",
      default: 512,
      description:
        "Memory limit of each server container in MiB; its V8 heap is capped at half of it (--max-old-space-size).",
      validation: [whole("server_memory_mib", 256, 65536)],
    }),
    extraEnv: v("extra_env", {
      type: "map(string)",
      default: {},
      description: "More environment variables for the controller and server containers (CCTS_* names).",
      validation: [
        {
          condition: expr(`alltrue([for k in keys(var.extra_env) : can(regex("^CCTS_[A-Z0-9_]+$", k))])`),
          errorMessage: "extra_env keys must be CCTS_ followed by upper-case letters, digits or '_'.",
        },
      ],
    }),
    installCrds: v("install_crds", {
      type: "bool",
      default: true,
      description: "Install the ccts CRDs (crds/*.yaml). Turn off when the cluster manages them elsewhere.",
    }),
    bootstrapImage: v("bootstrap_image", {
      type: "string",
      default: "busybox:1.37",
      description: "Image of the bootstrapper Pod (needs POSIX sh and wget).",
      validation: [image("bootstrap_image")],
    }),
    bootstrapStorageSize: v("bootstrap_storage_size", {
      type: "string",
      default: "1Gi",
      description: "Size of the bootstrapper's PersistentVolumeClaim.",
      validation: [quantity("bootstrap_storage_size")],
    }),
    storageClass: v("storage_class", {
      type: "string",
      default: null,
      nullable: true,
      description: "StorageClass of the PVC; null: the cluster default.",
    }),
    haproxyImage: v("haproxy_image", {
      type: "string",
      default: "haproxy:3.2",
      description: "HAProxy image.",
      validation: [image("haproxy_image")],
    }),
    haproxyReplicas: v("haproxy_replicas", {
      type: "number",
      default: 2,
      description: "HAProxy replicas.",
      validation: [whole("haproxy_replicas", 1, 10)],
    }),
    haproxyBackends: v("haproxy_backends", {
      type: "list(string)",
      default: [],
      description:
        "HOST:PORT backends HAProxy balances over; empty: the in-cluster ccts-server Service (port 80).",
      validation: [
        {
          condition: expr(`alltrue([for b in var.haproxy_backends : can(regex("${hostPort}", b))])`),
          errorMessage: "haproxy_backends entries must be HOST:PORT.",
        },
      ],
    }),
    haproxyServiceType: v("haproxy_service_type", {
      type: "string",
      default: "NodePort",
      description: "Type of the HAProxy Service that the management network reaches.",
      validation: [oneOf("haproxy_service_type", ["ClusterIP", "NodePort", "LoadBalancer"])],
    }),
    haproxyNodePort: v("haproxy_node_port", {
      type: "number",
      default: null,
      nullable: true,
      description: "Fixed node port for HAProxy (NodePort/LoadBalancer); null: the cluster picks one.",
      validation: [
        {
          condition: expr(
            "var.haproxy_node_port == null ? true : (var.haproxy_node_port >= 30000 && var.haproxy_node_port <= 32767)",
          ),
          errorMessage: "haproxy_node_port must be in 30000-32767 (or null).",
        },
      ],
    }),
    haproxyExternalTrafficPolicy: v("haproxy_external_traffic_policy", {
      type: "string",
      default: "Cluster",
      description:
        "externalTrafficPolicy of the HAProxy Service (NodePort/LoadBalancer). Local keeps the machine's source address (no SNAT) but answers only on nodes running an HAProxy Pod.",
      validation: [oneOf("haproxy_external_traffic_policy", ["Cluster", "Local"])],
    }),
    managementAddress: v("management_address", {
      type: "string",
      default: null,
      nullable: true,
      description: "Address (node IP or VIP) on the management network, used to print the HAProxy URL.",
    }),
    kubeHost: v("kube_host", {
      type: "string",
      default: null,
      nullable: true,
      description: "Kubernetes API URL; null: from kube_config_path / KUBE_CONFIG_PATH.",
    }),
    kubeToken: v("kube_token", {
      type: "string",
      default: null,
      nullable: true,
      sensitive: true,
      description: "Bearer token for the Kubernetes API (or give TF_VAR_kube_token).",
    }),
    kubeClusterCaCertificate: v("kube_cluster_ca_certificate", {
      type: "string",
      default: null,
      nullable: true,
      description: "PEM CA bundle of the Kubernetes API.",
    }),
    kubeConfigPath: v("kube_config_path", {
      type: "string",
      default: null,
      nullable: true,
      description: "kubeconfig file for the provider (when kube_host is not given).",
    }),
    kubeConfigContext: v("kube_config_context", {
      type: "string",
      default: null,
      nullable: true,
      description: "Context in kube_config_path; null: its current context.",
    }),
  };
}
