// Invariants of the kustomize base in deploy/, read as plain YAML (no cluster needed): the CRD
// copies equal crds/, the pods are hardened, probes hit the health endpoints on the right ports,
// the commands match the CLI, the example overlay points at objects that exist.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  BASE_DIR,
  DEPLOY_DIR,
  find,
  type K8sObject,
  loadKustomization,
  loadYamlFile,
  OVERLAY_DIR,
  REPO_ROOT,
  readKustomization,
} from "./manifests.js";

const objects = loadKustomization(BASE_DIR);
const deployments = objects.filter((o) => o.kind === "Deployment");
const UID = 10001;
const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

interface Container {
  name: string;
  args: string[];
  env?: { name: string; value?: string; valueFrom?: unknown }[];
  ports: { name: string; containerPort: number }[];
  livenessProbe: { httpGet: { path: string; port: string | number } };
  readinessProbe: { httpGet: { path: string; port: string | number } };
  resources: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext: Record<string, unknown>;
  volumeMounts?: { name: string; mountPath: string }[];
}

const containerOf = (name: string): Container =>
  find(objects, "Deployment", name).spec.template.spec.containers[0];

describe("deploy/base CRDs", () => {
  const source = readdirSync(join(REPO_ROOT, "crds"))
    .filter((f) => /\.ya?ml$/.test(f))
    .sort();
  const copyDir = join(BASE_DIR, "crds");

  it("are byte-identical copies of crds/ (refresh: cp crds/*.yaml deploy/base/crds/)", () => {
    const copies = readdirSync(copyDir)
      .filter((f) => /\.ya?ml$/.test(f) && f !== "kustomization.yaml")
      .sort();
    expect(copies).toEqual(source);
    // Compared by hash: a full diff of a CRD drowns the message that says what to do.
    const differ = source.filter((f) => sha256(join(copyDir, f)) !== sha256(join(REPO_ROOT, "crds", f)));
    expect(differ, "deploy/base/crds/ differs from crds/: run cp crds/*.yaml deploy/base/crds/").toEqual([]);
  });

  it("are all listed in deploy/base/crds/kustomization.yaml", () => {
    expect([...(readKustomization(copyDir).resources ?? [])].sort()).toEqual(source);
    expect(
      objects
        .filter((o) => o.kind === "CustomResourceDefinition")
        .map((o) => o.metadata.name)
        .sort(),
    ).toEqual(["clusterdescs.ccts.io", "machines.ccts.io"]);
  });
});

describe("deploy/ kustomization", () => {
  it("applies the base from deploy/ (kubectl apply -k deploy/) into ccts-system, and only RBAC into ccts-documents", () => {
    expect(readKustomization(DEPLOY_DIR).resources).toEqual(["base"]);
    // A kustomize `namespace:` would move the documents namespace's objects into ccts-system.
    expect(readKustomization(BASE_DIR).namespace).toBeUndefined();
    for (const name of ["ccts-system", "ccts-documents"]) {
      const ns = find(objects, "Namespace", name);
      expect(ns.metadata.labels?.["pod-security.kubernetes.io/enforce"]).toBe("restricted");
    }
    for (const o of objects) {
      if (o.kind === "Namespace" || o.kind === "CustomResourceDefinition") continue;
      if (o.metadata.namespace === "ccts-documents") {
        expect(["Role", "RoleBinding"], `${o.kind} ${o.metadata.name}`).toContain(o.kind);
        continue;
      }
      expect(o.metadata.namespace, `${o.kind} ${o.metadata.name}`).toBe("ccts-system");
    }
  });
});

