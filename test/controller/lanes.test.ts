import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Machine } from "../../src/api/types.js";
import type { ConfigMapObject } from "../../src/controller/rendered-configmap.js";
import { renderedConfigMapName } from "../../src/controller/rendered-configmap.js";
import type { KubeClient } from "../../src/k8s/client.js";
import type { ControllerRuntime } from "../../src/k8s/controller-runtime.js";
import { paths } from "../../src/k8s/paths.js";
import { create, exampleObjects, get, mergePatch } from "../support/kube.js";
import { startTestRuntime } from "../support/runtime.js";
import { waitFor } from "../support/wait.js";

const WORKERS = 60;
const NEW_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILanesTestKeyOnlyForTheQueueLanesTest000001 lanes@test";

let client: KubeClient;
let ns: string;
let stop: () => Promise<void>;
let runtime: ControllerRuntime;

function worker(i: number, name = `worker-${String(i).padStart(3, "0")}`): Machine {
  const hex = i.toString(16).padStart(4, "0");
  return {
    apiVersion: "ccts.io/v1alpha1",
    kind: "Machine",
    metadata: { name, namespace: ns },
    spec: {
      clusterDesc: exampleObjects(ns).cluster.metadata.name,
      mac: `52:54:00:ab:${hex.slice(0, 2)}:${hex.slice(2)}`,
      hostname: name,
      roles: ["worker"],
    },
  } as Machine;
}

const cloudConfig = async (name: string) =>
  (await get<ConfigMapObject>(client, "ConfigMap", ns, renderedConfigMapName(name)))?.data?.["cloud-config"];

beforeAll(async () => {
  ({ ns, client, runtime, stop } = await startTestRuntime("controller-lanes", { concurrency: 1 }));
  await create(client, exampleObjects(ns).cluster);
  for (let i = 0; i < WORKERS; i++) await create(client, worker(i));
  await waitFor(
    `${WORKERS} Machines rendered`,
    async () =>
      (await cloudConfig(worker(WORKERS - 1).metadata.name)) !== undefined && runtime.queue.depth === 0,
    60_000,
  );
}, 90_000);

afterAll(() => stop?.());

describe("controller queue lanes", () => {
  it("renders a Machine applied during a ClusterDesc's fan-out before the fan-out's Machines", async () => {
    await runtime.queue.idle();
    const cluster = exampleObjects(ns).cluster;
    await mergePatch(client, "ClusterDesc", ns, cluster.metadata.name, {
      spec: { sshAuthorizedKeys: [NEW_KEY] },
    });
    // The fan-out is under way: most of its Machines still wait.
    await waitFor("the fan-out queued", () => runtime.queue.depth > WORKERS / 2, 10_000, 2);
    const late = worker(WORKERS, "late");
    await create(client, late);
    // One list is one moment: the first that shows the late Machine rendered, and how many of the
    // fan-out's Machines it shows done then.
    const snapshot = async () => {
      const list = await client.request<{ items: ConfigMapObject[] }>(
        "GET",
        paths.configMaps({ namespace: ns }),
      );
      const carrying = new Set(
        list.items.filter((cm) => cm.data?.["cloud-config"]?.includes(NEW_KEY)).map((cm) => cm.metadata.name),
      );
      const workersDone = [...Array(WORKERS).keys()].filter((i) =>
        carrying.has(renderedConfigMapName(worker(i).metadata.name)),
      ).length;
      return { lateDone: carrying.has(renderedConfigMapName("late")), workersDone };
    };
    const atLate = await waitFor(
      "the late Machine rendered",
      async () => {
        const s = await snapshot();
        return s.lateDone ? s : undefined;
      },
      30_000,
      2,
    );
    // In one queue in order of arrival it came after all of them.
    expect(atLate.workersDone).toBeLessThan(WORKERS);
    await runtime.queue.idle();
    expect((await snapshot()).workersDone).toBe(WORKERS);
  }, 60_000);
});
