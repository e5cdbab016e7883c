// The block forms of `base64` and `quote` the Ignition and ConfigDrive templates use to encode a
// whole rendered block: `{{#base64}}...{{/base64}}`, `{{#quote}}...{{/quote}}`.
import { describe, expect, it } from "vitest";
import type { ClusterDesc, Machine } from "../../src/api/types.js";
import { renderMachine } from "../../src/render/index.js";

const cluster: ClusterDesc = {
  apiVersion: "ccts.io/v1alpha1",
  kind: "ClusterDesc",
  metadata: { name: "c", namespace: "default" },
  spec: {
    network: { bootstrapperIP: "10.0.0.2", subnet: "10.0.0.0", netmask: "255.255.255.0", domain: "d" },
  },
};
const machine: Machine = {
  apiVersion: "ccts.io/v1alpha1",
  kind: "Machine",
  metadata: { name: "m", namespace: "default" },
  spec: { clusterDesc: "c", mac: "52:54:00:00:00:01", hostname: "h" },
};

function render(text: string) {
  return renderMachine({
    cluster,
    machine,
    machines: [machine],
    templates: [{ output: "x", origin: "inline:x", text }],
  });
}
const content = (text: string) => {
  const r = render(text);
  if (!r.ok) throw new Error(r.failure.message);
  return r.documents[0]!.content;
};

describe("block helpers", () => {
  it("{{#base64}} encodes its rendered block, in the current context", () => {
    expect(content("{{#base64~}}\nH={{machine.hostname}}\n{{/base64}}")).toBe(
      Buffer.from("H=h\n").toString("base64"),
    );
    expect(content("{{#each machines}}{{#base64}}{{hostname}}{{/base64}}{{/each}}")).toBe(
      Buffer.from("h").toString("base64"),
    );
  });

  it("{{#quote}} quotes its rendered block as a JSON/YAML string", () => {
    expect(content('{{#quote}}a "{{machine.hostname}}"\n{{/quote}}')).toBe('"a \\"h\\"\\n"');
  });

  it("the block form takes no argument, and strictness holds inside the block", () => {
    const both = render('{{#base64 "x"}}y{{/base64}}');
    expect(both.ok).toBe(false);
    if (!both.ok) expect(both.failure.message).toContain("takes no argument");
    const typo = render("{{#base64}}{{machine.hostnam}}{{/base64}}");
    expect(typo.ok).toBe(false);
    if (!typo.ok) expect(typo.failure.message).toContain('"hostnam" not defined in machine');
  });
});
