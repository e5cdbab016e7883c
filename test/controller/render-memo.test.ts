// The render memo: a reconcile that finds every input of a Machine's last good render unchanged
// renders and writes nothing; a change of any one input, or a renewal falling due, renders again.
// reconcileMachine runs on an in-memory ClusterState here (the informer caches' read port) so each
// input can be changed alone; the controller test runs the same memo on the real API server.
import { describe, expect, it } from "vitest";
import { machineMacs, objectKey } from "../../src/api/machine.js";
import type { ClusterDesc, Machine } from "../../src/api/types.js";
import { ClusterPKI, type SecretObject } from "../../src/controller/certificates.js";
import { type ClusterState, type ClusterWrites, reconcileMachine } from "../../src/controller/reconcile.js";
import { type RenderCause, RenderMemo, renderInputs } from "../../src/controller/render-memo.js";
import type { ConfigMapObject } from "../../src/controller/rendered-configmap.js";
import { WriteMemory } from "../../src/controller/write-memory.js";
import { exampleObjects } from "../support/kube.js";

const NS = "memo";

/** The informers' view: objects by `namespace/name`, and one member list until it is replaced. */
class MemoryState implements ClusterState {
  machines = new Map<string, Machine>();
  clusters = new Map<string, ClusterDesc>();
  configMaps = new Map<string, ConfigMapObject>();
  secrets = new Map<string, SecretObject>();
  memberList: Machine[] = [];
  extraClaimants = new Map<string, string[]>();
  machine = (ns: string, name: string) => this.machines.get(`${ns}/${name}`);
  cluster = (ns: string, name: string) => this.clusters.get(`${ns}/${name}`);
  configMap = (ns: string, name: string) => this.configMaps.get(`${ns}/${name}`);
  secret = (ns: string, name: string) => this.secrets.get(`${ns}/${name}`);
  members = () => this.memberList;
  claimants = (mac: string) =>
    [
      ...[...this.machines.values()].filter((m) => machineMacs(m).includes(mac)).map(objectKey),
      ...(this.extraClaimants.get(mac) ?? []),
    ].sort();
}

/**
 * An informer replaces an object, never changes it in place (the render core caches cluster facts
 * by object identity): the ClusterDesc edited as a new object at a new version.
 */
function editCluster(state: MemoryState, edit: (c: ClusterDesc) => void): ClusterDesc {
  const [key, cluster] = [...state.clusters.entries()][0]!;
  const next = structuredClone(cluster);
  edit(next);
  next.metadata.resourceVersion = nextVersion();
  state.clusters.set(key, next);
  return next;
}

let version = 100;
const nextVersion = () => String(++version);

