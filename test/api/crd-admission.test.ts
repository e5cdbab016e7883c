// The CRDs in crds/ against a real kube-apiserver (test/control-plane): what admission accepts and
// rejects, with which message, and what kubectl shows (explain, printer columns, status subresource).
import { readFileSync } from "node:fs";
import yaml from "js-yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { importLegacy, toManifests } from "../../src/legacy/import.js";
import { kubectl, type TestNamespace, testNamespace } from "../control-plane/namespace.ts";
import { LEGACY_CLUSTER_DESC } from "../support/shared.js";

let ns: TestNamespace;
beforeAll(async () => {
  ns = await testNamespace("crd-admission");
});
afterAll(() => ns?.cleanup());

type Obj = Record<string, unknown> & { metadata: { name: string; namespace?: string } };

function machine(name: string, spec: Record<string, unknown>): Obj {
  return { apiVersion: "ccts.io/v1alpha1", kind: "Machine", metadata: { name }, spec };
}

function clusterDesc(name: string, spec: Record<string, unknown>): Obj {
  return { apiVersion: "ccts.io/v1alpha1", kind: "ClusterDesc", metadata: { name }, spec };
}

const network = {
  bootstrapperIP: "10.20.0.2",
  subnet: "10.20.0.0",
  netmask: "255.255.255.0",
  domain: "lab.test",
};

/** `kubectl create` in the test namespace; resolves with exit code and output, never throws. */
function create(obj: Obj) {
  return kubectl(["create", "-n", ns.name, "-f", "-", "-o", "json"], { input: JSON.stringify(obj) });
}

async function createOk(obj: Obj): Promise<Record<string, unknown>> {
  const r = await create(obj);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout);
}

async function rejected(obj: Obj): Promise<string> {
  const r = await create(obj);
  expect(r.code, `expected rejection, got ${r.stdout}`).not.toBe(0);
  return r.stderr;
}

