// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the expected values are Terraform interpolations
// Unit tests on the synthesized Terraform JSON of cdktf/ (stack "ccts"): resources, wiring,
// deploy/ conventions, backend block, variables. The bootstrap script itself runs under /bin/sh
// here (twice, to show that finished steps are skipped). No Terraform binary is needed.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import yaml from "js-yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot, synth, type TfJson } from "./synth.ts";

let tf: TfJson;
let res: TfJson;

beforeAll(async () => {
  const r = await synth({ CCTS_TF_BACKEND: "consul" });
  expect(r.stderr).not.toMatch(/Error/);
  expect(r.code).toBe(0);
  tf = r.json!;
  res = tf.resource;
}, 120_000);

const ref = (type: string, id: string, attr = "metadata[0].name") => `\${${type}.${id}.${attr}}`;

// biome-ignore lint/suspicious/noExplicitAny: untyped JSON
function envOf(container: any): Record<string, any> {
  // biome-ignore lint/suspicious/noExplicitAny: untyped JSON
  return Object.fromEntries((container.env ?? []).map((e: any) => [e.name, e.value ?? e.value_from]));
}
// biome-ignore lint/suspicious/noExplicitAny: untyped YAML
function deployContainer(file: string, kind = "Deployment", name?: string): any {
  // biome-ignore lint/suspicious/noExplicitAny: untyped YAML
  const docs = yaml.loadAll(readFileSync(join(repoRoot, "deploy", "base", file), "utf8")) as any[];
  return docs.find((d) => d?.kind === kind && (name === undefined || d.metadata.name === name));
}

describe("resources", () => {
  it("creates namespace, CRDs, RBAC, PVC, ConfigMaps, bootstrapper Pod, Deployments, Services", () => {
    expect(Object.keys(res).sort()).toEqual([
      "kubernetes_config_map_v1",
      "kubernetes_deployment_v1",
      "kubernetes_manifest",
      "kubernetes_namespace_v1",
      "kubernetes_persistent_volume_claim_v1",
      "kubernetes_pod_v1",
      "kubernetes_role_binding_v1",
      "kubernetes_role_v1",
      "kubernetes_service_account_v1",
      "kubernetes_service_v1",
    ]);
    expect(Object.keys(res.kubernetes_deployment_v1).sort()).toEqual(["controller", "haproxy", "server"]);
    expect(Object.keys(res.kubernetes_service_v1).sort()).toEqual(["haproxy_service", "server_service"]);
    expect(Object.keys(res.kubernetes_config_map_v1).sort()).toEqual([
      "bootstrap_scripts",
      "haproxy_config",
      "settings",
    ]);
    expect(Object.keys(res.kubernetes_pod_v1)).toEqual(["bootstrapper"]);
    expect(Object.keys(res.kubernetes_persistent_volume_claim_v1)).toEqual(["bootstrap_pvc"]);
  });

  it("namespace comes from var.namespace and enforces the restricted Pod Security Standard", () => {
    const ns = res.kubernetes_namespace_v1.ns;
    expect(ns.metadata.name).toBe("${var.namespace}");
    expect(ns.metadata.labels["pod-security.kubernetes.io/enforce"]).toBe("restricted");
    const docs = res.kubernetes_namespace_v1.documents_ns;
    expect(docs.metadata.name).toBe("${var.documents_namespace}");
    expect(docs.metadata.labels["pod-security.kubernetes.io/enforce"]).toBe("restricted");
    for (const kind of Object.keys(res)) {
      if (kind === "kubernetes_namespace_v1" || kind === "kubernetes_manifest") continue;
      for (const [id, r] of Object.entries(res[kind])) {
        if (id.endsWith("_documents")) {
          // Only the documents Roles and their bindings live in the documents namespace.
          expect(["kubernetes_role_v1", "kubernetes_role_binding_v1"]).toContain(kind);
          // biome-ignore lint/suspicious/noExplicitAny: untyped JSON
          expect((r as any).metadata.namespace).toBe(ref("kubernetes_namespace_v1", "documents_ns"));
          continue;
        }
        // biome-ignore lint/suspicious/noExplicitAny: untyped JSON
        expect((r as any).metadata.namespace, `${kind}.${id}`).toBe(ref("kubernetes_namespace_v1", "ns"));
      }
    }
  });

  it("installs the CRDs from crds/ (optional via install_crds), with Terraform escapes where needed", () => {
    const m = res.kubernetes_manifest;
    expect(Object.keys(m).sort()).toEqual(["crd_clusterdescs", "crd_machines"]);
    for (const name of ["clusterdescs", "machines"]) {
      const crd = yaml.load(readFileSync(join(repoRoot, "crds", `${name}.ccts.io.yaml`), "utf8"));
      const r = m[`crd_${name}`];
      expect(r.count).toBe("${var.install_crds ? 1 : 0}");
      // Byte-for-byte the CRD of crds/ once Terraform has read its `$${` escapes back.
      const unescaped = JSON.parse(
        JSON.stringify(r.manifest).replaceAll("$${", "${").replaceAll("%%{", "%{"),
      );
      expect(unescaped).toEqual(crd);
    }
  });
});

