// The ccts bootstrap stack: everything a jump host creates on a Kubernetes cluster.
//
//   namespace (restricted PSS) ── CRDs (crds/*.yaml, optional)
//   ├─ ServiceAccounts + Roles + RoleBindings (rules read from deploy/base/rbac-*.yaml)
//   │    └─ documents namespace: Roles + RoleBindings for the Secrets of key-bearing documents
//   ├─ PVC ◄── bootstrapper Pod (runs bootstrap.sh from the scripts ConfigMap; destroy provisioner
//   │                            runs destroy.sh in it via kubectl exec before it goes away)
//   ├─ Deployments ccts-controller, ccts-server (+ Service ccts-server), settings as env/args
//   └─ HAProxy: ConfigMap (haproxy.cfg, backends from inputs), Deployment, Service (management net)
//
// Nothing here waits for Pods: Deployments use wait_for_rollout = false and the bootstrapper Pod
// counts as created once it is Pending (target_state), so a plan/apply does not depend on nodes.
import { ConfigMapV1 } from "@cdktf/provider-kubernetes/lib/config-map-v1/index.js";
import { DeploymentV1 } from "@cdktf/provider-kubernetes/lib/deployment-v1/index.js";
import { Manifest } from "@cdktf/provider-kubernetes/lib/manifest/index.js";
import { NamespaceV1 } from "@cdktf/provider-kubernetes/lib/namespace-v1/index.js";
import { PersistentVolumeClaimV1 } from "@cdktf/provider-kubernetes/lib/persistent-volume-claim-v1/index.js";
import { PodV1 } from "@cdktf/provider-kubernetes/lib/pod-v1/index.js";
import { KubernetesProvider } from "@cdktf/provider-kubernetes/lib/provider/index.js";
import { RoleBindingV1 } from "@cdktf/provider-kubernetes/lib/role-binding-v1/index.js";
import { RoleV1 } from "@cdktf/provider-kubernetes/lib/role-v1/index.js";
import { ServiceAccountV1 } from "@cdktf/provider-kubernetes/lib/service-account-v1/index.js";
import { ServiceV1 } from "@cdktf/provider-kubernetes/lib/service-v1/index.js";
import { LocalBackend, type LocalExecProvisioner, TerraformOutput, TerraformStack } from "cdktf";
import type { Construct } from "constructs";
import { type BackendChoice, EnvTokenConsulBackend } from "./backend.ts";
import {
  BOOTSTRAPPER,
  CONTROLLER,
  HAPROXY,
  labels,
  loadCrds,
  loadRoleRules,
  METRICS_PORT,
  SERVER,
  SERVER_PORT,
  selector,
  UID,
} from "./conventions.ts";
import { defineInputs, type Inputs } from "./inputs.ts";
import { BOOTSTRAP_STEPS, bootstrapScript, destroyScript, SCRIPTS_DIR, STATE_DIR } from "./scripts.ts";

/** Version range of hashicorp/kubernetes the stack works with (see README: provider versions). */
export const KUBERNETES_PROVIDER_CONSTRAINT = ">= 2.38.0, < 4.0.0";
export const HAPROXY_PORT = 8080;
export const HAPROXY_HEALTH_PORT = 8404;

/**
 * The controller container's allocator: the image's link to Debian's jemalloc, preloaded (a lower
 * peak at 10,000 Machines; equal to deploy/base/controller.yaml's, test/cdktf checks).
 */
export const CONTROLLER_LD_PRELOAD = "/usr/local/lib/libjemalloc.so.2";
/** jemalloc's settings there: freed pages returned at once, one arena (deploy/base/controller.yaml's, checked). */
export const CONTROLLER_MALLOC_CONF = "dirty_decay_ms:0,muzzy_decay_ms:0,narenas:1";
/**
 * NODE_OPTIONS of the containers, the heap cap half the memory limit: with the default 512 MiB, the
 * image's options for the controller and deploy/base/server.yaml's for the server (test/cdktf checks).
 */
