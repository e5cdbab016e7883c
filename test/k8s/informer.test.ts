// The Informer against the real test API server: pages are asked for one at a time, and the next
// only after `afterPage` has resolved (the server's disk cache uses it as backpressure); `cached`
// is given what the cache kept of an object's previous version.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { KubeClient } from "../../src/k8s/client.js";
import { Informer } from "../../src/k8s/informer.js";
import { paths } from "../../src/k8s/paths.js";
import { testNamespace } from "../control-plane/namespace.js";
import { kubeClient, mergePatch } from "../support/kube.js";
import { waitFor } from "../support/wait.js";

let client: KubeClient;
let ns: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ name: ns, cleanup } = await testNamespace("informer"));
  client = await kubeClient(inject("kubeconfig"));
});
afterAll(async () => {
  client.close();
  await cleanup();
});

describe("Informer relist", () => {
  it("hands over each page's objects, then waits for afterPage before asking for the next page", async () => {
    for (let i = 0; i < 25; i++) {
      await client.request("POST", paths.configMaps({ namespace: ns }), {
        body: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: `cm-${i}` }, data: { i: String(i) } },
      });
    }
    let events = 0;
    /** Events seen when each afterPage began and when it ended. */
    const seen: number[] = [];
    const informer = new Informer<{
      metadata: { name: string; namespace?: string; resourceVersion?: string };
    }>({
      client,
      path: paths.configMaps({ namespace: ns }),
      pageSize: 10,
      onEvent: () => {
        events++;
      },
      afterPage: async () => {
        seen.push(events);
        await new Promise((resolve) => setTimeout(resolve, 200));
        seen.push(events);
      },
    });
    informer.start();
    await informer.synced();
    await informer.stop();
    expect(seen).toEqual([10, 10, 20, 20, 25, 25]);
  });
});

describe("Informer cache", () => {
  it("hands cached() what it kept of the object's previous version", async () => {
    type Cm = { metadata: { name: string; namespace?: string; resourceVersion?: string } };
    const calls: { rv?: string; previousRv?: string }[] = [];
    const informer = new Informer<Cm>({
      client,
      path: paths.configMaps({ namespace: ns }),
      labelSelector: "test=previous",
      onEvent: () => {},
      cached: (obj, previous) => {
        calls.push({ rv: obj.metadata.resourceVersion, previousRv: previous?.metadata.resourceVersion });
        return obj;
      },
    });
    await client.request("POST", paths.configMaps({ namespace: ns }), {
      body: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "prev", labels: { test: "previous" } } },
    });
    informer.start();
    await informer.synced();
    await client.request("PATCH", `${paths.configMaps({ namespace: ns })}/prev`, {
      body: { data: { a: "1" } },
      contentType: "application/merge-patch+json",
    });
    await waitFor("the update's event", async () => calls.length >= 2);
    await informer.stop();
    expect(calls[0]!.previousRv).toBeUndefined();
    expect(calls[1]!.previousRv).toBe(calls[0]!.rv);
    expect(calls[1]!.rv).not.toBe(calls[0]!.rv);
  });
});

describe("Informer of metadata only", () => {
  it("lists and watches objects without their content, and hands cached() their managedFields", async () => {
    type Cm = { kind?: string; data?: unknown; metadata: { name: string; namespace?: string } };
    const configMaps = paths.configMaps({ namespace: ns });
    await client.request("PATCH", `${configMaps}/meta`, {
      query: { fieldManager: "test-apply", force: true },
      contentType: "application/apply-patch+yaml",
      body: {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "meta", labels: { test: "metadata" } },
        data: { doc: "listed" },
      },
    });
    const seen: { kind?: string; data?: unknown; managers: string[] }[] = [];
    const informer = new Informer<Cm>({
      client,
      path: configMaps,
      labelSelector: "test=metadata",
      metadataOnly: true,
      onEvent: () => {},
      cached: (obj, _previous, managedFields) => {
        seen.push({ kind: obj.kind, data: obj.data, managers: (managedFields ?? []).map((f) => f.manager!) });
        return obj;
      },
    });
    informer.start();
    await informer.synced();
    await mergePatch(client, "ConfigMap", ns, "meta", { data: { doc: "watched" } });
    await waitFor("the patch's event", async () => seen.length >= 2);
    await informer.stop();
    expect(seen.map((s) => s.kind)).toEqual(["PartialObjectMetadata", "PartialObjectMetadata"]);
    expect(seen.map((s) => s.data)).toEqual([undefined, undefined]);
    expect(seen[0]!.managers).toEqual(["test-apply"]);
    expect(seen[1]!.managers).toContain("test-apply");
    expect(seen[1]!.managers.length).toBe(2);
    expect(informer.get(ns, "meta")?.metadata).not.toHaveProperty("managedFields");
  });

  it("syncs on an empty list (the API server leaves out `items`)", async () => {
    const informer = new Informer<{ metadata: { name: string } }>({
      client,
      path: paths.configMaps({ namespace: ns }),
      labelSelector: "test=none",
      metadataOnly: true,
      onEvent: () => {},
    });
    informer.start();
    await informer.synced();
    await informer.stop();
    expect(informer.size).toBe(0);
  });
});