describe("wiring", () => {
  it("the bootstrapper Pod mounts the PVC and the scripts ConfigMap, and does not wait for Running", () => {
    const pod = res.kubernetes_pod_v1.bootstrapper;
    const pvc = res.kubernetes_persistent_volume_claim_v1.bootstrap_pvc;
    // biome-ignore lint/suspicious/noExplicitAny: untyped JSON
    const vol = (n: string) => pod.spec.volume.find((v: any) => v.name === n);
    expect(vol("state").persistent_volume_claim.claim_name).toBe(
      ref("kubernetes_persistent_volume_claim_v1", "bootstrap_pvc"),
    );
    expect(pvc.metadata.name).toBe("ccts-bootstrapper");
    expect(pvc.spec.resources.requests.storage).toBe("${var.bootstrap_storage_size}");
    expect(pvc.spec.storage_class_name).toBe("${var.storage_class}");
    expect(pvc.wait_until_bound).toBe(false);
    expect(vol("scripts").config_map.name).toBe(ref("kubernetes_config_map_v1", "bootstrap_scripts"));
    const c = pod.spec.container[0];
    expect(c.command).toEqual(["/bin/sh", "/opt/ccts-bootstrap/bootstrap.sh"]);
    // biome-ignore lint/suspicious/noExplicitAny: untyped JSON
    const mount = (n: string) => c.volume_mount.find((m: any) => m.name === n).mount_path;
    expect(mount("state")).toBe("/var/lib/ccts-bootstrap");
    expect(mount("scripts")).toBe("/opt/ccts-bootstrap");
    expect(pod.target_state).toContain("Pending");
    expect(envOf(c).CCTS_LOG_LEVEL).toBe("${var.log_level}");
  });

  it("has a destroy-time local-exec provisioner that execs destroy.sh in the Pod and tolerates failure", () => {
    const prov = res.kubernetes_pod_v1.bootstrapper.provisioner;
    expect(prov).toHaveLength(1);
    const le = prov[0]["local-exec"];
    expect(le.when).toBe("destroy");
    expect(le.on_failure).toBe("continue");
    expect(le.command).toContain(
      '"$${KUBECTL:-kubectl}" exec --namespace "${self.metadata[0].namespace}" "${self.metadata[0].name}" -c bootstrap',
    );
    expect(le.command).toContain("/bin/sh /opt/ccts-bootstrap/destroy.sh");
    // A destroy-time provisioner may refer to self only.
    const refs = [...le.command.matchAll(/(?<!\$)\$\{([^}]*)\}/g)].map((m) => m[1]);
    expect(refs.length).toBeGreaterThan(0);
    for (const r of refs) expect(r).toMatch(/^self\./);
  });

  it("the scripts ConfigMap carries bootstrap.sh and destroy.sh with ${ escaped for Terraform", () => {
    const data = res.kubernetes_config_map_v1.bootstrap_scripts.data;
    expect(Object.keys(data).sort()).toEqual(["bootstrap.sh", "destroy.sh"]);
    // No unescaped interpolation: every ${ in a script is $${ in the JSON.
    expect(data["bootstrap.sh"]).not.toMatch(/(?<!\$)\$\{/);
    expect(data["bootstrap.sh"]).toContain('step "$s" "$s"');
    expect(data["destroy.sh"]).toContain('rm -rf "$STATE/markers"');
  });

  it("HAProxy: Service selector matches the Pod labels; config from var.haproxy_backends", () => {
    const dep = res.kubernetes_deployment_v1.haproxy;
    const svc = res.kubernetes_service_v1.haproxy_service;
    const podLabels = dep.spec.template.metadata.labels;
    for (const [k, v] of Object.entries(svc.spec.selector)) expect(podLabels[k]).toBe(v);
    expect(dep.spec.selector.match_labels).toEqual(svc.spec.selector);
    expect(svc.spec.type).toBe("${var.haproxy_service_type}");
    expect(svc.wait_for_load_balancer).toBe(false);
    expect(svc.spec.port[0]).toMatchObject({ port: 8080, target_port: "http" });
    expect(svc.spec.external_traffic_policy).toBe(
      '${var.haproxy_service_type == "ClusterIP" ? null : var.haproxy_external_traffic_policy}',
    );
    // biome-ignore lint/suspicious/noExplicitAny: untyped JSON
    const cfgVol = dep.spec.template.spec.volume.find((v: any) => v.name === "config");
    expect(cfgVol.config_map.name).toBe(ref("kubernetes_config_map_v1", "haproxy_config"));
    const cfg = res.kubernetes_config_map_v1.haproxy_config.data["haproxy.cfg"];
    expect(cfg).toContain("var.haproxy_backends");
    expect(cfg).toContain("ccts-server.${var.namespace}.svc.cluster.local:80");
    expect(cfg).toContain("bind :8080");
  });

  it("the server Service selects the server Pods", () => {
    const svc = res.kubernetes_service_v1.server_service;
    const labels = res.kubernetes_deployment_v1.server.spec.template.metadata.labels;
    for (const [k, v] of Object.entries(svc.spec.selector)) expect(labels[k]).toBe(v);
    expect(svc.spec.port[0]).toMatchObject({ port: 80, target_port: "http" });
  });

  it("Deployments do not wait for rollouts and take their settings from variables", () => {
    for (const id of ["controller", "server", "haproxy"]) {
      expect(res.kubernetes_deployment_v1[id].wait_for_rollout, id).toBe(false);
    }
    const ctl = res.kubernetes_deployment_v1.controller;
    const srv = res.kubernetes_deployment_v1.server;
    expect(ctl.spec.replicas).toBe("${var.controller_replicas}");
    expect(srv.spec.replicas).toBe("${var.server_replicas}");
    for (const d of [ctl, srv]) {
      const c = d.spec.template.spec.container[0];
      expect(c.image).toBe("${var.image}");
      expect(envOf(c).CCTS_LOG_LEVEL).toBe("${var.log_level}");
      expect(c.env_from[0].config_map_ref.name).toBe(ref("kubernetes_config_map_v1", "settings"));
      expect(d.spec.template.metadata.annotations["ccts.io/settings-sha256"]).toContain("var.extra_env");
    }
    expect(res.kubernetes_config_map_v1.settings.data).toBe("${var.extra_env}");
    const args = ctl.spec.template.spec.container[0].args;
    expect(args).toContain("${var.controller_concurrency}");
    expect(args).toContain("${var.controller_resync}");
    const serverArgs: string[] = srv.spec.template.spec.container[0].args;
    expect(serverArgs).toContain("${var.server_rate_limit}");
    expect(serverArgs.slice(serverArgs.indexOf("--trusted-proxies"))).toEqual([
      "--trusted-proxies",
      '${join(",", var.server_trusted_proxies)}',
    ]);
  });

  it("sizes memory from variables, heap cap half the limit: by default the Node options of deploy/ and the benchmark", async () => {
    const { SERVER_NODE_OPTIONS } = await import("../../bench/lib/procs.ts");
    const container = (id: string) => res.kubernetes_deployment_v1[id].spec.template.spec.container[0];
    for (const [id, variable] of [
      ["controller", "controller_memory_mib"],
      ["server", "server_memory_mib"],
    ] as const) {
      expect(container(id).resources.limits.memory).toBe(`\${var.${variable}}Mi`);
      expect(tf.variable[variable].default).toBe(512);
      expect(envOf(container(id)).NODE_OPTIONS).toContain(
        `--max-old-space-size=\${floor(var.${variable} / 2)}`,
      );
    }
    // With the default 512 MiB: the server's options as deploy/ and the benchmark run it, the
    // controller's as the image's ENV sets them.
    const at512 = (id: string) =>
      envOf(container(id)).NODE_OPTIONS.replace(/\$\{floor\(var\.\w+ \/ 2\)\}/, "256");
    expect(at512("server")).toBe(SERVER_NODE_OPTIONS);
    const image = /ENV .*NODE_OPTIONS="([^"]+)"/.exec(readFileSync(join(repoRoot, "Dockerfile"), "utf8"))![1];
    expect(at512("controller")).toBe(image);
  });

  it("preloads the image's jemalloc in the controller only, as deploy/ does", async () => {
    const { IMAGE_JEMALLOC, CONTROLLER_MALLOC_CONF } = await import("../../bench/lib/procs.ts");
    const container = (id: string) => res.kubernetes_deployment_v1[id].spec.template.spec.container[0];
    expect(envOf(container("controller")).LD_PRELOAD).toBe(IMAGE_JEMALLOC);
    expect(envOf(container("controller")).MALLOC_CONF).toBe(CONTROLLER_MALLOC_CONF);
    expect(envOf(container("server")).LD_PRELOAD).toBeUndefined();
    expect(envOf(container("server")).MALLOC_CONF).toBeUndefined();
  });
});

