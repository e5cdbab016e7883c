// The server's relist against the real test API server, with a disk cache that never catches up.
// FAKE: the disk cache here is a stub whose caughtUp always answers "not caught up": a volume
// that stalls cannot be made on these machines without mounting one. Everything else is real.
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { LABEL_MANAGED_BY } from "../../src/api/constants.js";
import type { DiskCache } from "../../src/cache/disk-cache.js";
import { DocumentIndex } from "../../src/cache/document-index.js";
import { MANAGED_BY } from "../../src/controller/rendered-configmap.js";
import type { KubeClient } from "../../src/k8s/client.js";
import { ServedConfigMaps } from "../../src/k8s/served-configmaps.js";
import { MemoryLookup } from "../../src/server/memory-lookup.js";
import { testNamespace } from "../control-plane/namespace.js";
import { create, kubeClient } from "../support/kube.js";

let client: KubeClient;
let ns: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ name: ns, cleanup } = await testNamespace("served"));
  client = await kubeClient(inject("kubeconfig"));
});
afterAll(async () => {
  client.close();
  await cleanup();
});

describe("ServedConfigMaps relist", () => {
  it("waits for a stalled disk cache once, not once per page", async () => {
    // 120 rendered ConfigMaps: three pages of 50.
    for (let i = 0; i < 120; i++) {
      await create(client, {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: `ccts-machine-m${i}`, namespace: ns, labels: { [LABEL_MANAGED_BY]: MANAGED_BY } },
        data: { "cloud-config": `#cloud-config\nhostname: m${i}\n` },
      });
    }
    const waits: number[] = [];
    const stalled = {
      caughtUp: async (_backlog: number, maxWaitMs: number) => {
        waits.push(maxWaitMs);
        return false;
      },
      write: async () => {},
      remove: async () => {},
    } as unknown as DiskCache;
    const warnings: string[] = [];
    const logger = pino({ level: "warn" }, { write: (line: string) => warnings.push(JSON.parse(line).msg) });
    const index = new DocumentIndex(new MemoryLookup());
    const served = new ServedConfigMaps(client, index, stalled, logger, { namespace: ns });
    await served.start();
    try {
      expect(index.size).toBe(120);
      // The ConfigMaps' pages (and the documents Secrets' one): the first waits, the rest only ask.
      expect(waits.length).toBeGreaterThanOrEqual(3);
      expect(waits.filter((ms) => ms > 0)).toEqual([5000, 5000]);
      expect(warnings.filter((m) => m.startsWith("disk cache behind"))).toHaveLength(2);
    } finally {
      await served.stop();
    }
  });
});