const nodeOptions = (semiSpaceMib: number, memoryVariable: string) =>
  `--max-semi-space-size=${semiSpaceMib} --max-old-space-size=\${floor(var.${memoryVariable} / 2)}`;
const CONTROLLER_NODE_OPTIONS = nodeOptions(16, "controller_memory_mib");
const SERVER_NODE_OPTIONS = nodeOptions(2, "server_memory_mib");
const expr = (e: string) => `\${${e}}`;
/** `self.metadata[0].<attr>` of the resource a provisioner belongs to. */
const selfRef = (attr: string) => expr(`self.metadata[0].${attr}`);

/**
 * A literal string for Terraform JSON: `${` and `%{` would start an interpolation or a template
 * directive there, so they are doubled (`$${`, `%%{`), which Terraform reads back as `${`, `%{`.
 */
export function literal(s: string): string {
  return s.replaceAll("${", () => "$${").replaceAll("%{", () => "%%{");
}
/** literal() applied to every string in a JSON value (keys included). */
export function literalDeep(v: unknown): unknown {
  if (typeof v === "string") return literal(v);
  if (Array.isArray(v)) return v.map(literalDeep);
  if (v && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [literal(k), literalDeep(x)]));
  }
  return v;
}

export interface CctsStackOptions {
  backend: BackendChoice;
}

/** Hardened container security context, the same as deploy/base (restricted PSS). */
function containerSecurity(uid = UID) {
  return {
    runAsNonRoot: true,
    runAsUser: String(uid),
    runAsGroup: String(uid),
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
    privileged: false,
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" },
  };
}
function podSecurity(uid = UID) {
  return {
    runAsNonRoot: true,
    runAsUser: String(uid),
    runAsGroup: String(uid),
    fsGroup: String(uid),
    seccompProfile: { type: "RuntimeDefault" },
  };
}

export class CctsStack extends TerraformStack {
  readonly inputs: Inputs;

