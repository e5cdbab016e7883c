// The controller's writes against the real test API server: a server-side apply answers with the
// object's metadata only (the documents are not sent back), and the resourceVersion it returns is
// the one the server holds.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Machine } from "../../src/api/types.js";
import type { KubeClient } from "../../src/k8s/client.js";
import { ApiWrites } from "../../src/k8s/writes.js";
import { testNamespace } from "../control-plane/namespace.js";
import { create, exampleObjects, get, kubeClient } from "../support/kube.js";

let client: KubeClient;
let ns: string;
let cleanup: () => Promise<void>;
/** Every answer the writes received, as the client decoded it. */
const answers: unknown[] = [];
/** Every request the writes made: method, path and options. */
const requests: Parameters<KubeClient["request"]>[] = [];

beforeAll(async () => {
  ({ name: ns, cleanup } = await testNamespace("writes"));
  client = await kubeClient(inject("kubeconfig"));
});
afterAll(async () => {
  client.close();
  await cleanup();
});

/** The client, recording what each request resolved to. */
function recording(inner: KubeClient): KubeClient {
  return new Proxy(inner, {
    get(target, property, receiver) {
      if (property !== "request") return Reflect.get(target, property, receiver);
      return async (...args: Parameters<KubeClient["request"]>) => {
        requests.push(args);
        const answer = await target.request(...args);
        answers.push(answer);
        return answer;
      };
    },
  });
}

const configMap = (text: string) => ({
  apiVersion: "v1" as const,
  kind: "ConfigMap" as const,
  metadata: { name: "rendered", namespace: ns, labels: { "app.kubernetes.io/managed-by": "ccts" } },
  data: { "cloud-config": text },
});

describe("ApiWrites on the real API server", () => {
  it("applies a ConfigMap, is answered with its metadata only, and returns the resourceVersion it now has", async () => {
    const writes = new ApiWrites(recording(client));
    const big = `#cloud-config\n${"runcmd: [true]\n".repeat(500)}`;
    for (const text of [big, `${big}# changed\n`]) {
      answers.length = 0;
      const rv = await writes.applyConfigMap(configMap(text));
      const stored = await get<{ metadata: { resourceVersion: string }; data: Record<string, string> }>(
        client,
        "ConfigMap",
        ns,
        "rendered",
      );
      expect(stored?.data["cloud-config"]).toBe(text);
      expect(rv).toBe(stored?.metadata.resourceVersion);
      expect(answers).toHaveLength(1);
      const answer = answers[0] as { kind: string; data?: unknown; metadata: { name: string } };
      expect(answer.kind).toBe("PartialObjectMetadata");
      expect(answer.metadata.name).toBe("rendered");
      expect(answer.data).toBeUndefined();
    }
  });

  it("patches a Machine's status and returns its version and generation, nothing more (it is kept per Machine)", async () => {
    const writes = new ApiWrites(client);
    const machine = exampleObjects(ns).machines[0]!;
    await create(client, machine);
    const written = await writes.patchMachineStatus(machine, { configMap: "ccts-machine-x", outputs: [] });
    const stored = await get<Machine>(client, "Machine", ns, machine.metadata.name);
    expect(stored?.status?.configMap).toBe("ccts-machine-x");
    expect(written).toStrictEqual({
      resourceVersion: stored?.metadata.resourceVersion,
      generation: stored?.metadata.generation,
    });
  });

  it("creates a Secret once and says so when it exists already (the 409 still reads as a Status)", async () => {
    const writes = new ApiWrites(client);
    const secret = {
      apiVersion: "v1" as const,
      kind: "Secret" as const,
      type: "Opaque",
      metadata: { name: "key", namespace: ns },
      data: { "tls.key": Buffer.from("not a key").toString("base64") },
    };
    expect(await writes.createSecret(secret)).toBe("created");
    expect(await writes.createSecret(secret)).toBe("exists");
  });

  it("asks the server to parse each apply once (fieldValidation=Ignore), and the server takes it", async () => {
    const writes = new ApiWrites(recording(client));
    requests.length = 0;
    await writes.applyConfigMap(configMap("#cloud-config\n"));
    await writes.applySecret({
      apiVersion: "v1",
      kind: "Secret",
      type: "Opaque",
      metadata: { name: "applied", namespace: ns },
      data: { "tls.crt": Buffer.from("not a certificate").toString("base64") },
    });
    expect(requests.map(([method, , options]) => [method, options?.query?.fieldValidation])).toEqual([
      ["PATCH", "Ignore"],
      ["PATCH", "Ignore"],
    ]);
    const stored = await get<{ data: Record<string, string> }>(client, "ConfigMap", ns, "rendered");
    expect(stored?.data["cloud-config"]).toBe("#cloud-config\n");
  });
});