describe("deploy/ conventions", () => {
  it("same ServiceAccounts, args, ports and security context as deploy/base", () => {
    for (const [id, file] of [
      ["controller", "controller.yaml"],
      ["server", "server.yaml"],
    ] as const) {
      const want = deployContainer(file).spec.template.spec;
      const got = res.kubernetes_deployment_v1[id].spec.template.spec;
      expect(got.service_account_name).toBe(ref("kubernetes_service_account_v1", `${id}_sa`));
      expect(res.kubernetes_service_account_v1[`${id}_sa`].metadata.name).toBe(want.serviceAccountName);
      const wc = want.containers[0];
      const gc = got.container[0];
      // deploy/'s args come first (its fixed documents namespace is the stack's variable); the
      // stack only appends settings.
      expect(gc.args.slice(0, wc.args.length)).toEqual(
        wc.args.map((a: string) =>
          a === "ccts-documents" ? ref("kubernetes_namespace_v1", "documents_ns") : a,
        ),
      );
      expect(gc.port[0].container_port).toBe(wc.ports[0].containerPort);
      expect(gc.port[0].container_port).toBe(id === "server" ? 8080 : 9090);
      const sc = gc.security_context;
      expect(sc).toMatchObject({
        run_as_non_root: true,
        run_as_user: String(wc.securityContext.runAsUser),
        run_as_group: String(wc.securityContext.runAsGroup),
        read_only_root_filesystem: true,
        allow_privilege_escalation: false,
        capabilities: { drop: ["ALL"] },
        seccomp_profile: { type: "RuntimeDefault" },
      });
      expect(got.security_context.run_as_user).toBe(String(want.securityContext.runAsUser));
    }
    // The bootstrapper and HAProxy are hardened the same way (the namespace is "restricted").
    for (const c of [
      res.kubernetes_pod_v1.bootstrapper.spec.container[0],
      res.kubernetes_deployment_v1.haproxy.spec.template.spec.container[0],
    ]) {
      expect(c.security_context).toMatchObject({ run_as_non_root: true, allow_privilege_escalation: false });
    }
  });

  it("Role rules are those of deploy/base/rbac-*.yaml, in both namespaces", () => {
    for (const [id, file, role] of [
      ["controller", "rbac-controller.yaml", "ccts-controller"],
      ["server", "rbac-server.yaml", "ccts-server"],
      ["controller_documents", "rbac-controller.yaml", "ccts-controller-documents"],
      ["server_documents", "rbac-server.yaml", "ccts-server-documents"],
    ] as const) {
      const want = deployContainer(file, "Role", role).rules;
      const got = res.kubernetes_role_v1[`${id.replace(/^(\w+?)(_documents)?$/, "$1_role$2")}`].rule;
      expect(got).toEqual(
        // biome-ignore lint/suspicious/noExplicitAny: untyped YAML
        want.map((r: any) => ({
          api_groups: r.apiGroups ?? [],
          resources: r.resources ?? [],
          ...(r.resourceNames ? { resource_names: r.resourceNames } : {}),
          verbs: r.verbs,
        })),
      );
      const component = id.replace("_documents", "");
      const rb = res.kubernetes_role_binding_v1[id.replace(/^(\w+?)(_documents)?$/, "$1_role_binding$2")];
      expect(rb.subject[0].name).toBe(ref("kubernetes_service_account_v1", `${component}_sa`));
      expect(rb.subject[0].namespace).toBe(ref("kubernetes_namespace_v1", "ns"));
    }
  });
});

