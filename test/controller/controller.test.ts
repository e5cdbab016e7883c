// The controller against the real test API server (see test/control-plane/): rendering, no-op
// resyncs, fan-out, every failure reason with its event, duplicate MACs, garbage collection and
// the latency of a change on a quiet cluster.
import { pino } from "pino";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ANNOTATION_CONTENT_HASH } from "../../src/api/constants.js";
import { macLabel } from "../../src/api/labels.js";
import type { ClusterDesc, Machine } from "../../src/api/types.js";
import type { ConfigMapObject } from "../../src/controller/rendered-configmap.js";
import { renderedConfigMapName } from "../../src/controller/rendered-configmap.js";
import type { KubeClient } from "../../src/k8s/client.js";
import { ControllerRuntime } from "../../src/k8s/controller-runtime.js";
import { paths } from "../../src/k8s/paths.js";
import { kubectl } from "../control-plane/namespace.js";
import { create, exampleObjects, get, listEvents, mergePatch, remove } from "../support/kube.js";
import { startTestRuntime } from "../support/runtime.js";
import { waitFor } from "../support/wait.js";

let client: KubeClient;
let ns: string;
let stop: () => Promise<void>;
let runtime: ControllerRuntime;
const runtimeMetrics = new Registry();
const example = () => exampleObjects(ns);

const machine = (name: string) => get<Machine>(client, "Machine", ns, name);
const renderedCM = (name: string) =>
  get<ConfigMapObject>(client, "ConfigMap", ns, renderedConfigMapName(name));
const rendered = (m: Machine | undefined) => m?.status?.conditions?.find((c) => c.type === "Rendered");
const metricValue = async (name: string) =>
  Number(new RegExp(`^${name} (\\d+)$`, "m").exec(await runtimeMetrics.metrics())?.[1] ?? 0);
const reconcileErrors = () => metricValue("ccts_controller_reconcile_errors_total");
const renders = () => metricValue("ccts_render_duration_seconds_count");
const unchangedReconciles = () => metricValue("ccts_controller_reconcile_unchanged_total");

/** Until the controller's cache holds every example Machine and its ConfigMap as the API server does. */
async function cacheCaughtUp(): Promise<void> {
  for (const m of example().machines) {
    const name = renderedConfigMapName(m.metadata.name);
    await waitFor(`the cache to hold ${m.metadata.name} and ${name} as stored`, async () => {
      const [storedMachine, stored] = [await machine(m.metadata.name), await renderedCM(m.metadata.name)];
      return (
        storedMachine?.metadata.resourceVersion ===
          runtime.cache.machine(ns, m.metadata.name)?.metadata.resourceVersion &&
        stored?.metadata.resourceVersion === runtime.cache.configMap(ns, name)?.metadata.resourceVersion
      );
    });
  }
}

async function waitReason(name: string, reason: string, timeoutMs = 10_000): Promise<Machine> {
  return waitFor(
    `${name} to have Rendered reason ${reason}`,
    async () => {
      const m = await machine(name);
      return rendered(m)?.reason === reason && m?.status?.observedGeneration === m?.metadata.generation
        ? m
        : undefined;
    },
    timeoutMs,
  );
}

beforeAll(async () => {
  ({ ns, client, runtime, stop } = await startTestRuntime("controller", { metrics: runtimeMetrics }));
  const { cluster, machines } = example();
  await create(client, cluster);
  for (const m of machines) await create(client, m);
});

afterAll(() => stop?.());