  constructor(scope: Construct, id: string, opts: CctsStackOptions) {
    super(scope, id);
    const backend = opts.backend;
    if (backend.kind === "local") new LocalBackend(this, { path: backend.path });
    else new EnvTokenConsulBackend(this, backend.consul);

    const inp = defineInputs(this);
    this.inputs = inp;

    new KubernetesProvider(this, "kubernetes", {
      host: inp.kubeHost.stringValue,
      token: inp.kubeToken.stringValue,
      clusterCaCertificate: inp.kubeClusterCaCertificate.stringValue,
      configPath: inp.kubeConfigPath.stringValue,
      configContext: inp.kubeConfigContext.stringValue,
    });
    // The prebuilt bindings are generated for hashicorp/kubernetes 2.38.0 and would pin "~> 2.0";
    // the stack uses only *_v1 resources, which 3.x keeps unchanged (3.0 deprecated the unversioned
    // names only), and it is tested against 3.2.1 built from source.
    this.addOverride("terraform.required_providers.kubernetes", {
      // Short form: Terraform resolves it on registry.terraform.io, OpenTofu on registry.opentofu.org.
      source: "hashicorp/kubernetes",
      version: KUBERNETES_PROVIDER_CONSTRAINT,
    });

    const ns = new NamespaceV1(this, "ns", {
      metadata: {
        name: inp.namespace.stringValue,
        labels: {
          "app.kubernetes.io/name": "ccts",
          "app.kubernetes.io/managed-by": "cdktf",
          "pod-security.kubernetes.io/enforce": "restricted",
          "pod-security.kubernetes.io/enforce-version": "latest",
          "pod-security.kubernetes.io/warn": "restricted",
          "pod-security.kubernetes.io/audit": "restricted",
        },
      },
      waitForDefaultServiceAccount: false,
    });
    const namespace = ns.metadata.name;
    // The Secrets of documents that hold private keys, apart, so the server may read Secrets
    // there and nowhere else (deploy/base/namespace.yaml says why).
    const documentsNs = new NamespaceV1(this, "documents_ns", {
      metadata: {
        name: inp.documentsNamespace.stringValue,
        labels: {
          "app.kubernetes.io/name": "ccts",
          "app.kubernetes.io/managed-by": "cdktf",
          "pod-security.kubernetes.io/enforce": "restricted",
          "pod-security.kubernetes.io/enforce-version": "latest",
        },
      },
      waitForDefaultServiceAccount: false,
    });
    const documentsNamespace = documentsNs.metadata.name;

    // CRDs: cluster-scoped, from crds/ (the single copy). Count 0 when install_crds = false.
    const crds = loadCrds().map((crd) => {
      const { status: _status, ...clean } = crd;
      return new Manifest(this, `crd_${crd.metadata.name.split(".")[0]}`, {
        manifest: literalDeep(clean) as Record<string, unknown>,
        count: expr("var.install_crds ? 1 : 0") as unknown as number,
      });
    });

    // Identities and permissions, as deploy/base.
    const identities = [CONTROLLER, SERVER].map((name) => {
      const component = name.replace("ccts-", "");
      const sa = new ServiceAccountV1(this, `${component}_sa`, {
        metadata: { name, namespace, labels: labels(component) },
        automountServiceAccountToken: true,
      });
      // Its own namespace, and the documents namespace (Roles "<name>-documents" in deploy/base).
      for (const [suffix, roleName, roleNamespace] of [
        ["", name, namespace],
        ["_documents", `${name}-documents`, documentsNamespace],
      ] as const) {
        const role = new RoleV1(this, `${component}_role${suffix}`, {
          metadata: { name: roleName, namespace: roleNamespace, labels: labels(component) },
          rule: loadRoleRules(roleName).map((r) => ({
            apiGroups: r.apiGroups ?? [],
            resources: r.resources ?? [],
            resourceNames: r.resourceNames,
            verbs: r.verbs,
          })),
        });
        new RoleBindingV1(this, `${component}_role_binding${suffix}`, {
          metadata: { name: roleName, namespace: roleNamespace, labels: labels(component) },
          roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name },
          subject: [{ kind: "ServiceAccount", name: sa.metadata.name, namespace }],
        });
      }
      return sa;
    });
    const [controllerSa, serverSa] = identities as [ServiceAccountV1, ServiceAccountV1];