describe("backend", () => {
  it("consul: address, path, scheme, lock; no token in the JSON even when CONSUL_HTTP_TOKEN is set", async () => {
    const token = "7f3c1a52-secret-token-never-in-json";
    const r = await synth({
      CCTS_TF_BACKEND: "consul",
      CCTS_CONSUL_ADDRESS: "consul.example:8501",
      CCTS_CONSUL_SCHEME: "https",
      CCTS_CONSUL_PATH: "site-a/ccts",
      CONSUL_HTTP_TOKEN: token,
    });
    expect(r.code).toBe(0);
    expect(r.json!.terraform.backend).toEqual({
      consul: {
        address: "consul.example:8501",
        scheme: "https",
        path: "site-a/ccts",
        lock: true,
        gzip: false,
      },
    });
    expect(readFileSync(join(r.stackDir, "cdk.tf.json"), "utf8")).not.toContain(token);
  });

  it("consul is the default (cdktf.json context) with loopback defaults", () => {
    expect(tf.terraform.backend.consul).toEqual({
      address: "127.0.0.1:8500",
      scheme: "http",
      path: "ccts/terraform/state",
      lock: true,
      gzip: false,
    });
    const cdktfJson = JSON.parse(readFileSync(join(repoRoot, "cdktf", "cdktf.json"), "utf8"));
    expect(cdktfJson.context.backend).toBe("consul");
  });

  it("local when chosen explicitly with CCTS_TF_BACKEND=local", async () => {
    const r = await synth({ CCTS_TF_BACKEND: "local" });
    expect(r.code).toBe(0);
    expect(r.json!.terraform.backend).toEqual({ local: { path: "terraform.ccts.tfstate" } });
  });

  it("rejects an unknown backend", async () => {
    const r = await synth({ CCTS_TF_BACKEND: "s3" });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('CCTS_TF_BACKEND must be "consul" or "local"');
  });

  it("requires hashicorp/kubernetes in a range that covers the 2.38 bindings and 3.x", () => {
    expect(tf.terraform.required_providers.kubernetes).toEqual({
      source: "hashicorp/kubernetes",
      version: ">= 2.38.0, < 4.0.0",
    });
  });
});

