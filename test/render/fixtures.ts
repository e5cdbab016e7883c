// Small declarations for render tests.
import type { ClusterDesc, ClusterDescSpec, Machine, MachineSpec } from "../../src/api/types.js";
import type { RenderInput, TemplateSource } from "../../src/render/types.js";

export function cluster(spec: Partial<ClusterDescSpec> = {}, name = "lab"): ClusterDesc {
  return {
    apiVersion: "ccts.io/v1alpha1",
    kind: "ClusterDesc",
    metadata: { name, namespace: "default" },
    spec: {
      network: {
        bootstrapperIP: "10.20.0.2",
        subnet: "10.20.0.0",
        netmask: "255.255.255.0",
        domain: "lab.example.org",
      },
      ...spec,
    },
  };
}

export function machine(name: string, spec: Partial<MachineSpec> = {}): Machine {
  return {
    apiVersion: "ccts.io/v1alpha1",
    kind: "Machine",
    metadata: { name, namespace: "default" },
    spec: { clusterDesc: "lab", mac: "52:54:00:00:00:01", ...spec },
  };
}

export function inline(output: string, text: string): TemplateSource {
  return { output, origin: `inline:${output}`, text };
}

/** Input rendering one text template `out.txt` for `m` (alone in its cluster unless `machines`). */
export function textInput(
  text: string,
  m = machine("m1"),
  c = cluster(),
  machines: Machine[] = [m],
): RenderInput {
  return { cluster: c, machine: m, machines, templates: [inline("out.txt", text)] };
}
