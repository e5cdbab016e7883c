// deploy/ against the real test API server (test/control-plane/): the base and the example
// overlay pass a server-side dry run, the pods would be admitted under the "restricted" Pod
// Security Standard, each ServiceAccount can do exactly what src/k8s/permissions.ts says (and none
// of a list of things it must not), and — the proof that the RBAC is enough — the controller and
// the server, running with tokens of the deploy/ ServiceAccounts, do their whole job: every example
// Machine rendered, its ConfigMap written, events and the leader lease written, and the server
// serving every document, with no 403 anywhere.
//
// This file owns the namespace ccts-system of the shared control plane (the name is fixed by
// deploy/). It never deletes the CRDs: other files running in parallel use them.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import yaml from "js-yaml";
import { pino } from "pino";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { parseMac } from "../../src/api/mac.js";
import type { Machine } from "../../src/api/types.js";
import { DiskCache } from "../../src/cache/disk-cache.js";
import { DocumentIndex } from "../../src/cache/document-index.js";
import type { SecretObject } from "../../src/controller/certificates.js";
import type { ConfigMapObject } from "../../src/controller/rendered-configmap.js";
import { KubeClient, loadKubeConfig } from "../../src/k8s/client.js";
import { ControllerRuntime } from "../../src/k8s/controller-runtime.js";
import { LeaderElector } from "../../src/k8s/leader.js";
import { CONTROLLER_LEASE_NAME, PERMISSIONS, type Permission } from "../../src/k8s/permissions.js";
import { ServedConfigMaps } from "../../src/k8s/served-configmaps.js";
import { buildApp } from "../../src/server/app.js";
import { MemoryLookup } from "../../src/server/memory-lookup.js";
import { runKubectl } from "../control-plane/harness.js";
import { create, exampleObjects, get, listEvents, remove } from "../support/kube.js";
import { waitFor } from "../support/wait.js";
import { BASE_DIR, DEPLOY_DIR, OVERLAY_DIR, REPO_ROOT } from "./manifests.js";

const NS = "ccts-system";
/** deploy/'s --documents-namespace: the only namespace the server may read Secrets in. */
const DOCS_NS = "ccts-documents";
const kubeconfig = inject("kubeconfig");
const kubectlBin = inject("kubectl");
const kubectl = (args: string[], input?: string) =>
  runKubectl(kubectlBin, kubeconfig, args, { input, timeoutMs: 90_000 });