describe("variables and outputs", () => {
  it("every input is typed; the provider connection comes from variables", () => {
    for (const [name, v] of Object.entries(tf.variable)) {
      // biome-ignore lint/suspicious/noExplicitAny: untyped JSON
      expect((v as any).type, name).toBeTruthy();
    }
    expect(tf.variable.kube_token.sensitive).toBe(true);
    expect(tf.variable.kube_host).toMatchObject({ default: null, nullable: true });
    expect(tf.provider.kubernetes[0]).toEqual({
      host: "${var.kube_host}",
      token: "${var.kube_token}",
      cluster_ca_certificate: "${var.kube_cluster_ca_certificate}",
      config_path: "${var.kube_config_path}",
      config_context: "${var.kube_config_context}",
    });
  });

  it("has defaults and validation blocks for the settings", () => {
    const v = tf.variable;
    expect(v.namespace.default).toBe("ccts-system");
    expect(v.log_level.default).toBe("info");
    expect(v.controller_replicas.default).toBe(2);
    expect(v.extra_env).toMatchObject({ type: "map(string)", default: {} });
    expect(v.haproxy_backends).toMatchObject({ type: "list(string)", default: [] });
    expect(v.documents_namespace.default).toBe("ccts-documents");
    // Behind HAProxy the server cannot tell machines apart by default: no per-client limit there.
    expect(v.server_rate_limit.default).toBe(0);
    expect(v.server_trusted_proxies).toMatchObject({ type: "list(string)", default: [] });
    expect(v.haproxy_external_traffic_policy.default).toBe("Cluster");
    for (const name of [
      "namespace",
      "documents_namespace",
      "image",
      "log_level",
      "controller_replicas",
      "server_replicas",
      "controller_resync",
      "extra_env",
      "bootstrap_storage_size",
      "haproxy_backends",
      "haproxy_service_type",
      "haproxy_node_port",
      "haproxy_external_traffic_policy",
      "server_trusted_proxies",
    ]) {
      const val = v[name].validation;
      expect(val, name).toHaveLength(1);
      expect(val[0].condition, name).toContain(`var.${name}`);
      expect(val[0].error_message, name).toMatch(/\.$/);
    }
    expect(v.log_level.validation[0].condition).toBe(
      '${contains(["trace","debug","info","warn","error","fatal"], var.log_level)}',
    );
  });

  it("outputs the server URL and the HAProxy endpoints", () => {
    expect(Object.keys(tf.output).sort()).toEqual([
      "bootstrapper_pod",
      "ccts_documents_namespace",
      "ccts_namespace",
      "crds",
      "haproxy_cluster_endpoint",
      "haproxy_http_node_port",
      "haproxy_url",
      "server_url",
    ]);
    expect(tf.output.server_url.value).toBe(
      `http://${ref("kubernetes_service_v1", "server_service")}.${ref("kubernetes_namespace_v1", "ns")}.svc.cluster.local`,
    );
    expect(tf.output.haproxy_url.value).toContain("var.management_address");
  });
});

