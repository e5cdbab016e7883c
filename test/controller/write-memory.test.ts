// WriteMemory: what the controller wrote last is not written again, whatever part of a ConfigMap
// changed (its documents or its metadata) is.
import { describe, expect, it } from "vitest";
import type { Machine, MachineStatus } from "../../src/api/types.js";
import type { ClusterWrites } from "../../src/controller/reconcile.js";
import type { ConfigMapObject } from "../../src/controller/rendered-configmap.js";
import { WriteMemory } from "../../src/controller/write-memory.js";

function recorder(): { writes: ClusterWrites; applied: ConfigMapObject[] } {
  const applied: ConfigMapObject[] = [];
  const writes: ClusterWrites = {
    applyConfigMap: async (cm) => {
      applied.push(cm);
      return String(applied.length);
    },
    patchMachineStatus: async () => undefined,
    applySecret: async () => undefined,
    deleteSecret: async () => {},
    event: async () => {},
  };
  return { writes, applied };
}

const cm = (text: string, hash = "h1"): ConfigMapObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: "ccts-machine-m1", namespace: "ns", annotations: { "ccts.io/content-hash": hash } },
  data: { "cloud-config": text, "ca.pem": "-----BEGIN CERTIFICATE-----" },
});

describe("WriteMemory for ConfigMaps", () => {
  it("skips a ConfigMap equal to the last one written (answered with that write's version), writes one whose documents or metadata changed", async () => {
    const { writes, applied } = recorder();
    const memory = new WriteMemory(writes);
    expect(await memory.applyConfigMap(cm("a"))).toBe("1");
    expect(await memory.applyConfigMap(cm("a"))).toBe("1");
    // Same metadata (the content hash need not cover every document, e.g. ca.pem), new text.
    expect(await memory.applyConfigMap(cm("b"))).toBe("2");
    expect(await memory.applyConfigMap(cm("b", "h2"))).toBe("3");
    expect(await memory.applyConfigMap(cm("b", "h2"))).toBe("3");
    expect(applied.map((c) => c.data?.["cloud-config"])).toEqual(["a", "b", "b"]);
  });

  it("writes again after forgetConfigMap (someone else changed it)", async () => {
    const { writes, applied } = recorder();
    const memory = new WriteMemory(writes);
    await memory.applyConfigMap(cm("a"));
    memory.forgetConfigMap("ns/ccts-machine-m1");
    await memory.applyConfigMap(cm("a"));
    expect(applied).toHaveLength(2);
  });
  it("writes again when forgotten while its write was in flight (the watch told first)", async () => {
    const { writes, applied } = recorder();
    let answer!: () => void;
    const apply = writes.applyConfigMap;
    writes.applyConfigMap = async (c) => {
      await new Promise<void>((r) => (answer = r));
      return apply(c);
    };
    const memory = new WriteMemory(writes);
    const first = memory.applyConfigMap(cm("a"));
    await Promise.resolve();
    // Someone removed our label after our write reached the API server, before we read its answer.
    memory.forgetConfigMap("ns/ccts-machine-m1");
    answer();
    expect(await first).toBe("1");
    const second = memory.applyConfigMap(cm("a"));
    await Promise.resolve();
    answer();
    expect(await second).toBe("2");
    expect(applied).toHaveLength(2);
    // Not forgotten during this one: remembered as before.
    expect(await memory.applyConfigMap(cm("a"))).toBe("2");
    expect(applied).toHaveLength(2);
  });
});

describe("WriteMemory for Machine status", () => {
  const machine = { metadata: { name: "m1", namespace: "ns", generation: 1 } } as Machine;
  const status = (reason: string): MachineStatus => ({ observedGeneration: 1, configMap: reason });

  it("skips a status equal to the last written and answers with the version that write got", async () => {
    const { writes } = recorder();
    let version = 10;
    let patched = 0;
    writes.patchMachineStatus = async () => {
      patched++;
      return { resourceVersion: String(++version), generation: 1 };
    };
    const memory = new WriteMemory(writes);
    expect(await memory.patchMachineStatus(machine, status("a"))).toEqual({
      resourceVersion: "11",
      generation: 1,
    });
    expect(await memory.patchMachineStatus(machine, status("a"))).toEqual({
      resourceVersion: "11",
      generation: 1,
    });
    expect(patched).toBe(1);
    expect(await memory.patchMachineStatus(machine, status("b"))).toEqual({
      resourceVersion: "12",
      generation: 1,
    });
    memory.forgetMachine("ns/m1");
    expect(await memory.patchMachineStatus(machine, status("b"))).toEqual({
      resourceVersion: "13",
      generation: 1,
    });
    expect(patched).toBe(3);
  });
});