    // Settings from input variables (TF_VAR_*): CCTS_LOG_LEVEL directly, extra_env through a
    // ConfigMap read with envFrom; a change of either rolls the Pods (annotation below).
    const settings = new ConfigMapV1(this, "settings", {
      metadata: { name: "ccts-settings", namespace, labels: labels("settings") },
      data: expr("var.extra_env") as never,
    });
    const env = (withPodName: boolean) => [
      { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
      ...(withPodName ? [{ name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }] : []),
      { name: "CCTS_LOG_LEVEL", value: inp.logLevel.stringValue },
    ];
    const envFrom = [{ configMapRef: { name: settings.metadata.name } }];
    const settingsHash = expr("sha256(jsonencode(merge(var.extra_env, { CCTS_LOG_LEVEL = var.log_level })))");
    const probes = (port: string) => ({
      livenessProbe: {
        httpGet: { path: "/healthz", port },
        initialDelaySeconds: 5,
        periodSeconds: 10,
        timeoutSeconds: 3,
        failureThreshold: 3,
      },
      readinessProbe: {
        httpGet: { path: "/readyz", port },
        periodSeconds: 5,
        timeoutSeconds: 3,
        failureThreshold: 2,
      },
    });
    const antiAffinity = (component: string) => ({
      podAntiAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          {
            weight: 100,
            podAffinityTerm: {
              topologyKey: "kubernetes.io/hostname",
              labelSelector: [{ matchLabels: selector(component) }],
            },
          },
        ],
      },
    });

    const controller = new DeploymentV1(this, "controller", {
      metadata: { name: CONTROLLER, namespace, labels: labels("controller") },
      waitForRollout: false,
      spec: {
        replicas: inp.controllerReplicas.stringValue,
        revisionHistoryLimit: 5,
        selector: { matchLabels: selector("controller") },
        template: {
          metadata: {
            labels: labels("controller"),
            annotations: { "ccts.io/settings-sha256": settingsHash },
          },
          spec: {
            serviceAccountName: controllerSa.metadata.name,
            automountServiceAccountToken: true,
            enableServiceLinks: false,
            terminationGracePeriodSeconds: 30,
            securityContext: podSecurity(),
            affinity: antiAffinity("controller"),
            container: [
              {
                name: "controller",
                image: inp.image.stringValue,
                imagePullPolicy: inp.imagePullPolicy.stringValue,
                args: [
                  "controller",
                  "--namespace",
                  "$(POD_NAMESPACE)",
                  "--documents-namespace",
                  documentsNamespace,
                  "--lease-namespace",
                  "$(POD_NAMESPACE)",
                  "--identity",
                  "$(POD_NAME)",
                  "--metrics-port",
                  String(METRICS_PORT),
                  "--concurrency",
                  inp.controllerConcurrency.stringValue,
                  "--resync",
                  inp.controllerResync.stringValue,
                ],
                env: [
                  ...env(true),
                  { name: "LD_PRELOAD", value: CONTROLLER_LD_PRELOAD },
                  { name: "MALLOC_CONF", value: CONTROLLER_MALLOC_CONF },
                  { name: "NODE_OPTIONS", value: CONTROLLER_NODE_OPTIONS },
                ],
                envFrom,
                port: [{ name: "metrics", containerPort: METRICS_PORT, protocol: "TCP" }],
                ...probes("metrics"),
                resources: {
                  requests: { cpu: "50m", memory: "192Mi" },
                  limits: { cpu: "1", memory: `${expr("var.controller_memory_mib")}Mi` },
                },
                securityContext: containerSecurity(),
                volumeMount: [{ name: "tmp", mountPath: "/tmp" }],
              },
            ],
            volume: [{ name: "tmp", emptyDir: { sizeLimit: "64Mi" } }],
          },
        },
      },
    });

    const server = new DeploymentV1(this, "server", {
      metadata: { name: SERVER, namespace, labels: labels("server") },
      waitForRollout: false,
      spec: {
        replicas: inp.serverReplicas.stringValue,
        revisionHistoryLimit: 5,
        strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: "0", maxSurge: "1" } },
        selector: { matchLabels: selector("server") },
        template: {
          metadata: { labels: labels("server"), annotations: { "ccts.io/settings-sha256": settingsHash } },
          spec: {
            serviceAccountName: serverSa.metadata.name,
            automountServiceAccountToken: true,
            enableServiceLinks: false,
            terminationGracePeriodSeconds: 30,
            securityContext: podSecurity(),
            affinity: antiAffinity("server"),
            container: [
              {
                name: "server",
                image: inp.image.stringValue,
                imagePullPolicy: inp.imagePullPolicy.stringValue,
                args: [
                  "server",
                  "--namespace",
                  "$(POD_NAMESPACE)",
                  "--documents-namespace",
                  documentsNamespace,
                  "--cache-dir",
                  "/var/cache/ccts",
                  "--port",
                  String(SERVER_PORT),
                  "--rate-limit",
                  inp.serverRateLimit.stringValue,
                  // Empty: no proxy is trusted (the flag takes a comma-separated list).
                  "--trusted-proxies",
                  expr('join(",", var.server_trusted_proxies)'),
                ],
                // A 2 MiB young generation, not the image's 16 (deploy/base/server.yaml).
                env: [...env(false), { name: "NODE_OPTIONS", value: SERVER_NODE_OPTIONS }],
                envFrom,
                port: [{ name: "http", containerPort: SERVER_PORT, protocol: "TCP" }],
                ...probes("http"),
                resources: {
                  requests: { cpu: "100m", memory: "192Mi" },
                  limits: { cpu: "1", memory: `${expr("var.server_memory_mib")}Mi` },
                },
                securityContext: containerSecurity(),
                volumeMount: [
                  { name: "cache", mountPath: "/var/cache/ccts" },
                  { name: "tmp", mountPath: "/tmp" },
                ],
              },
            ],
            volume: [
              { name: "cache", emptyDir: { sizeLimit: "1Gi" } },
              { name: "tmp", emptyDir: { sizeLimit: "64Mi" } },
            ],
          },
        },
      },
    });

    // In-cluster Service of the server; HAProxy (below) is what the management network reaches.
    const serverService = new ServiceV1(this, "server_service", {
      metadata: { name: SERVER, namespace, labels: labels("server") },
      spec: {
        type: "ClusterIP",
        selector: selector("server"),
        port: [{ name: "http", port: 80, targetPort: "http", protocol: "TCP" }],
      },
      waitForLoadBalancer: false,
    });
    const serverUrl = `http://${serverService.metadata.name}.${namespace}.svc.cluster.local`;

    // Bootstrapper: PVC + scripts ConfigMap + Pod.
    const pvc = new PersistentVolumeClaimV1(this, "bootstrap_pvc", {
      metadata: { name: BOOTSTRAPPER, namespace, labels: labels("bootstrapper") },
      spec: {
        accessModes: ["ReadWriteOnce"],
        storageClassName: inp.storageClass.stringValue,
        resources: { requests: { storage: inp.bootstrapStorageSize.stringValue } },
      },
      // No provisioner or node in a bare API server: do not wait for Bound.
      waitUntilBound: false,
    });
    const scripts = new ConfigMapV1(this, "bootstrap_scripts", {
      metadata: { name: `${BOOTSTRAPPER}-scripts`, namespace, labels: labels("bootstrapper") },
      data: { "bootstrap.sh": literal(bootstrapScript), "destroy.sh": literal(destroyScript) },
    });
    // Before the Pod goes: run destroy.sh in it. A destroy-time provisioner may only refer to
    // self, so kubectl uses the jump host's kubeconfig (KUBECONFIG) and $KUBECTL if set. Without a
    // running Pod (no node, Pod never started) kubectl exec fails; on_failure = continue lets the
    // destroy go on, and the command says so on its own output line. (cdktf's LocalExecProvisioner
    // type lacks on_failure; cdktf passes it through to the JSON all the same.)
    const destroyProvisioner: LocalExecProvisioner & { onFailure: "continue" | "fail" } = {
      type: "local-exec",
      when: "destroy",
      onFailure: "continue",
      command: [
        `echo "ccts: running destroy.sh in pod ${selfRef("namespace")}/${selfRef("name")}"`,
        `"$\${KUBECTL:-kubectl}" exec --namespace "${selfRef("namespace")}" "${selfRef("name")}" -c bootstrap` +
          ` --request-timeout=20s -- /bin/sh ${SCRIPTS_DIR}/destroy.sh` +
          ' || { rc=$?; echo "ccts: destroy.sh did not run in the pod (kubectl exit $rc); continuing"; exit $rc; }',
      ].join("\n"),
    };
    const bootstrapper = new PodV1(this, "bootstrapper", {
      metadata: {
        name: BOOTSTRAPPER,
        namespace,
        labels: labels("bootstrapper"),
        annotations: { "ccts.io/bootstrap-steps": BOOTSTRAP_STEPS.join(",") },
      },
      // Created means accepted by the API server; readiness is the script's business (markers).
      targetState: ["Pending", "Running"],
      timeouts: { create: "2m", delete: "2m" },
      spec: {
        restartPolicy: "OnFailure",
        automountServiceAccountToken: false,
        enableServiceLinks: false,
        securityContext: podSecurity(),
        container: [
          {
            name: "bootstrap",
            image: inp.bootstrapImage.stringValue,
            imagePullPolicy: inp.imagePullPolicy.stringValue,
            command: ["/bin/sh", `${SCRIPTS_DIR}/bootstrap.sh`],
            env: [
              { name: "CCTS_BOOTSTRAP_STATE", value: STATE_DIR },
              { name: "CCTS_SERVER_URL", value: serverUrl },
              { name: "CCTS_NAMESPACE", value: namespace },
              { name: "CCTS_LOG_LEVEL", value: inp.logLevel.stringValue },
              { name: "CCTS_IMAGE", value: inp.image.stringValue },
            ],
            resources: { requests: { cpu: "10m", memory: "16Mi" }, limits: { cpu: "200m", memory: "64Mi" } },
            securityContext: containerSecurity(),
            volumeMount: [
              { name: "state", mountPath: STATE_DIR },
              { name: "scripts", mountPath: SCRIPTS_DIR, readOnly: true },
              { name: "tmp", mountPath: "/tmp" },
            ],
          },
        ],
        volume: [
          { name: "state", persistentVolumeClaim: { claimName: pvc.metadata.name } },
          { name: "scripts", configMap: { name: scripts.metadata.name, defaultMode: "0555" } },
          { name: "tmp", emptyDir: { sizeLimit: "16Mi" } },
        ],
      },
      provisioners: [destroyProvisioner],
      dependsOn: [controller, server, serverService],
    });

    // HAProxy: the control plane's door on the management network.
    const backends = expr(
      `length(var.haproxy_backends) > 0 ? var.haproxy_backends : ["${SERVER}.\${var.namespace}.svc.cluster.local:80"]`,
    );
    const haproxyCfg = new ConfigMapV1(this, "haproxy_config", {
      metadata: { name: `${HAPROXY}-config`, namespace, labels: labels("haproxy") },
      data: {
        "haproxy.cfg": expr(
          `join("\\n", concat(${JSON.stringify(haproxyHead())}, [for i, b in (${backends.slice(2, -1)}) : "    server s\${i} \${b} check"], [""]))`,
        ),
      },
    });
    const haproxy = new DeploymentV1(this, "haproxy", {
      metadata: { name: HAPROXY, namespace, labels: labels("haproxy") },
      waitForRollout: false,
      spec: {
        replicas: inp.haproxyReplicas.stringValue,
        revisionHistoryLimit: 5,
        selector: { matchLabels: selector("haproxy") },
        template: {
          metadata: {
            labels: labels("haproxy"),
            // A config change rolls the Pods.
            annotations: { "ccts.io/config-sha256": expr(`sha256(${haproxyCfgRef()})`) },
          },
          spec: {
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            securityContext: podSecurity(),
            affinity: antiAffinity("haproxy"),
            container: [
              {
                name: "haproxy",
                image: inp.haproxyImage.stringValue,
                imagePullPolicy: inp.imagePullPolicy.stringValue,
                args: ["-f", "/usr/local/etc/haproxy/haproxy.cfg"],
                port: [
                  { name: "http", containerPort: HAPROXY_PORT, protocol: "TCP" },
                  { name: "health", containerPort: HAPROXY_HEALTH_PORT, protocol: "TCP" },
                ],
                livenessProbe: { httpGet: { path: "/healthz", port: "health" }, periodSeconds: 10 },
                readinessProbe: { httpGet: { path: "/healthz", port: "health" }, periodSeconds: 5 },
                resources: {
                  requests: { cpu: "50m", memory: "64Mi" },
                  limits: { cpu: "1", memory: "256Mi" },
                },
                securityContext: containerSecurity(),
                volumeMount: [
                  { name: "config", mountPath: "/usr/local/etc/haproxy", readOnly: true },
                  { name: "run", mountPath: "/var/run/haproxy" },
                  { name: "tmp", mountPath: "/tmp" },
                ],
              },
            ],
            volume: [
              { name: "config", configMap: { name: haproxyCfg.metadata.name } },
              { name: "run", emptyDir: { sizeLimit: "8Mi" } },
              { name: "tmp", emptyDir: { sizeLimit: "16Mi" } },
            ],
          },
        },
      },
    });
    const haproxyService = new ServiceV1(this, "haproxy_service", {
      metadata: { name: HAPROXY, namespace, labels: labels("haproxy") },
      spec: {
        type: inp.haproxyServiceType.stringValue,
        // Local: HAProxy sees each machine's own address, not a node's (kube-proxy's SNAT).
        externalTrafficPolicy: expr(
          'var.haproxy_service_type == "ClusterIP" ? null : var.haproxy_external_traffic_policy',
        ) as never,
        selector: selector("haproxy"),
        port: [
          {
            name: "http",
            port: HAPROXY_PORT,
            targetPort: "http",
            protocol: "TCP",
            nodePort: expr('var.haproxy_service_type == "ClusterIP" ? null : var.haproxy_node_port') as never,
          },
        ],
      },
      // A LoadBalancer without a cloud controller never gets an address; do not block on it.
      waitForLoadBalancer: false,
      dependsOn: [haproxy],
    });

    // Outputs: what a user needs next.
    new TerraformOutput(this, "ccts_namespace", { value: namespace });
    new TerraformOutput(this, "ccts_documents_namespace", {
      value: documentsNamespace,
      description: "Namespace of the Secrets of documents that hold private keys.",
    });
    new TerraformOutput(this, "server_url", {
      value: serverUrl,
      description: "In-cluster URL of the ccts server (Service ccts-server, port 80).",
    });
    new TerraformOutput(this, "haproxy_cluster_endpoint", {
      value: `${haproxyService.spec.clusterIp}:${HAPROXY_PORT}`,
      description: "ClusterIP:port of the HAProxy Service.",
    });
    new TerraformOutput(this, "haproxy_http_node_port", {
      value: expr(`${serviceRef("haproxy_service")}.spec[0].port[0].node_port`),
      description: "Node port of HAProxy on every node (0 for ClusterIP).",
    });
    new TerraformOutput(this, "haproxy_url", {
      value: expr(
        `var.management_address == null ? "" : format("http://%s:%d", var.management_address, ${serviceRef("haproxy_service")}.spec[0].port[0].node_port)`,
      ),
      description: "URL of HAProxy on the management network (management_address and the node port).",
    });
    new TerraformOutput(this, "bootstrapper_pod", { value: `${namespace}/${bootstrapper.metadata.name}` });
    new TerraformOutput(this, "crds", {
      value: crds.map((c) => c.node.id),
      description: "CRD resources of the stack (each with count 0 when install_crds = false).",
    });

    function haproxyCfgRef() {
      return 'kubernetes_config_map_v1.haproxy_config.data["haproxy.cfg"]';
    }
    function serviceRef(id: string) {
      return `kubernetes_service_v1.${id}`;
    }
  }
}

/** haproxy.cfg up to the backend's server lines (which come from var.haproxy_backends). */
export function haproxyHead(): string[] {
  return [
    "# Generated by the ccts cdktf stack. Backends: var.haproxy_backends (default: Service ccts-server).",
    "global",
    "    log stdout format raw local0 info",
    "    maxconn 4096",
    "    stats socket /var/run/haproxy/admin.sock mode 600 level admin",
    "",
    "defaults",
    "    mode http",
    "    log global",
    "    option httplog",
    "    option forwardfor",
    "    option dontlognull",
    "    timeout connect 5s",
    "    timeout client 60s",
    "    timeout server 60s",
    "",
    "# Liveness/readiness of HAProxy itself.",
    "frontend health",
    `    bind :${HAPROXY_HEALTH_PORT}`,
    "    monitor-uri /healthz",
    "",
    "frontend ccts_http",
    `    bind :${HAPROXY_PORT}`,
    "    default_backend ccts_server",
    "",
    "backend ccts_server",
    "    balance roundrobin",
    "    option httpchk GET /readyz",
    "    http-check expect status 200",
    "    default-server inter 5s fall 3 rise 2",
  ];
}
