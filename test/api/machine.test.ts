import { describe, expect, it } from "vitest";
import { namespacedKey, objectKey } from "../../src/api/machine.js";

describe("object keys", () => {
  it("are namespace/name, with the default namespace when none is set", () => {
    expect(namespacedKey("bench", "m-1")).toBe("bench/m-1");
    expect(objectKey({ metadata: { name: "m-1", namespace: "racks" } })).toBe("racks/m-1");
    expect(objectKey({ metadata: { name: "m-1" } })).toBe("default/m-1");
  });

  it("are the same key a template literal makes, so maps find either", () => {
    const ns = "a-namespace-long-enough";
    const name = "for-a-rope-of-two-parts";
    const map = new Map([[namespacedKey(ns, name), 1]]);
    expect(map.get(`${ns}/${name}`)).toBe(1);
  });
});