function setup(options: { pki?: boolean } = {}) {
  const state = new MemoryState();
  const { cluster, machines } = exampleObjects(NS);
  cluster.metadata.resourceVersion = nextVersion();
  state.clusters.set(`${NS}/${cluster.metadata.name}`, cluster);
  for (const m of machines) {
    m.metadata.resourceVersion = nextVersion();
    m.metadata.generation = 1;
    state.machines.set(objectKey(m), m);
  }
  state.memberList = [...machines].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  const applied: ConfigMapObject[] = [];
  let appliedVersion = "";
  const writes: ClusterWrites = {
    // The API server's answer: the new resourceVersion; the informer learns it later (store()).
    applyConfigMap: async (cm) => {
      applied.push(cm);
      appliedVersion = nextVersion();
      return appliedVersion;
    },
    // The API server's answer, and the informer at once: a new version of the Machine, same spec
    // (or, with raceSpecChange, a spec change that landed between our read and our write).
    patchMachineStatus: async (m, status) => {
      const next = { ...m, metadata: { ...m.metadata, resourceVersion: nextVersion() }, status };
      if (raceSpecChange) next.metadata.generation = (m.metadata.generation ?? 0) + 1;
      if (statusLags) lagging.push(next);
      else state.machines.set(objectKey(m), next);
      statusWrites++;
      return next.metadata;
    },
    applySecret: (secret) => writeSecret(secret),
    deleteSecret: async () => {},
    event: async () => {},
  };
  // Secrets the controller writes (certificates, documents) reach the informer at storeSecrets().
  const secretsWritten: SecretObject[] = [];
  const writeSecret = async (secret: SecretObject) => {
    const version = nextVersion();
    secretsWritten.push({ ...secret, metadata: { ...secret.metadata, resourceVersion: version } });
    return version;
  };
  const secretKey = (s: SecretObject) => `${s.metadata.namespace}/${s.metadata.name}`;
  const pki = options.pki
    ? new ClusterPKI({
        cached: (ns, name) => state.secrets.get(`${ns}/${name}`),
        get: async (ns, name) => state.secrets.get(`${ns}/${name}`),
        // The cluster's CA: created once, seen by the informer at once.
        create: async (secret) => {
          state.secrets.set(secretKey(secret), {
            ...secret,
            metadata: { ...secret.metadata, resourceVersion: nextVersion() },
          });
          return "created";
        },
        apply: writeSecret,
      })
    : undefined;
  let renders = 0;
  let statusWrites = 0;
  let raceSpecChange = false;
  let statusLags = false;
  const lagging: Machine[] = [];
  let now = new Date("2026-12-02T12:00:00Z");
  const memo = new RenderMemo();
  const deps = {
    state,
    // The controller's own write memory in front, as in ControllerRuntime.
    writes: new WriteMemory(writes),
    now: () => now,
    memo,
    pki,
    onRender: () => {
      renders++;
    },
  };
  const name = machines[0]!.metadata.name;
  return {
    state,
    memo,
    /** The Machine as the informer holds it now. */
    get machine() {
      return state.machine(NS, name)!;
    },
    applied,
    renders: () => renders,
    statusWrites: () => statusWrites,
    raceSpecChange: () => {
      raceSpecChange = true;
    },
    /** Status writes reach the informer only at catchUp(). */
    statusLags: () => {
      statusLags = true;
    },
    catchUp: () => {
      for (const m of lagging.splice(0)) state.machines.set(objectKey(m), m);
    },
    setNow: (d: Date) => {
      now = d;
    },
    reconcile: () => reconcileMachine(deps, NS, name),
    pki,
    /** The informer catches up with the Secrets written, at the versions the writes answered. */
    storeSecrets: () => {
      for (const secret of secretsWritten.splice(0)) state.secrets.set(secretKey(secret), secret);
    },
    /** The informer catches up with the last ConfigMap written, at the version the write answered. */
    store: () => {
      const cm = applied.at(-1)!;
      state.configMaps.set(`${NS}/${cm.metadata.name}`, {
        ...cm,
        metadata: { ...cm.metadata, resourceVersion: appliedVersion },
      });
    },
  };
}

/** A rendered Machine whose ConfigMap the informer has seen at the version its write answered. */
async function rendered() {
  const t = setup();
  const first = await t.reconcile();
  expect(first).toMatchObject({ reason: "Rendered", wroteConfigMap: true });
  t.store();
  return t;
}