describe("CRDs in a real API server", () => {
  it("both CRDs are Established, with short names and the ccts category", async () => {
    const r = await kubectl(["get", "crd", "machines.ccts.io", "clusterdescs.ccts.io", "-o", "json"]);
    expect(r.code).toBe(0);
    const items = JSON.parse(r.stdout).items as {
      metadata: { name: string };
      spec: { names: { shortNames: string[]; categories: string[] } };
      status: { conditions: { type: string; status: string }[] };
    }[];
    expect(items.map((i) => i.metadata.name).sort()).toEqual(["clusterdescs.ccts.io", "machines.ccts.io"]);
    for (const crd of items) {
      expect(crd.status.conditions.find((c) => c.type === "Established")?.status).toBe("True");
      expect(crd.spec.names.categories).toEqual(["ccts"]);
      expect(crd.spec.names.shortNames).not.toContain("ma"); // Cluster API's Machine
    }
  });

  it("accepts the example cluster (examples/cluster) and lists it by category and short name", async () => {
    const docs: Obj[] = [];
    for (const file of ["examples/cluster/cluster.yaml", "examples/cluster/machines.yaml"]) {
      for (const doc of yaml.loadAll(readFileSync(file, "utf8")) as Obj[]) {
        doc.metadata.namespace = undefined; // the examples say `default`; we use our own namespace
        docs.push(doc);
      }
    }
    const list = { apiVersion: "v1", kind: "List", items: docs };
    const r = await kubectl(["apply", "-n", ns.name, "-f", "-"], { input: JSON.stringify(list) });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const all = await kubectl(["get", "ccts", "-n", ns.name, "-o", "name"]);
    expect(all.stdout.split("\n").filter(Boolean).sort()).toEqual(
      [
        "clusterdesc.ccts.io/lab",
        ...docs.filter((d) => d.kind === "Machine").map((d) => `machine.ccts.io/${d.metadata.name}`),
      ].sort(),
    );
    const short = await kubectl(["get", "mach,cdesc", "-n", ns.name, "-o", "name"]);
    expect(short.code).toBe(0);
    expect(short.stdout).toContain("machine.ccts.io/master-1");
    expect(short.stdout).toContain("clusterdesc.ccts.io/lab");
  });

  it("accepts what `ccts import` makes of the legacy cluster-desc.yml, applied as a user would", async () => {
    const legacy = readFileSync(LEGACY_CLUSTER_DESC, "utf8").replace(
      'cur_host_name: "etcd-2"',
      "cur_host_name: 0042",
    );
    const manifests = toManifests(importLegacy(legacy, { name: "legacy", namespace: ns.name }));
    const r = await kubectl(["apply", "-f", "-"], { input: manifests });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const get = await kubectl(["get", "machines.ccts.io", "-n", ns.name, "-o", "json"]);
    const machines = JSON.parse(get.stdout).items as {
      metadata: { name: string };
      spec: Record<string, unknown>;
    }[];
    const imported = machines.filter((m) => m.spec.clusterDesc === "legacy");
    expect(imported.map((m) => [m.metadata.name, m.spec.hostname ?? null]).sort()).toEqual([
      ["0042", "0042"],
      ["52-54-00-0a-00-13", null],
      ["52-54-00-0a-00-21", null],
      ["52-54-00-0a-00-22", null],
      ["master-1", "master-1"],
    ]);
  });

  it("defaults roles to [worker] and keeps every MAC notation as written", async () => {
    const created = await createOk(machine("defaults", { clusterDesc: "lab", mac: "0025.90C0.F780" }));
    expect(created.spec).toEqual({ clusterDesc: "lab", mac: "0025.90C0.F780", roles: ["worker"] });
  });

  it("rejects a malformed MAC in spec.mac and in interfaces[].mac, naming the field", async () => {
    const msg = await rejected(machine("bad-mac", { clusterDesc: "lab", mac: "00:25:90:c0:f7" }));
    expect(msg).toMatch(/The Machine "bad-mac" is invalid/);
    expect(msg).toMatch(/spec\.mac: Invalid value: "00:25:90:c0:f7": spec\.mac in body should match/);
    const msg2 = await rejected(
      machine("bad-if-mac", {
        clusterDesc: "lab",
        mac: "00:25:90:c0:f7:80",
        interfaces: [{ mac: "00:25-90:c0:f7:81" }],
      }),
    );
    expect(msg2).toMatch(/spec\.interfaces\[0\]\.mac: Invalid value: "00:25-90:c0:f7:81"/);
  });

  it("rejects missing required fields with Required value", async () => {
    const m = await rejected(machine("no-cluster", { mac: "00:25:90:c0:f7:80" }));
    expect(m).toMatch(/spec\.clusterDesc: Required value/);
    const c = await rejected(clusterDesc("no-domain", { network: { ...network, domain: undefined } }));
    expect(c).toMatch(/spec\.network\.domain: Required value/);
    const s = await rejected({
      apiVersion: "ccts.io/v1alpha1",
      kind: "Machine",
      metadata: { name: "no-spec" },
    });
    expect(s).toMatch(/spec: Required value/);
  });

  it("rejects a malformed IPv4 address", async () => {
    const msg = await rejected(
      machine("bad-ip", { clusterDesc: "lab", mac: "00:25:90:c0:f7:80", ip: "10.0.0.256" }),
    );
    expect(msg).toMatch(/spec\.ip: Invalid value: "10\.0\.0\.256": spec\.ip in body must be of type ipv4/);
    // format ipv4 alone takes leading zeros (read as decimal); dnsmasq and cloud-init refuse them.
    const zeros = await rejected(
      machine("zero-ip", { clusterDesc: "lab", mac: "00:25:90:c0:f7:80", ip: "010.020.000.011" }),
    );
    expect(zeros).toMatch(/spec\.ip: Invalid value: "010\.020\.000\.011": spec\.ip in body should match/);
  });

  it("CEL: interface MACs must differ from spec.mac (in any notation) and from each other", async () => {
    const same = await rejected(
      machine("if-same", {
        clusterDesc: "lab",
        mac: "00:25:90:c0:f7:80",
        interfaces: [{ mac: "002590C0F780" }],
      }),
    );
    expect(same).toMatch(
      /spec\.interfaces: Invalid value: .*interface MACs must differ from spec\.mac and from each other/,
    );
    const twice = await rejected(
      machine("if-twice", {
        clusterDesc: "lab",
        mac: "00:25:90:c0:f7:80",
        interfaces: [{ mac: "00:25:90:c0:f7:81" }, { mac: "00-25-90-c0-f7-81" }],
      }),
    );
    expect(twice).toMatch(/interface MACs must differ from spec\.mac and from each other/);
    await createOk(
      machine("if-ok", {
        clusterDesc: "lab",
        mac: "00:25:90:c0:f7:80",
        interfaces: [{ name: "eth1", mac: "00:25:90:c0:f7:81" }],
      }),
    );
  });

  it("CEL: a template takes exactly one source, output names are unique, dhcpRange is ordered", async () => {
    const both = await rejected(
      clusterDesc("tpl-both", {
        network,
        templates: [{ output: "ipxe", inline: "#!ipxe", configMapKeyRef: { name: "t", key: "ipxe" } }],
      }),
    );
    expect(both).toMatch(/spec\.templates\[0\]: Invalid value: .*exactly one of configMapKeyRef and inline/);
    const none = await rejected(clusterDesc("tpl-none", { network, templates: [{ output: "ipxe" }] }));
    expect(none).toMatch(/exactly one of configMapKeyRef and inline/);
    const dup = await rejected(
      clusterDesc("tpl-dup", {
        network,
        templates: [
          { output: "ipxe", inline: "a" },
          { output: "ipxe", inline: "b" },
        ],
      }),
    );
    expect(dup).toMatch(/spec\.templates: Invalid value: .*each template output name may appear only once/);
    const range = await rejected(
      clusterDesc("bad-range", {
        network: { ...network, dhcpRange: { start: "10.20.0.200", end: "10.20.0.100" } },
      }),
    );
    expect(range).toMatch(
      /spec\.network\.dhcpRange: Invalid value: .*dhcpRange\.start must not be after dhcpRange\.end/,
    );
    // Same numbers, compared as numbers and not as strings ("10.20.0.9" > "10.20.0.100" as text).
    await createOk(
      clusterDesc("range-ok", {
        network: { ...network, dhcpRange: { start: "10.20.0.9", end: "10.20.0.100" } },
      }),
    );
  });

  it("kubectl explain shows the field descriptions", async () => {
    const r = await kubectl(["explain", "machines.spec", "--api-version=ccts.io/v1alpha1"]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain("Desired state of the machine.");
    expect(r.stdout).toMatch(/mac\s+<string> -required-/);
    expect(r.stdout).toContain("MAC address of the boot interface: the key machines ask with.");
    expect(r.stdout).toMatch(/clusterDesc\s+<string> -required-/);
    expect(r.stdout).toContain("Roles: master, etcd, worker, ingress");
    const nested = await kubectl(["explain", "clusterdescs.spec.network.dhcpRange.start"]);
    expect(nested.stdout).toContain("First address handed out to machines without a fixed IP.");
  });

  it("kubectl get shows the printer columns, and status is written only through /status", async () => {
    await createOk(
      machine("cols", {
        clusterDesc: "lab",
        mac: "52:54:00:aa:bb:01",
        hostname: "node-1",
        roles: ["master", "etcd"],
      }),
    );
    const rendered = {
      status: {
        configMap: "cols-rendered",
        conditions: [
          {
            type: "Rendered",
            status: "True",
            reason: "Rendered",
            message: "3 documents",
            lastTransitionTime: "2024-01-01T00:00:00Z",
          },
        ],
      },
    };
    // Through the main resource: accepted, but the status stanza is dropped.
    const main = await kubectl([
      "patch",
      "machine.ccts.io",
      "cols",
      "-n",
      ns.name,
      "--type=merge",
      "-p",
      JSON.stringify(rendered),
    ]);
    expect(main.code).toBe(0);
    const afterMain = await kubectl(["get", "machine.ccts.io", "cols", "-n", ns.name, "-o", "json"]);
    expect(JSON.parse(afterMain.stdout).status).toBeUndefined();

    const get = await kubectl(["get", "machines.ccts.io", "-n", ns.name, "cols"]);
    const [header, row] = get.stdout.trim().split("\n");
    expect(header?.split(/\s+/)).toEqual(["NAME", "MAC", "HOSTNAME", "ROLES", "RENDERED", "AGE"]);
    expect(row).toMatch(/^cols\s+52:54:00:aa:bb:01\s+node-1\s+\["master","etcd"\]\s+\S+s$/); // RENDERED empty

    // Through /status: sticks, and the Rendered column shows it.
    const sub = await kubectl([
      "patch",
      "machine.ccts.io",
      "cols",
      "-n",
      ns.name,
      "--subresource=status",
      "--type=merge",
      "-p",
      JSON.stringify(rendered),
    ]);
    expect(sub.stderr).toBe("");
    const afterSub = await kubectl(["get", "machine.ccts.io", "cols", "-n", ns.name, "-o", "json"]);
    expect(JSON.parse(afterSub.stdout).status.configMap).toBe("cols-rendered");
    const get2 = await kubectl(["get", "machines.ccts.io", "-n", ns.name, "cols", "--no-headers"]);
    expect(get2.stdout).toMatch(/^cols\s+52:54:00:aa:bb:01\s+node-1\s+\["master","etcd"\]\s+True\s+\S+$/m);
    const wide = await kubectl(["get", "machines.ccts.io", "-n", ns.name, "cols", "-o", "wide"]);
    expect(wide.stdout.split("\n")[0]?.split(/\s+/)).toEqual([
      "NAME",
      "MAC",
      "HOSTNAME",
      "ROLES",
      "RENDERED",
      "IP",
      "CLUSTERDESC",
      "AGE",
    ]);

    // A spec change sent to /status is ignored too.
    await kubectl([
      "patch",
      "machine.ccts.io",
      "cols",
      "-n",
      ns.name,
      "--subresource=status",
      "--type=merge",
      "-p",
      '{"spec":{"hostname":"x"}}',
    ]);
    const afterSpec = await kubectl([
      "get",
      "machine.ccts.io",
      "cols",
      "-n",
      ns.name,
      "-o",
      "jsonpath={.spec.hostname}",
    ]);
    expect(afterSpec.stdout).toBe("node-1");

    // Status is validated too: a condition status outside True/False/Unknown is rejected.
    const bad = structuredClone(rendered);
    (bad.status.conditions[0] as { status: string }).status = "Maybe";
    const badSub = await kubectl([
      "patch",
      "machine.ccts.io",
      "cols",
      "-n",
      ns.name,
      "--subresource=status",
      "--type=merge",
      "-p",
      JSON.stringify(bad),
    ]);
    expect(badSub.code).not.toBe(0);
    expect(badSub.stderr).toMatch(/status\.conditions\[0\]\.status: Unsupported value: "Maybe"/);
  });

  it("ClusterDesc printer columns: Domain, Machines, Age", async () => {
    await createOk(clusterDesc("cols", { network }));
    await kubectl([
      "patch",
      "clusterdesc.ccts.io",
      "cols",
      "-n",
      ns.name,
      "--subresource=status",
      "--type=merge",
      "-p",
      '{"status":{"machines":3}}',
    ]);
    const get = await kubectl(["get", "clusterdescs.ccts.io", "-n", ns.name, "cols"]);
    const [header, row] = get.stdout.trim().split("\n");
    expect(header?.split(/\s+/)).toEqual(["NAME", "DOMAIN", "MACHINES", "AGE"]);
    expect(row).toMatch(/^cols\s+lab\.test\s+3\s+\S+$/);
  });
});