describe("bootstrap.sh under /bin/sh", () => {
  let server: Server;
  let url = "";
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => res.writeHead(req.url === "/readyz" ? 200 : 404).end("ok"));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const addr = server.address();
    url = `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}`;
  });
  afterAll(() => {
    for (const c of children) c.kill("SIGKILL");
    server.close();
  });

  /** Runs a script from the synthesized ConfigMap; for bootstrap.sh, until it says complete. */
  function run(script: string, state: string): Promise<string> {
    const text = res.kubernetes_config_map_v1.bootstrap_scripts.data[script].replaceAll("$${", "${");
    const file = join(state, `..`, `${script}.${Math.random().toString(36).slice(2)}`);
    writeFileSync(file, text);
    return new Promise((resolve, reject) => {
      const child = spawn("/bin/sh", [file], {
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", CCTS_BOOTSTRAP_STATE: state, CCTS_SERVER_URL: url },
      });
      children.push(child);
      let out = "";
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`timeout; output:\n${out}`));
      }, 30_000);
      const onData = (d: Buffer) => {
        out += d;
        if (out.includes("bootstrap complete")) child.kill("SIGTERM");
      };
      child.stdout.on("data", onData);
      child.stderr.on("data", onData);
      child.on("exit", (code, signal) => {
        clearTimeout(timer);
        if (code === 0 || signal === "SIGTERM") resolve(out);
        else reject(new Error(`exit ${code}; output:\n${out}`));
      });
    });
  }

  it("leaves a marker per step, skips finished steps on a re-run, destroy.sh removes them", async () => {
    const root = mkdtempSync(join(tmpdir(), "ccts-bootstrap-"));
    const state = join(root, "state");
    const first = await run("bootstrap.sh", state);
    for (const s of ["layout", "settings", "wait_server"]) {
      expect(first).toContain(`step ${s}: done`);
      expect(existsSync(join(state, "markers", `${s}.done`))).toBe(true);
    }
    expect(readFileSync(join(state, "settings.env"), "utf8")).toContain(`CCTS_SERVER_URL=${url}`);
    const second = await run("bootstrap.sh", state);
    for (const s of ["layout", "settings", "wait_server"])
      expect(second).toMatch(new RegExp(`step ${s}: done at .*, skipped`));
    expect(second).not.toContain(": running");
    const destroyed = await run("destroy.sh", state);
    expect(destroyed).toContain("markers removed");
    expect(existsSync(join(state, "markers"))).toBe(false);
    expect(existsSync(join(state, "destroyed"))).toBe(true);
    // A run after destroy starts from the first step again.
    const third = await run("bootstrap.sh", state);
    expect(third).toContain("step layout: running");
  }, 60_000);
});