describe("render memo", () => {
  it("renders nothing when every input is as at the last good render", async () => {
    const t = await rendered();
    expect(t.renders()).toBe(1);
    // The first render wrote the Machine's status: a new version of the Machine, known as ours.
    expect(t.statusWrites()).toBe(1);
    const again = await t.reconcile();
    expect(again).toMatchObject({ reason: "Rendered", wroteConfigMap: false, unchanged: true });
    expect(t.renders()).toBe(1);
    expect(t.applied).toHaveLength(1);
  });

  const changes: [string, (t: Awaited<ReturnType<typeof rendered>>) => void, RenderCause][] = [
    [
      "the Machine",
      (t) => {
        const m = t.machine;
        t.state.machines.set(objectKey(m), {
          ...m,
          metadata: { ...m.metadata, resourceVersion: nextVersion(), generation: 2 },
        });
      },
      "machine",
    ],
    ["its ClusterDesc", (t) => editCluster(t.state, () => {}), "inputs"],
    [
      "the etcd and master facts of its member list (a master renamed)",
      (t) => {
        t.state.memberList = t.state.memberList.map((m) =>
          m.metadata.name === "master-2" ? { ...m, spec: { ...m.spec, hostname: "master-2b" } } : m,
        );
      },
      "members",
    ],
    [
      "who claims its MAC",
      (t) => void t.state.extraClaimants.set(machineMacs(t.machine)[0]!, ["other/m"]),
      "inputs",
    ],
    [
      "its rendered ConfigMap (someone else's write)",
      (t) => {
        const [key, cm] = [...t.state.configMaps.entries()][0]!;
        t.state.configMaps.set(key, { ...cm, metadata: { ...cm.metadata, resourceVersion: nextVersion() } });
      },
      "configmap",
    ],
    ["its rendered ConfigMap (deleted)", (t) => t.state.configMaps.clear(), "configmap"],
    [
      "its documents Secret",
      (t) =>
        void t.state.secrets.set(`${NS}/ccts-machine-${t.machine.metadata.name}-documents`, {
          apiVersion: "v1",
          kind: "Secret",
          metadata: {
            name: `ccts-machine-${t.machine.metadata.name}-documents`,
            namespace: NS,
            resourceVersion: "7",
          },
        } as SecretObject),
      "documents",
    ],
  ];
  it.each(changes)("renders again when %s changed, and says so", async (_what, change, cause) => {
    const t = await rendered();
    change(t);
    const again = await t.reconcile();
    expect(again?.unchanged).toBeUndefined();
    expect(again?.renderCause).toBe(cause);
    expect(t.renders()).toBe(2);
  });

  it("renders nothing for a worker applied when no template names machines, as its documents would be the same", async () => {
    const t = await rendered();
    const worker = structuredClone(t.state.memberList.find((m) => m.metadata.name === "worker-2")!);
    worker.metadata.name = "worker-3";
    worker.spec.hostname = "worker-3";
    worker.spec.mac = "52:54:00:12:34:99";
    worker.metadata.resourceVersion = nextVersion();
    t.state.machines.set(objectKey(worker), worker);
    t.state.memberList = [...t.state.memberList, worker];
    expect(await t.reconcile()).toMatchObject({ unchanged: true });
    expect(t.renders()).toBe(1);
    // What the memo spared: a render with the new list writes the same documents.
    t.memo.forget(objectKey(t.machine));
    expect(await t.reconcile()).toMatchObject({ reason: "Rendered", wroteConfigMap: false });
    expect(t.renders()).toBe(2);
  });

  it("renders again for any new member list when a template names machines", async () => {
    const t = setup();
    editCluster(t.state, (c) => {
      c.spec.templates = [{ output: "hosts", inline: "{{#each machines}}{{ip}} {{hostname}}\n{{/each}}" }];
    });
    await t.reconcile();
    t.store();
    expect(await t.reconcile()).toMatchObject({ unchanged: true });
    t.state.memberList = [...t.state.memberList];
    expect((await t.reconcile())?.unchanged).toBeUndefined();
    expect(t.renders()).toBe(2);
  });

  it("with certificates: renders nothing once the cache has the certificate and documents Secrets it wrote", async () => {
    const t = setup({ pki: true });
    editCluster(t.state, (c) => {
      c.spec.templates = [
        { output: "cloud-config", inline: "#cloud-config\nhostname: {{machine.hostname}}\n" },
        // A document with the private key goes to the documents Secret.
        { output: "tls.key", inline: "{{tls.key}}" },
      ];
    });
    // The cluster's CA first: the Machines that read before it existed render once more (a handful
    // per cluster, once), as it is an input they read.
    await t.pki!.clusterCA(t.state.clusters.values().next().value!, new Date());
    expect(await t.reconcile()).toMatchObject({ reason: "Rendered", wroteConfigMap: true });
    t.store();
    t.storeSecrets();
    const certificate = `${NS}/ccts-machine-${t.machine.metadata.name}-tls`;
    const documents = `${NS}/ccts-machine-${t.machine.metadata.name}-documents`;
    expect([...t.state.secrets.keys()]).toEqual(expect.arrayContaining([certificate, documents]));
    expect(await t.reconcile()).toMatchObject({ unchanged: true });
    expect(t.renders()).toBe(1);

    // Deleted by someone: rendered again (the runtime tells the PKI to forget it, as here).
    t.state.secrets.delete(certificate);
    t.pki!.forgetMachine(objectKey(t.machine));
    expect(await t.reconcile()).toMatchObject({ reason: "Rendered", renderCause: "certificate" });
    t.storeSecrets();
    expect(await t.reconcile()).toMatchObject({ unchanged: true });
    t.state.secrets.delete(documents);
    expect(await t.reconcile()).toMatchObject({ reason: "Rendered", renderCause: "documents" });
    expect(t.renders()).toBe(3);
  });

  it("renders again when a template ConfigMap changed", async () => {
    const t = setup();
    editCluster(t.state, (c) => {
      c.spec.templates = [{ output: "cloud-config", configMapKeyRef: { name: "tpl", key: "cc" } }];
    });
    t.state.configMaps.set(`${NS}/tpl`, {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "tpl", namespace: NS, resourceVersion: nextVersion() },
      data: { cc: "#cloud-config\nhostname: {{machine.hostname}}\n" },
    });
    await t.reconcile();
    t.store();
    await t.reconcile();
    expect(t.renders()).toBe(1);
    t.state.configMaps.get(`${NS}/tpl`)!.metadata.resourceVersion = nextVersion();
    await t.reconcile();
    expect(t.renders()).toBe(2);
  });

  it("names the CA and the Machine's certificate Secret among the inputs when certificates are made", () => {
    const t = setup();
    const without = renderInputs(t.state, t.machine, { pki: true });
    const cluster = t.state.clusters.values().next().value!;
    for (const name of [`ccts-ca-${cluster.metadata.name}`, `ccts-machine-${t.machine.metadata.name}-tls`]) {
      t.state.secrets.set(`${NS}/${name}`, {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name, namespace: NS, resourceVersion: nextVersion() },
      } as SecretObject);
      expect(renderInputs(t.state, t.machine, { pki: true })?.read).not.toBe(without?.read);
    }
    // Without certificates, their Secrets are no input.
    expect(renderInputs(t.state, t.machine, { pki: false })?.read).not.toContain("certificate=");
  });

  it("renders again once a certificate renewal is due, and hands the renewal time on until then", async () => {
    const t = await rendered();
    const inputs = renderInputs(t.state, t.machine, { pki: false })!;
    const renewAfter = new Date("2026-12-10T00:00:00Z");
    t.memo.remember("k", inputs, { renewAfter, namesMachineList: false });
    expect(t.memo.check("k", inputs, new Date("2026-12-09T23:59:59Z"))).toEqual({
      unchanged: { renewAfter },
    });
    expect(t.memo.check("k", inputs, renewAfter)).toEqual({ render: "renewal" });
  });

  it("does not remember a failed render, and forgets a Machine that is gone", async () => {
    const t = await rendered();
    editCluster(t.state, (c) => {
      c.spec.templates = [{ output: "cloud-config", configMapKeyRef: { name: "missing", key: "cc" } }];
    });
    expect((await t.reconcile())?.reason).toBe("TemplateNotFound");
    expect((await t.reconcile())?.reason).toBe("TemplateNotFound");
    expect(t.memo.size).toBe(0);
    editCluster(t.state, (c) => {
      c.spec.templates = undefined;
    });
    expect((await t.reconcile())?.unchanged).toBeUndefined();
    expect(t.memo.size).toBe(1);
    t.state.machines.delete(objectKey(t.machine));
    expect(await t.reconcile()).toBeUndefined();
    expect(t.memo.size).toBe(0);
  });

  it("renders again when the Machine's spec changed between its read and the status write", async () => {
    const t = setup();
    t.raceSpecChange();
    await t.reconcile();
    t.store();
    expect((await t.reconcile())?.unchanged).toBeUndefined();
    expect(t.renders()).toBe(2);
  });

  it("renders nothing in a pass that reads the Machine and its ConfigMap before the cache has our writes of them", async () => {
    const t = setup();
    t.statusLags();
    await t.reconcile();
    // The cache still holds the Machine without its status and no ConfigMap: a ConfigMap that is
    // not there is rendered (it may have been deleted), the Machine as read is as rendered.
    expect((await t.reconcile())?.unchanged).toBeUndefined();
    expect(t.renders()).toBe(2);
    expect(t.statusWrites()).toBe(1);
    t.store();
    expect(await t.reconcile()).toMatchObject({ unchanged: true });
    t.catchUp();
    expect(await t.reconcile()).toMatchObject({ unchanged: true });
    expect(t.renders()).toBe(2);
    expect(t.statusWrites()).toBe(1);
  });

  it("renders nothing after a fan-out's rewrite of its ConfigMap, before and after the cache has it", async () => {
    const t = await rendered();
    editCluster(t.state, (c) => {
      c.spec.sshAuthorizedKeys = ["ssh-ed25519 AAAAmemo memo@test"];
    });
    expect(await t.reconcile()).toMatchObject({ wroteConfigMap: true });
    // The cache has not seen the rewrite yet: the version read.
    expect(await t.reconcile()).toMatchObject({ unchanged: true });
    // The cache has the version our rewrite answered.
    t.store();
    expect(await t.reconcile()).toMatchObject({ unchanged: true });
    expect(t.renders()).toBe(2);
  });
});
