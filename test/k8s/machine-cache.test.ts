import { describe, expect, it } from "vitest";
import type { Machine } from "../../src/api/types.js";
import { withSharedStrings } from "../../src/k8s/machine-cache.js";

const machine = (status?: Machine["status"]): Machine => ({
  apiVersion: "ccts.io/v1alpha1",
  kind: "Machine",
  metadata: { name: "m1", namespace: "ns", generation: 3 },
  spec: { clusterDesc: "c", mac: "52:54:00:00:00:01" },
  ...(status && { status }),
});

describe("the controller's cached copy of a Machine", () => {
  it("is equal to the Machine, key for key (no keys added, so status comparisons hold)", () => {
    const full = machine({
      observedGeneration: 3,
      configMap: "ccts-machine-m1",
      outputs: ["cloud-config", "ipxe"],
      conditions: [
        {
          type: "Rendered",
          status: "True",
          reason: "Rendered",
          message: "rendered 2 documents",
          lastTransitionTime: "2026-11-30T00:00:00Z",
          observedGeneration: 3,
        },
      ],
    });
    for (const m of [full, machine(), machine({ observedGeneration: 1 })]) {
      const cached = withSharedStrings(structuredClone(m));
      expect(cached).toEqual(m);
      expect(JSON.stringify(cached)).toBe(JSON.stringify(m));
      expect(Object.keys(cached.status ?? {})).toEqual(Object.keys(m.status ?? {}));
    }
  });
});