describe("deploy/base workloads", () => {
  it("run the controller with leader election and the server with its cache dir, as the CLI expects", () => {
    expect(containerOf("ccts-controller").args).toEqual([
      "controller",
      "--namespace",
      "$(POD_NAMESPACE)",
      "--documents-namespace",
      "ccts-documents",
      "--lease-namespace",
      "$(POD_NAMESPACE)",
      "--identity",
      "$(POD_NAME)",
      "--metrics-port",
      "9090",
    ]);
    expect(containerOf("ccts-server").args).toEqual([
      "server",
      "--namespace",
      "$(POD_NAMESPACE)",
      "--documents-namespace",
      "ccts-documents",
      "--cache-dir",
      "/var/cache/ccts",
      "--port",
      "8080",
    ]);
    // $(VAR) in args expands only from the container's env.
    for (const name of ["ccts-controller", "ccts-server"]) {
      const c = containerOf(name);
      const env = new Set((c.env ?? []).map((e) => e.name));
      for (const arg of c.args)
        for (const [, v] of arg.matchAll(/\$\((\w+)\)/g)) expect(env.has(v!), `${name}: ${v}`).toBe(true);
    }
    const server = containerOf("ccts-server");
    expect(server.volumeMounts).toContainEqual({ name: "cache", mountPath: "/var/cache/ccts" });
  });

  it("give the server the Node options the benchmark measures it with; the controller the image's", async () => {
    const { SERVER_NODE_OPTIONS } = await import("../../bench/lib/procs.ts");
    const nodeOptions = (name: string) =>
      containerOf(name).env?.find((e) => e.name === "NODE_OPTIONS")?.value;
    expect(nodeOptions("ccts-server")).toBe(SERVER_NODE_OPTIONS);
    expect(nodeOptions("ccts-controller")).toBeUndefined();
  });

  it("preload the image's jemalloc in the controller only, as the benchmark measures them", async () => {
    const { IMAGE_JEMALLOC, CONTROLLER_MALLOC_CONF } = await import("../../bench/lib/procs.ts");
    const envValue = (name: string, key: string) => containerOf(name).env?.find((e) => e.name === key)?.value;
    expect(envValue("ccts-controller", "LD_PRELOAD")).toBe(IMAGE_JEMALLOC);
    expect(envValue("ccts-controller", "MALLOC_CONF")).toBe(CONTROLLER_MALLOC_CONF);
    expect(envValue("ccts-server", "LD_PRELOAD")).toBeUndefined();
    expect(envValue("ccts-server", "MALLOC_CONF")).toBeUndefined();
  });

  it("run two replicas each, with a PodDisruptionBudget that keeps one", () => {
    for (const d of deployments) {
      expect(d.spec.replicas).toBe(2);
      const pdb = find(objects, "PodDisruptionBudget", d.metadata.name);
      expect(pdb.spec.selector.matchLabels).toEqual(d.spec.selector.matchLabels);
      expect(pdb.spec.maxUnavailable ?? d.spec.replicas - pdb.spec.minAvailable).toBe(1);
      expect(d.spec.template.metadata.labels).toMatchObject(d.spec.selector.matchLabels);
    }
  });

  it("probe /healthz (liveness) and /readyz (readiness) on the port that serves them", () => {
    const expected = { "ccts-controller": 9090, "ccts-server": 8080 };
    for (const [name, port] of Object.entries(expected)) {
      const c = containerOf(name);
      const portOf = (p: string | number) =>
        typeof p === "number" ? p : c.ports.find((x) => x.name === p)?.containerPort;
      expect(c.livenessProbe.httpGet.path).toBe("/healthz");
      expect(c.readinessProbe.httpGet.path).toBe("/readyz");
      expect(portOf(c.livenessProbe.httpGet.port)).toBe(port);
      expect(portOf(c.readinessProbe.httpGet.port)).toBe(port);
    }
  });

  it("set requests and limits for CPU and memory", () => {
    for (const d of deployments) {
      for (const c of d.spec.template.spec.containers as Container[]) {
        for (const kind of ["requests", "limits"] as const) {
          expect(Object.keys(c.resources[kind] ?? {}).sort(), `${c.name} ${kind}`).toEqual(["cpu", "memory"]);
        }
      }
    }
  });

  it("are hardened: fixed non-root UID, read-only root, no privilege escalation, no capabilities, RuntimeDefault seccomp", () => {
    for (const d of deployments) {
      const pod = d.spec.template.spec;
      expect(pod.securityContext).toMatchObject({
        runAsNonRoot: true,
        runAsUser: UID,
        seccompProfile: { type: "RuntimeDefault" },
      });
      expect(pod.hostNetwork ?? false).toBe(false);
      expect(pod.enableServiceLinks).toBe(false);
      for (const c of [...pod.containers, ...(pod.initContainers ?? [])] as Container[]) {
        expect(c.securityContext).toMatchObject({
          runAsNonRoot: true,
          runAsUser: UID,
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
          capabilities: { drop: ["ALL"] },
          seccompProfile: { type: "RuntimeDefault" },
        });
        expect((c.securityContext.capabilities as { add?: unknown }).add).toBeUndefined();
        expect(c.securityContext.privileged ?? false).toBe(false);
      }
      // A read-only root needs every written path on a volume.
      const volumes = new Set((pod.volumes ?? []).map((v: { name: string }) => v.name));
      for (const c of pod.containers as Container[])
        for (const m of c.volumeMounts ?? []) expect(volumes.has(m.name)).toBe(true);
    }
  });

  it("expose the server to the provisioning network, and the controller's metrics only inside", () => {
    const svc = find(objects, "Service", "ccts-server");
    expect(svc.spec.type).toBe("NodePort");
    expect(svc.spec.selector).toEqual(find(objects, "Deployment", "ccts-server").spec.selector.matchLabels);
    expect(svc.spec.ports).toEqual([expect.objectContaining({ port: 80, targetPort: "http" })]);
    const metrics = find(objects, "Service", "ccts-controller-metrics");
    expect(metrics.spec.type).toBe("ClusterIP");
    expect(metrics.spec.selector).toEqual(
      find(objects, "Deployment", "ccts-controller").spec.selector.matchLabels,
    );
  });
});

describe("deploy/overlays/example-site", () => {
  const k = readKustomization(OVERLAY_DIR);

  it("builds on the base and pins the image by tag or digest", () => {
    expect(k.resources).toEqual(["../../base"]);
    const image = k.images?.find((i) => i.name === "ccts");
    expect(image?.newTag ?? image?.digest).toBeTruthy();
    expect(image?.newTag).not.toBe("latest");
    for (const d of deployments)
      for (const c of d.spec.template.spec.containers) expect(c.image).toMatch(/^ccts:/);
  });

  it("patches only objects and containers the base has", () => {
    for (const p of k.patches ?? []) {
      for (const patch of loadYamlFile(join(OVERLAY_DIR, p.path!)) as K8sObject[]) {
        const target = find(objects, patch.kind, patch.metadata.name);
        for (const c of patch.spec?.template?.spec?.containers ?? []) {
          expect(target.spec.template.spec.containers.map((x: Container) => x.name)).toContain(c.name);
        }
      }
    }
    for (const r of k.replicas ?? []) find(objects, "Deployment", r.name);
    // The alternative Service patch (not listed) must stay valid to swap in.
    const lb = loadYamlFile(join(OVERLAY_DIR, "service-loadbalancer.yaml"))[0]!;
    expect(lb.spec.type).toBe("LoadBalancer");
    find(objects, lb.kind, lb.metadata.name);
  });
});