describe("controller", () => {
  it("renders every example Machine into its own ConfigMap, and reports it in status", async () => {
    await runtime.queue.idle();
    for (const m of example().machines) {
      // Machines created one after the other re-render as etcd members and masters appear: wait
      // until status and ConfigMap agree on the final content.
      const cm = await waitFor(`${m.metadata.name}'s ConfigMap`, () => renderedCM(m.metadata.name));
      const done = await waitFor(`${m.metadata.name} status to report it rendered`, async () => {
        const machineNow = await machine(m.metadata.name);
        return rendered(machineNow)?.reason === "Rendered" &&
          machineNow?.status?.observedGeneration === machineNow?.metadata.generation
          ? machineNow
          : undefined;
      });
      expect(rendered(done)?.status).toBe("True");
      expect(done.status?.configMap).toBe(cm.metadata.name);
      expect(done.status?.outputs).toEqual(Object.keys(cm.data!).sort());
      expect(cm.data?.["cloud-config"]).toMatch(/^#cloud-config/);
      expect(cm.data?.["cloud-config"]).toContain(m.spec.hostname);
      expect(cm.metadata.labels?.[macLabel(m.spec.mac)]).toBe("true");
      expect(cm.metadata.ownerReferences).toEqual([
        expect.objectContaining({
          kind: "Machine",
          name: m.metadata.name,
          uid: done.metadata.uid,
          controller: true,
        }),
      ]);
    }
    const worker1 = (await renderedCM("worker-1"))!;
    expect(JSON.parse(worker1.metadata.annotations?.["ccts.io/addresses"] ?? "")).toEqual([
      "10.20.0.21",
      "192.168.100.21",
    ]);
    expect(worker1.metadata.labels?.[macLabel("52:54:00:12:35:11")]).toBe("true");
  });

  it("shows every example Machine Rendered in `kubectl get machines.ccts.io`", async () => {
    const out = await kubectl(["get", "machines.ccts.io", "-n", ns]);
    expect(out.code).toBe(0);
    const lines = out.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^NAME\s+MAC\s+HOSTNAME\s+ROLES\s+RENDERED\s+AGE/);
    for (const m of example().machines) {
      expect(lines.find((l) => l.startsWith(`${m.metadata.name} `))).toMatch(
        new RegExp(`${m.spec.mac}\\s+${m.spec.hostname}\\s+.*True`),
      );
    }
  });

  it("exports reconcile, render and queue metrics", async () => {
    const text = await runtimeMetrics.metrics();
    expect(text).toMatch(/ccts_controller_reconcile_total\{result="Rendered"\} [1-9]/);
    expect(text).toMatch(/ccts_render_duration_seconds_count [1-9]/);
    expect(text).toMatch(/ccts_controller_reconcile_duration_seconds_count [1-9]/);
    expect(text).toMatch(/ccts_controller_queue_depth 0/);
    expect(text).toMatch(/ccts_controller_writes_total\{kind="configmap"\} [1-9]/);
  });

  it("keeps the cluster's dnsmasq configuration in a ConfigMap, with a reservation per Machine", async () => {
    const cm = await waitFor("the dnsmasq ConfigMap", async () => {
      const c = await get<ConfigMapObject>(client, "ConfigMap", ns, "ccts-cluster-lab");
      return c?.data?.["dnsmasq.conf"]?.includes("worker-2") ? c : undefined;
    });
    expect(cm.metadata.ownerReferences?.[0]).toEqual(
      expect.objectContaining({ kind: "ClusterDesc", name: "lab" }),
    );
    for (const m of example().machines) {
      expect(cm.data?.["dnsmasq.conf"]).toContain(`dhcp-host=${m.spec.mac},${m.spec.ip},${m.spec.hostname}`);
    }
  });

  it("renders a ClusterDesc's own dnsmasq.conf template from a ConfigMap, again when it changes", async () => {
    const { cluster, machines } = example();
    const name = "own-dnsmasq";
    const template = (extra: string) =>
      `port=0\n${extra}\n{{#each machines}}\ndhcp-host={{mac}},{{ip}},{{hostname}}\n{{/each}}\n`;
    await create(client, {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "own-dnsmasq-template", namespace: ns },
      data: { "dnsmasq.conf": template("interface=eth1") },
    });
    await create(client, {
      ...cluster,
      metadata: { name, namespace: ns },
      spec: {
        ...cluster.spec,
        templates: [
          { output: "dnsmasq.conf", configMapKeyRef: { name: "own-dnsmasq-template", key: "dnsmasq.conf" } },
        ],
      },
    });
    await create(client, {
      ...machines[0]!,
      metadata: { name: "own-dnsmasq-m", namespace: ns },
      spec: { ...machines[0]!.spec, clusterDesc: name, mac: "52:54:00:99:00:0a", hostname: "own-m" },
    });
    const conf = (text: string) =>
      waitFor(`ccts-cluster-${name} with ${text}`, async () => {
        const c = await get<ConfigMapObject>(client, "ConfigMap", ns, `ccts-cluster-${name}`);
        return c?.data?.["dnsmasq.conf"]?.includes(text) ? c.data["dnsmasq.conf"] : undefined;
      });
    expect(await conf("dhcp-host=52:54:00:99:00:0a,10.20.0.11,own-m")).toMatch(/^port=0\ninterface=eth1\n/);
    await waitReason("own-dnsmasq-m", "Rendered");
    // The Machine keeps the built-in outputs and has no dnsmasq.conf of its own.
    const docs = (await renderedCM("own-dnsmasq-m"))!.data!;
    expect(Object.keys(docs)).toContain("cloud-config");
    expect(Object.keys(docs)).not.toContain("dnsmasq.conf");

    await mergePatch(client, "ConfigMap", ns, "own-dnsmasq-template", {
      data: { "dnsmasq.conf": template("interface=eth2") },
    });
    expect(await conf("interface=eth2")).not.toContain("interface=eth1");
    await remove(client, "Machine", ns, "own-dnsmasq-m");
    await remove(client, "ClusterDesc", ns, name);
  });

  it("renders the dnsmasq configuration once for Machine changes that come together", async () => {
    await runtime.queue.idle();
    const start = (await get<ConfigMapObject>(client, "ConfigMap", ns, "ccts-cluster-lab"))!;
    // Every write of the dnsmasq ConfigMap from now on, as the API server reports them.
    const versions: string[] = [];
    const watching = new AbortController();
    const watch = client
      .stream(
        paths.configMaps({ namespace: ns }),
        {
          watch: true,
          fieldSelector: "metadata.name=ccts-cluster-lab",
          resourceVersion: start.metadata.resourceVersion,
        },
        (event) => {
          const e = event as { type: string; object: ConfigMapObject };
          if (e.type === "MODIFIED") versions.push(e.object.metadata.resourceVersion!);
        },
        watching.signal,
      )
      .catch(() => {});
    const renamed = { "worker-1": "worker-1b", "worker-2": "worker-2b" };
    for (const [name, hostname] of Object.entries(renamed))
      await mergePatch(client, "Machine", ns, name, { spec: { hostname } });
    await waitFor("the cache to see both changes", async () =>
      Object.entries(renamed).every(([name, h]) => runtime.cache.machine(ns, name)?.spec.hostname === h),
    );
    // Waiting for its delay, not rendered per change.
    expect(runtime.queue.scheduled(`cluster:${ns}/lab`)).toBe(true);
    await waitFor("dnsmasq.conf with both new names", async () => {
      const conf = (await get<ConfigMapObject>(client, "ConfigMap", ns, "ccts-cluster-lab"))?.data?.[
        "dnsmasq.conf"
      ];
      return conf?.includes(",worker-1b") && conf.includes(",worker-2b");
    });
    await runtime.queue.idle();
    await new Promise((done) => setTimeout(done, 1500));
    watching.abort();
    await watch;
    expect(versions).toHaveLength(1);
    for (const name of Object.keys(renamed))
      await mergePatch(client, "Machine", ns, name, { spec: { hostname: name } });
    await waitFor("dnsmasq.conf with the old names again", async () =>
      (await get<ConfigMapObject>(client, "ConfigMap", ns, "ccts-cluster-lab"))?.data?.[
        "dnsmasq.conf"
      ]?.includes(",worker-2\n"),
    );
  });

  it("writes nothing on a no-op resync", async () => {
    await runtime.queue.idle();
    const before = { ...runtime.writes };
    runtime.resync();
    await runtime.queue.idle();
    expect(runtime.writes).toEqual(before);
  });

  it("renders nothing on a resync once every Machine's inputs are as at its last render", async () => {
    // Each status write was a new version of its Machine, known as the controller's own: once the
    // cache has seen them, a single pass finds every input unchanged.
    await runtime.queue.idle();
    await cacheCaughtUp();
    const [rendersBefore, unchangedBefore] = [await renders(), await unchangedReconciles()];
    runtime.resync();
    await runtime.queue.idle();
    expect(await renders()).toBe(rendersBefore);
    expect((await unchangedReconciles()) - unchangedBefore).toBe(example().machines.length);
  });

  it("renders only a worker applied, not its peers, at the next resync (no template names machines)", async () => {
    const worker = example().machines.find((m) => m.metadata.name === "worker-2")!;
    await create(client, {
      ...worker,
      metadata: { name: "worker-9", namespace: ns },
      spec: { ...worker.spec, mac: "52:54:00:99:00:09", hostname: "worker-9", ip: "10.20.0.99" },
    });
    await waitReason("worker-9", "Rendered");
    await runtime.queue.idle();
    await cacheCaughtUp();
    await waitFor(
      "the cache to hold worker-9, its ConfigMap and its certificate Secret as stored",
      async () => {
        const tls = "ccts-machine-worker-9-tls";
        const [m, cm, secret] = [
          await machine("worker-9"),
          await renderedCM("worker-9"),
          await get<{ metadata: { resourceVersion?: string } }>(client, "Secret", ns, tls),
        ];
        return (
          m?.metadata.resourceVersion === runtime.cache.machine(ns, "worker-9")?.metadata.resourceVersion &&
          cm?.metadata.resourceVersion ===
            runtime.cache.configMap(ns, renderedConfigMapName("worker-9"))?.metadata.resourceVersion &&
          secret !== undefined &&
          secret.metadata.resourceVersion === runtime.cache.secret(ns, tls)?.metadata.resourceVersion
        );
      },
    );
    const [rendersBefore, unchangedBefore] = [await renders(), await unchangedReconciles()];
    runtime.resync();
    await runtime.queue.idle();
    // Every other Machine's member list has a new member, whose etcd and masters are the same;
    // worker-9's own first render wrote its status, ConfigMap and certificate, all known as ours.
    expect((await renders()) - rendersBefore).toBe(0);
    expect((await unchangedReconciles()) - unchangedBefore).toBe(example().machines.length + 1);
    await remove(client, "Machine", ns, "worker-9");
    // Settled as before: the cluster's dnsmasq reservations (rendered a second after) without it.
    await waitFor("the dnsmasq reservations without worker-9", async () => {
      const c = await get<ConfigMapObject>(client, "ConfigMap", ns, "ccts-cluster-lab");
      return c?.data?.["dnsmasq.conf"] !== undefined && !c.data["dnsmasq.conf"].includes("52:54:00:99:00:09");
    });
    await runtime.queue.idle();
  });

  it("writes nothing when started again on the ConfigMaps it rendered (it reads their managedFields)", async () => {
    await runtime.queue.idle();
    // A second controller: no memory of the first one's writes, only what it lists.
    const metrics = new Registry();
    const restarted = new ControllerRuntime({
      client,
      namespace: ns,
      logger: pino({ level: "silent" }),
      metrics,
    });
    try {
      await restarted.startInformers();
      restarted.startReconciling();
      await restarted.queue.idle();
      const reconciles = (await metrics.getSingleMetric("ccts_controller_reconcile_total")!.get()).values;
      expect(reconciles.reduce((n, v) => n + v.value, 0)).toBeGreaterThanOrEqual(example().machines.length);
      expect(restarted.writes.configmap).toBe(0);
      // Nor statuses: the status the API server returns (its certificate's fields in another
      // order than ours) says what the first controller wrote.
      expect(restarted.writes.status).toBe(0);
      expect(restarted.writes.secret).toBe(0);
      expect(restarted.writes.event).toBe(0);
    } finally {
      await restarted.stop();
    }
  });

  it("re-renders every Machine of a ClusterDesc when it changes, with one write per Machine", async () => {
    await runtime.queue.idle();
    const before = { ...runtime.writes };
    await mergePatch(client, "ClusterDesc", ns, "lab", {
      spec: { sshAuthorizedKeys: ["ssh-ed25519 AAAAfanout fanout@test"] },
    });
    for (const m of example().machines) {
      await waitFor(`${m.metadata.name} to carry the new key`, async () =>
        (await renderedCM(m.metadata.name))?.data?.["cloud-config"]?.includes("AAAAfanout"),
      );
    }
    await runtime.queue.idle();
    // The ConfigMap carries the new content hash; the Machine's status does not change.
    const machines = example().machines.length;
    expect(runtime.writes.configmap - before.configmap).toBeGreaterThanOrEqual(machines);
    expect(runtime.writes.status - before.status).toBe(0);

    // The versions its own writes made are known: the resync after the fan-out renders nothing.
    await cacheCaughtUp();
    const rendersBefore = await renders();
    runtime.resync();
    await runtime.queue.idle();
    expect(await renders()).toBe(rendersBefore);
  });

  it("re-renders Machines whose documents depend on an etcd member that changed", async () => {
    await mergePatch(client, "Machine", ns, "master-3", { spec: { hostname: "master-3b" } });
    await waitFor("worker-2 to see the new etcd member name", async () =>
      (await renderedCM("worker-2"))?.data?.["cloud-config"]?.includes("master-3b"),
    );
    await mergePatch(client, "Machine", ns, "master-3", { spec: { hostname: "master-3" } });
    await waitFor(
      "worker-2 to see the old name again",
      async () => !(await renderedCM("worker-2"))?.data?.["cloud-config"]?.includes("master-3b"),
    );
  });

  it("takes templates from a ConfigMap and re-renders when it changes", async () => {
    await create(client, {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "templates", namespace: ns },
      data: { "cloud-config": "#cloud-config\nhostname: {{machine.hostname}}\n# v1\n" },
    });
    await mergePatch(client, "ClusterDesc", ns, "lab", {
      spec: {
        templates: [{ output: "cloud-config", configMapKeyRef: { name: "templates", key: "cloud-config" } }],
      },
    });
    await waitFor("the ConfigMap template to be used", async () =>
      (await renderedCM("worker-2"))?.data?.["cloud-config"]?.includes("# v1"),
    );
    await mergePatch(client, "ConfigMap", ns, "templates", {
      data: { "cloud-config": "#cloud-config\nhostname: {{machine.hostname}}\n# v2\n" },
    });
    for (const m of example().machines) {
      await waitFor(`${m.metadata.name} to use template v2`, async () =>
        (await renderedCM(m.metadata.name))?.data?.["cloud-config"]?.includes("# v2"),
      );
    }
  });

  it.each([
    ["TemplateError", "#cloud-config\nhostname: {{machine.hostnam}}\n", /hostnam/],
    ["InvalidOutput", "#cloud-config\n- not\n- a mapping\n", /mapping/],
    // 300 kB of template repeated once per machine of the cluster: over the 1 MiB ConfigMap limit.
    [
      "OutputTooLarge",
      `#cloud-config\npadding: "{{#each machines}}${"x".repeat(300_000)}{{/each}}"\n`,
      /large|limit|bytes/i,
    ],
  ])(
    "keeps the last good ConfigMap on %s, says why in status and an event, and recovers",
    async (reason, template, message) => {
      const good = (await renderedCM("worker-2"))!;
      await mergePatch(client, "ConfigMap", ns, "templates", { data: { "cloud-config": template } });
      const failed = await waitReason("worker-2", reason, 15_000);
      expect(rendered(failed)?.status).toBe("False");
      expect(rendered(failed)?.message).toMatch(message);
      expect(rendered(failed)?.message).toContain("worker-2");
      const kept = (await renderedCM("worker-2"))!;
      expect(kept.data).toEqual(good.data);
      expect(kept.metadata.annotations?.[ANNOTATION_CONTENT_HASH]).toBe(
        good.metadata.annotations?.[ANNOTATION_CONTENT_HASH],
      );
      expect(failed.status?.configMap).toBe(good.metadata.name);
      const events = await waitFor("a Warning event", async () => {
        const list = await listEvents(client, ns);
        return list.find(
          (e) => e.involvedObject.name === "worker-2" && e.reason === reason && e.type === "Warning",
        );
      });
      expect(events.message).toMatch(message);

      await mergePatch(client, "ConfigMap", ns, "templates", {
        data: { "cloud-config": "#cloud-config\nhostname: {{machine.hostname}}\n# v2\n" },
      });
      await waitReason("worker-2", "Rendered");
      await waitFor("a recovery event", async () =>
        (await listEvents(client, ns)).find(
          (e) => e.involvedObject.name === "worker-2" && e.reason === "Recovered",
        ),
      );
    },
  );

  it("reports ClusterDescNotFound and renders once the ClusterDesc appears", async () => {
    const { cluster, machines } = example();
    const orphan: Machine = {
      ...machines[0]!,
      metadata: { name: "orphan", namespace: ns },
      spec: { ...machines[0]!.spec, clusterDesc: "later", mac: "52:54:00:99:00:01", hostname: "orphan" },
    };
    await create(client, orphan);
    await waitReason("orphan", "ClusterDescNotFound");
    expect(await renderedCM("orphan")).toBeUndefined();
    const later: ClusterDesc = { ...cluster, metadata: { name: "later", namespace: ns } };
    await create(client, later);
    await waitReason("orphan", "Rendered");
    // The status is written after the documents: once it says Rendered, they are stored.
    expect((await renderedCM("orphan"))?.data?.["cloud-config"]).toContain("orphan");
  });

  it("says WriteRefused while the API server refuses its documents, and serves the last stored", async () => {
    const name = "refused";
    const policy = `ccts-test-refuse-${ns}`;
    const marker = "refuse-me";
    const { machines } = example();
    const spec = { ...machines[0]!.spec, mac: "52:54:00:99:00:09", ip: "10.20.0.99" };
    await create(client, {
      ...machines[0]!,
      metadata: { name, namespace: ns },
      spec: { ...spec, hostname: name },
    });
    await waitReason(name, "Rendered");
    const stored = (await renderedCM(name))!;

    // A ValidatingAdmissionPolicy of the real API server refuses ConfigMaps that carry the marker.
    const objects = `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: { name: ${policy} }
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
      - { apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE", "UPDATE"], resources: ["configmaps"] }
  validations:
    - expression: "!has(object.data) || !object.data.exists(k, object.data[k].contains('${marker}'))"
      message: refused by the test
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: { name: ${policy} }
spec:
  policyName: ${policy}
  validationActions: [Deny]
  matchResources:
    namespaceSelector: { matchLabels: { kubernetes.io/metadata.name: ${ns} } }
`;
    const applied = await kubectl(["apply", "-f", "-"], { input: objects });
    expect(applied.code, applied.stderr).toBe(0);
    try {
      // The policy takes effect asynchronously: probe with a throwaway ConfigMap until it is refused.
      const probe = {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "probe", namespace: ns },
        data: { x: marker },
      };
      await waitFor("the policy to refuse a ConfigMap", async () => {
        try {
          await create(client, probe);
        } catch {
          return true;
        }
        await remove(client, "ConfigMap", ns, probe.metadata.name);
        return false;
      });
      const errorsBefore = await reconcileErrors();
      await mergePatch(client, "Machine", ns, name, { spec: { hostname: marker } });
      const refused = rendered(await waitReason(name, "WriteRefused"));
      expect(refused?.status).toBe("False");
      expect(refused?.message).toContain("refused by the test");
      expect(refused?.message).toContain("the last stored documents are served");
      // Counted as an error and retried (the status is patched just before the reconcile throws).
      await waitFor("the refusal counted", async () => (await reconcileErrors()) > errorsBefore);
      const kept = await renderedCM(name);
      expect(kept?.data).toEqual(stored.data);
      expect((await machine(name))?.status?.configMap).toBe(stored.metadata.name);
      const event = await waitFor("a Warning event", async () =>
        (await listEvents(client, ns)).find(
          (e) => e.involvedObject.name === name && e.reason === "WriteRefused",
        ),
      );
      expect(event.type).toBe("Warning");
      expect(event.message).toContain("refused by the test");
      // The cluster's dnsmasq.conf now names the marker too: its ConfigMap is refused, said on the ClusterDesc.
      const clusterEvent = await waitFor("a Warning event on the ClusterDesc", async () =>
        (await listEvents(client, ns)).find(
          (e) =>
            e.involvedObject.kind === "ClusterDesc" &&
            e.involvedObject.name === "lab" &&
            e.reason === "WriteRefused",
        ),
      );
      expect(clusterEvent.message).toContain("ccts-cluster-lab");
      expect(clusterEvent.message).toContain("refused by the test");
    } finally {
      await kubectl(["delete", "validatingadmissionpolicybinding,validatingadmissionpolicy", policy]);
    }
    // Once the documents can be stored, the retry stores them and only then says Rendered.
    await waitReason(name, "Rendered", 40_000);
    expect((await renderedCM(name))?.data?.["cloud-config"]).toContain(marker);
    await waitFor("a recovery event", async () =>
      (await listEvents(client, ns)).find((e) => e.involvedObject.name === name && e.reason === "Recovered"),
    );
  }, 60_000);

  it("serves a duplicated MAC to neither Machine, and clears when the duplicate goes", async () => {
    const worker2 = (await machine("worker-2"))!;
    const dup: Machine = {
      apiVersion: "ccts.io/v1alpha1",
      kind: "Machine",
      metadata: { name: "intruder", namespace: ns },
      spec: {
        clusterDesc: "lab",
        mac: worker2.spec.mac.toUpperCase().replaceAll(":", "-"),
        roles: ["worker"],
      },
    };
    await create(client, dup);
    const both = await Promise.all([
      waitReason("worker-2", "DuplicateMAC"),
      waitReason("intruder", "DuplicateMAC"),
    ]);
    expect(rendered(both[0])?.message).toContain(`${ns}/intruder`);
    expect(rendered(both[1])?.message).toContain(`${ns}/worker-2`);
    const label = macLabel(worker2.spec.mac);
    await waitFor(
      "worker-2's ConfigMap to drop the MAC label",
      async () => !(await renderedCM("worker-2"))?.metadata.labels?.[label],
    );
    expect((await renderedCM("intruder"))?.metadata.labels?.[label]).toBeUndefined();

    await remove(client, "Machine", ns, "intruder");
    await waitReason("worker-2", "Rendered");
    await waitFor(
      "worker-2's ConfigMap to carry the MAC label again",
      async () => (await renderedCM("worker-2"))?.metadata.labels?.[label],
    );
  });

  it("puts back a rendered ConfigMap that someone edited or deleted", async () => {
    const good = (await renderedCM("worker-1"))!;
    await mergePatch(client, "ConfigMap", ns, good.metadata.name, {
      data: { "cloud-config": "#cloud-config\n{}\n" },
    });
    await waitFor(
      "the edit to be undone",
      async () => (await renderedCM("worker-1"))?.data?.["cloud-config"] === good.data?.["cloud-config"],
    );
    // Its managed-by label removed: the server stops serving it, the controller sees it go.
    await mergePatch(client, "ConfigMap", ns, good.metadata.name, {
      metadata: { labels: { "app.kubernetes.io/managed-by": null } },
    });
    await waitFor(
      "the managed-by label to be put back",
      async () =>
        (await renderedCM("worker-1"))?.metadata.labels?.["app.kubernetes.io/managed-by"] === "ccts",
    );
    // A document removed: the annotations still describe it, the managedFields no longer do.
    await client.request("PATCH", `/api/v1/namespaces/${ns}/configmaps/${good.metadata.name}`, {
      contentType: "application/json-patch+json",
      body: [{ op: "remove", path: "/data/cloud-config" }],
    });
    await waitFor(
      "the removed document to be put back",
      async () => (await renderedCM("worker-1"))?.data?.["cloud-config"] === good.data?.["cloud-config"],
    );
    await remove(client, "ConfigMap", ns, good.metadata.name);
    await waitFor(
      "the ConfigMap to be recreated",
      async () => (await renderedCM("worker-1"))?.data?.["cloud-config"] === good.data?.["cloud-config"],
    );
  });

  it("puts back a Machine's status that someone else changed", async () => {
    const good = (await waitReason("worker-1", "Rendered"))!;
    const writesBefore = runtime.writes.status;
    await client.request("PATCH", `/apis/ccts.io/v1alpha1/namespaces/${ns}/machines/worker-1/status`, {
      contentType: "application/merge-patch+json",
      body: { status: { configMap: "someone-else", outputs: ["nothing"] } },
    });
    const restored = await waitFor("worker-1's status to be written again", async () => {
      const m = await machine("worker-1");
      return m?.status?.configMap === good.status?.configMap ? m : undefined;
    });
    expect(restored.status?.outputs).toEqual(good.status?.outputs);
    expect(rendered(restored)).toEqual(rendered(good));
    expect(runtime.writes.status - writesBefore).toBe(1);
  });

  it("deletes a Machine's ConfigMap through garbage collection", async () => {
    expect(await renderedCM("orphan")).toBeDefined();
    await remove(client, "Machine", ns, "orphan");
    await waitFor(
      "the garbage collector to delete the ConfigMap",
      async () => (await renderedCM("orphan")) === undefined,
      30_000,
    );
  });

  it("picks up a change on a cluster that has been quiet for longer than a watch timeout", async () => {
    // @kubernetes/client-node's own watch gives up on a watch quiet for 30 s; ours must not.
    await runtime.queue.idle();
    await new Promise((r) => setTimeout(r, 35_000));
    const started = Date.now();
    await mergePatch(client, "Machine", ns, "worker-2", { spec: { variables: { quiet: "yes" } } });
    await waitFor(
      "the change to be rendered",
      async () => {
        const m = await machine("worker-2");
        return m?.status?.observedGeneration === m?.metadata.generation && rendered(m)?.reason === "Rendered";
      },
      10_000,
      20,
    );
    const ms = Date.now() - started;
    console.log(`apply-to-rendered after 35 s of quiet: ${ms} ms`);
  }, 60_000);
});