async function ok(args: string[], input?: string): Promise<string> {
  const r = await kubectl(args, input);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")} failed (${r.code}):\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

let workDir: string;
let admin: KubeClient;

beforeAll(async () => {
  // Applying stale CRD copies would change the schema under the test files running in parallel.
  const stale = readdirSync(join(REPO_ROOT, "crds")).filter(
    (f) =>
      f.endsWith(".yaml") &&
      readFileSync(join(REPO_ROOT, "crds", f), "utf8") !== readFileSync(join(BASE_DIR, "crds", f), "utf8"),
  );
  if (stale.length > 0)
    throw new Error(`deploy/base/crds/ is stale (${stale.join(", ")}): cp crds/*.yaml deploy/base/crds/`);
  workDir = mkdtempSync(join(tmpdir(), "ccts-deploy-"));
  admin = await KubeClient.create(loadKubeConfig(kubeconfig));
  // A reused control plane (KUBECONFIG_CCTS_TEST) may still be deleting the last run's namespaces.
  for (const ns of [NS, DOCS_NS]) {
    await waitFor(
      `namespace ${ns} from an earlier run to be gone`,
      async () =>
        (await kubectl(["get", "namespace", ns, "-o", "jsonpath={.status.phase}"])).stdout !== "Terminating",
      90_000,
      500,
    );
  }
  // A server-side dry run of a namespaced object needs its namespace to exist for real; everything
  // else is first applied as a dry run below.
  await ok(["apply", "-f", join(DEPLOY_DIR, "base", "namespace.yaml")]);
}, 120_000);

afterAll(async () => {
  admin?.close();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
  // Only the namespace: the CRDs stay for the other test files.
  await kubectl(["delete", "namespace", NS, DOCS_NS, "--wait=false", "--ignore-not-found"]);
});

describe("kubectl apply -k", () => {
  it("passes a server-side dry run of the base and of the example overlay, with no Pod Security warning", async () => {
    for (const dir of [DEPLOY_DIR, OVERLAY_DIR]) {
      const r = await kubectl(["apply", "--dry-run=server", "-k", dir]);
      // The test control plane created the CRDs by server-side apply; kubectl notes it would add its
      // last-applied annotation. Any other warning (e.g. "would violate PodSecurity") fails.
      const warnings = r.stderr
        .split("\n")
        .filter(
          (l) =>
            l && !/is missing the kubectl\.kubernetes\.io\/last-applied-configuration annotation/.test(l),
        );
      expect(warnings, dir).toEqual([]);
      expect(r.code, `${dir}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(
        /deployment\.apps\/ccts-controller (created|configured|unchanged) \(server dry run\)/,
      );
    }
  }, 60_000);

  it("installs the base for real, and then shows no drift (kubectl diff)", async () => {
    await ok(["apply", "-k", DEPLOY_DIR]);
    // Not a second apply's output: kubectl reports PodDisruptionBudgets "configured" every time
    // (their selector is patched with strategy "replace"), though nothing changes.
    const diff = await kubectl(["diff", "-k", DEPLOY_DIR]);
    expect(diff.code, diff.stdout + diff.stderr).toBe(0);
  }, 60_000);

  it("builds pods that the restricted Pod Security Standard admits", async () => {
    const built = yaml.loadAll(await ok(["kustomize", DEPLOY_DIR])) as {
      kind: string;
      metadata: { name: string };
      spec: { template: { spec: unknown } };
    }[];
    const deployments = built.filter((o) => o.kind === "Deployment");
    expect(deployments).toHaveLength(2);
    for (const d of deployments) {
      // The namespace enforces "restricted"; a dry-run create of the pod is admitted or rejected as
      // the ReplicaSet's pod would be.
      const pod = {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: `${d.metadata.name}-psa`, namespace: NS },
        spec: d.spec.template.spec,
      };
      const r = await kubectl(["create", "--dry-run=server", "-f", "-"], JSON.stringify(pod));
      expect(r.code, `${d.metadata.name}: ${r.stderr}`).toBe(0);
      expect(r.stderr).not.toMatch(/PodSecurity/);
    }
    // The check is real: the same pod with the hardening removed is rejected.
    const weak = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "weak-psa", namespace: NS },
      spec: { containers: [{ name: "c", image: "ccts:dev" }] },
    };
    const rejected = await kubectl(["create", "--dry-run=server", "-f", "-"], JSON.stringify(weak));
    expect(rejected.code).not.toBe(0);
    expect(rejected.stderr).toMatch(/violates PodSecurity "restricted/);
  }, 60_000);
});

/** kubectl auth can-i arguments for one verb of a Permission. */
function canIArgs(p: Permission, verb: string): string[] {
  const [resource, subresource] = p.resource.split("/");
  const type = p.apiGroup ? `${resource}.${p.apiGroup}` : resource!;
  const target = p.resourceNames?.length ? `${type}/${p.resourceNames[0]}` : type;
  return [verb, target, ...(subresource ? [`--subresource=${subresource}`] : [])];
}

/** The namespace a Permission is granted in. */
function namespaceOf(p: Permission): string {
  return p.scope === "documents" ? DOCS_NS : NS;
}

async function canI(account: string, args: string[], namespace = NS): Promise<boolean> {
  const r = await kubectl([
    "auth",
    "can-i",
    ...args,
    `--as=system:serviceaccount:${NS}:${account}`,
    ...(namespace === "*" ? ["-A"] : ["-n", namespace]),
  ]);
  if (r.stdout.trim() === "yes") return true;
  if (r.stdout.trim() === "no") return false;
  throw new Error(`kubectl auth can-i ${args.join(" ")}: ${r.stderr}`);
}

/** Runs the checks a few at a time (two cores) and returns the ones whose answer was not `want`. */
async function wrongAnswers(
  account: string,
  checks: { args: string[]; ns?: string }[],
  want: boolean,
): Promise<string[]> {
  const wrong: string[] = [];
  for (let i = 0; i < checks.length; i += 6) {
    await Promise.all(
      checks.slice(i, i + 6).map(async (c) => {
        if ((await canI(account, c.args, c.ns)) !== want) wrong.push(`${c.args.join(" ")} -n ${c.ns ?? NS}`);
      }),
    );
  }
  return wrong.sort();
}

// Things no ccts identity may do (in ccts-system unless said otherwise).
const FORBIDDEN_FOR_ALL: { args: string[]; ns?: string }[] = [
  { args: ["get", "secrets"], ns: "default" },
  { args: ["create", "secrets"], ns: "default" },
  { args: ["delete", "secrets"] },
  { args: ["list", "secrets"], ns: "*" },
  { args: ["delete", "customresourcedefinitions.apiextensions.k8s.io"] },
  { args: ["update", "customresourcedefinitions.apiextensions.k8s.io"] },
  { args: ["create", "customresourcedefinitions.apiextensions.k8s.io"] },
  { args: ["update", "machines.ccts.io"] },
  { args: ["patch", "machines.ccts.io"] },
  { args: ["create", "machines.ccts.io"] },
  { args: ["delete", "machines.ccts.io"] },
  { args: ["deletecollection", "machines.ccts.io"] },
  { args: ["update", "clusterdescs.ccts.io"] },
  { args: ["patch", "clusterdescs.ccts.io"] },
  { args: ["delete", "clusterdescs.ccts.io"] },
  { args: ["update", "machines.ccts.io", "--subresource=status"] },
  { args: ["update", "clusterdescs.ccts.io", "--subresource=status"] },
  { args: ["get", "configmaps"], ns: "default" },
  { args: ["list", "configmaps"], ns: "default" },
  { args: ["list", "configmaps"], ns: "*" },
  { args: ["patch", "configmaps"], ns: "default" },
  { args: ["get", "machines.ccts.io"], ns: "default" },
  { args: ["update", "configmaps"] },
  { args: ["delete", "configmaps"] },
  { args: ["deletecollection", "configmaps"] },
  { args: ["create", "pods"] },
  { args: ["create", "pods", "--subresource=exec"] },
  { args: ["get", "pods"] },
  { args: ["create", "serviceaccounts", "--subresource=token"] },
  { args: ["create", "roles.rbac.authorization.k8s.io"] },
  { args: ["create", "rolebindings.rbac.authorization.k8s.io"] },
  { args: ["update", "deployments.apps"] },
  { args: ["create", "events"], ns: "default" },
  { args: ["create", "events.events.k8s.io"] },
  { args: ["delete", "leases.coordination.k8s.io/ccts-controller"] },
  { args: ["update", "leases.coordination.k8s.io/some-other-lease"] },
  { args: ["get", "leases.coordination.k8s.io/some-other-lease"] },
  { args: ["create", "leases.coordination.k8s.io"], ns: "kube-system" },
  { args: ["update", "nodes"] },
  { args: ["impersonate", "users"] },
];

// The server only reads: every write the controller may do is forbidden to it.
const FORBIDDEN_FOR_SERVER = [
  ...PERMISSIONS["ccts-controller"].flatMap((p) =>
    p.verbs
      .filter((v) => !["get", "list", "watch"].includes(v))
      .map((v) => ({ args: canIArgs(p, v), ns: namespaceOf(p) })),
  ),
  // Not the CA keys, the Machines' certificate keys or any other Secret beside the components.
  { args: ["get", "secrets"] },
  { args: ["list", "secrets"] },
  { args: ["watch", "secrets"] },
  { args: ["get", "machines.ccts.io"] },
  { args: ["list", "machines.ccts.io"] },
  { args: ["list", "clusterdescs.ccts.io"] },
  { args: ["get", `leases.coordination.k8s.io/${CONTROLLER_LEASE_NAME}`] },
];

describe("RBAC of the deploy/ ServiceAccounts (kubectl auth can-i --as)", () => {
  for (const [account, perms] of Object.entries(PERMISSIONS)) {
    it(`${account} may do everything src/k8s/permissions.ts lists`, async () => {
      const checks = perms.flatMap((p) => p.verbs.map((v) => ({ args: canIArgs(p, v), ns: namespaceOf(p) })));
      expect(await wrongAnswers(account, checks, true)).toEqual([]);
    }, 90_000);

    it(`${account} may not do what it must not`, async () => {
      const checks =
        account === "ccts-server" ? [...FORBIDDEN_FOR_ALL, ...FORBIDDEN_FOR_SERVER] : FORBIDDEN_FOR_ALL;
      expect(await wrongAnswers(account, checks, false)).toEqual([]);
    }, 120_000);
  }
});

/** A kubeconfig for a ServiceAccount token from the TokenRequest API: same server and CA as admin. */
async function serviceAccountKubeconfig(account: string): Promise<string> {
  const token = (await ok(["create", "token", account, "-n", NS, "--duration=1h"])).trim();
  const adminConfig = yaml.load(readFileSync(kubeconfig, "utf8")) as {
    clusters: { name: string; cluster: Record<string, string> }[];
  };
  const cluster = adminConfig.clusters[0]!;
  const file = join(workDir, `${account}.kubeconfig`);
  const config = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: cluster.name, cluster: cluster.cluster }],
    users: [{ name: account, user: { token } }],
    contexts: [{ name: account, context: { cluster: cluster.name, user: account, namespace: NS } }],
    "current-context": account,
  };
  writeFileSync(file, JSON.stringify(config, null, 2), { mode: 0o600 });
  return file;
}

/** A pino logger that keeps every line, to assert no request was forbidden. */
function recordingLogger(lines: string[]) {
  return pino({ level: "debug" }, { write: (line: string) => lines.push(line) });
}

async function whoAmI(client: KubeClient): Promise<string> {
  const review = await client.request<{ status: { userInfo: { username: string } } }>(
    "POST",
    "/apis/authentication.k8s.io/v1/selfsubjectreviews",
    { body: { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" } },
  );
  return review.status.userInfo.username;
}

describe("the controller and the server with the deploy/ identities", () => {
  const lines: string[] = [];
  let controllerClient: KubeClient;
  let serverClient: KubeClient;
  let runtime: ControllerRuntime;
  let elector: LeaderElector;
  let served: ServedConfigMaps;
  let lookup: MemoryLookup;
  let index: DocumentIndex;
  const example = exampleObjects(NS);
  // A document with the Machine's private key, so the documents Secrets are written and served
  // through the deploy/ RBAC too.
  example.cluster.spec.templates = [
    { output: "cloud-config", inline: "#cloud-config\nhostname: {{machine.hostname}}\n" },
    { output: "node.key", inline: "{{tls.key}}" },
  ];
  // One Machine that cannot render, so the controller also writes an event (failures only).
  const orphan: Machine = {
    apiVersion: "ccts.io/v1alpha1",
    kind: "Machine",
    metadata: { name: "orphan", namespace: NS },
    spec: { clusterDesc: "no-such-cluster", mac: "52:54:00:12:99:99", roles: ["worker"] },
  } as Machine;

  beforeAll(async () => {
    // RBAC from the real apply above; a standalone run of this block applies it too.
    await ok(["apply", "-k", DEPLOY_DIR]);
    const logger = recordingLogger(lines);
    controllerClient = await KubeClient.create(
      loadKubeConfig(await serviceAccountKubeconfig("ccts-controller")),
    );
    serverClient = await KubeClient.create(loadKubeConfig(await serviceAccountKubeconfig("ccts-server")));

    lookup = new MemoryLookup();
    index = new DocumentIndex(lookup);
    const cache = new DiskCache(join(workDir, "cache"), (op, key, err) =>
      logger.error({ op, key, err: String(err) }, "disk cache"),
    );
    served = new ServedConfigMaps(serverClient, index, cache, logger.child({ component: "server" }), {
      namespace: NS,
      documentsNamespace: DOCS_NS,
    });
    await served.start();

    runtime = new ControllerRuntime({
      client: controllerClient,
      namespace: NS,
      documentsNamespace: DOCS_NS,
      logger: logger.child({ component: "controller" }),
      metrics: new Registry(),
    });
    await runtime.startInformers();
    elector = new LeaderElector({
      client: controllerClient,
      namespace: NS,
      name: CONTROLLER_LEASE_NAME,
      identity: "deploy-test",
      logger,
    });
    elector.run(
      () => runtime.startReconciling(),
      () => lines.push('{"msg":"lost leadership"}'),
    );

    await create(admin, example.cluster);
    for (const m of [...example.machines, orphan]) await create(admin, m);
  }, 120_000);

  let stopped = false;
  async function stopController(): Promise<void> {
    if (stopped) return;
    stopped = true;
    await runtime?.stop();
    await elector?.release();
  }

  afterAll(async () => {
    await stopController();
    await served?.stop();
    controllerClient?.close();
    serverClient?.close();
  });

  it("talks to the API server as the ServiceAccounts, not as admin", async () => {
    expect(await whoAmI(controllerClient)).toBe(`system:serviceaccount:${NS}:ccts-controller`);
    expect(await whoAmI(serverClient)).toBe(`system:serviceaccount:${NS}:ccts-server`);
  });

  it("controller: wins the lease, renders every Machine into its ConfigMap, writes status and events", async () => {
    await waitFor("the controller to lead", () => elector.isLeader, 20_000);
    for (const m of example.machines) {
      const done = await waitFor(
        `${m.metadata.name} to be Rendered`,
        async () => {
          const got = await get<Machine>(admin, "Machine", NS, m.metadata.name);
          const c = got?.status?.conditions?.find((x) => x.type === "Rendered");
          return c?.status === "True" && got?.status?.observedGeneration === got?.metadata.generation
            ? got
            : undefined;
        },
        30_000,
      );
      const cm = await get<ConfigMapObject>(admin, "ConfigMap", NS, done.status!.configMap!);
      expect(cm?.data?.["cloud-config"]).toMatch(/^#cloud-config/);
    }
    await waitFor("orphan to report ClusterDescNotFound", async () => {
      const got = await get<Machine>(admin, "Machine", NS, "orphan");
      return got?.status?.conditions?.find((x) => x.type === "Rendered")?.reason === "ClusterDescNotFound";
    });
    const events = await waitFor("the Warning event on orphan", async () => {
      const all = await listEvents(admin, NS);
      const mine = all.filter(
        (e) => e.involvedObject.name === "orphan" && e.reason === "ClusterDescNotFound",
      );
      return mine.length > 0 ? mine : undefined;
    });
    expect(events[0]!.type).toBe("Warning");
    const lease = await ok([
      "get",
      "lease",
      CONTROLLER_LEASE_NAME,
      "-n",
      NS,
      "-o",
      "jsonpath={.spec.holderIdentity}",
    ]);
    expect(lease).toBe("deploy-test");
  }, 60_000);

  it("server: learns every rendered document from the ConfigMap watch and serves it by MAC", async () => {
    const app = buildApp({ lookup });
    try {
      for (const m of example.machines) {
        const mac = parseMac(m.spec.mac);
        await waitFor(
          `the server to know ${m.metadata.name}`,
          () => lookup.machine(mac) !== undefined,
          30_000,
        );
        const res = await app.inject({ method: "GET", url: `/cloud-config/${mac}` });
        expect(res.statusCode, m.metadata.name).toBe(200);
        expect(res.body).toMatch(/^#cloud-config/);
        expect(res.body).toContain(m.spec.hostname);
        const key = await waitFor(`${m.metadata.name}'s node.key to be served`, async () => {
          const r = await app.inject({ method: "GET", url: `/machines/${mac}/node.key` });
          return r.statusCode === 200 ? r.body : undefined;
        });
        expect(key).toMatch(/^-----BEGIN PRIVATE KEY-----/);
      }
      expect(index.size).toBe(example.machines.length);
      expect(served.synced).toBe(true);
    } finally {
      await app.close();
    }
  }, 60_000);

  it("keeps key-bearing documents only in ccts-documents, and deletes them with their Machine", async () => {
    const secretOf = (m: Machine) =>
      get<SecretObject>(admin, "Secret", DOCS_NS, `ccts-machine-${NS}.${m.metadata.name}-documents`);
    for (const m of example.machines) {
      const s = await waitFor(`${m.metadata.name}'s documents Secret`, () => secretOf(m));
      expect(Object.keys(s.data ?? {})).toEqual(["node.key"]);
      expect(s.metadata.ownerReferences ?? []).toEqual([]);
      const status = (await get<Machine>(admin, "Machine", NS, m.metadata.name))?.status;
      expect(status?.secret).toBe(`${DOCS_NS}/${s.metadata.name}`);
    }
    for (const ns of [NS, DOCS_NS]) {
      const all = await admin.request<{ items: ConfigMapObject[] }>(
        "GET",
        `/api/v1/namespaces/${ns}/configmaps`,
      );
      for (const c of all.items)
        expect(JSON.stringify(c.data ?? {}), c.metadata.name).not.toMatch(/PRIVATE KEY/);
    }
    const gone = example.machines.at(-1)!;
    await remove(admin, "Machine", NS, gone.metadata.name);
    await waitFor(
      `${gone.metadata.name}'s documents Secret to be deleted`,
      async () => !(await secretOf(gone)),
      30_000,
    );
    await waitFor(
      `the server to forget ${gone.metadata.name}'s node.key`,
      () => lookup.machine(parseMac(gone.spec.mac)) === undefined,
      30_000,
    );
  }, 60_000);

  it("releases the lease on shutdown (update of its own lease)", async () => {
    await stopController();
    const holder = await ok([
      "get",
      "lease",
      CONTROLLER_LEASE_NAME,
      "-n",
      NS,
      "-o",
      "jsonpath={.spec.holderIdentity}",
    ]);
    expect(holder).toBe("");
  });

  it("deletes the documents Secret of a Machine deleted while no controller ran, at the next start", async () => {
    const gone = example.machines[0]!;
    const name = `ccts-machine-${NS}.${gone.metadata.name}-documents`;
    expect(await get<SecretObject>(admin, "Secret", DOCS_NS, name)).toBeDefined();
    await remove(admin, "Machine", NS, gone.metadata.name);
    await waitFor(
      `${gone.metadata.name} to be gone`,
      async () => !(await get(admin, "Machine", NS, gone.metadata.name)),
    );
    const restarted = new ControllerRuntime({
      client: controllerClient,
      namespace: NS,
      documentsNamespace: DOCS_NS,
      logger: recordingLogger(lines).child({ component: "controller" }),
      metrics: new Registry(),
    });
    await restarted.startInformers();
    restarted.startReconciling();
    try {
      await waitFor(
        `${name} to be deleted`,
        async () => !(await get(admin, "Secret", DOCS_NS, name)),
        30_000,
      );
    } finally {
      await restarted.stop();
    }
  }, 60_000);

  it("was never forbidden", () => {
    const denied = lines.filter((l) => /\b403\b|forbidden/i.test(l));
    // The first few are enough to see which permission is missing.
    expect(denied.slice(0, 3), `${denied.length} log lines report a 403`).toEqual([]);
    // The run did log (the recorder works): the leader line at least.
    expect(lines.some((l) => l.includes("became leader"))).toBe(true);
  });
});
