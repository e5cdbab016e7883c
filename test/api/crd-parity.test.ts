// The embedded store's checks (checkObject, what `ccts serve --dir` accepts) against the API
// server's admission of the same object through the CRDs (`kubectl create --dry-run=server`,
// field validation Strict as kubectl sends it): the example ClusterDesc and Machine, a template
// ConfigMap, and each with one field broken the way a hand-written file breaks it. Both must
// accept the same objects.
import { readFileSync } from "node:fs";
import yaml from "js-yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkObject } from "../../src/api/validate.js";
import { kubectl, type TestNamespace, testNamespace } from "../control-plane/namespace.ts";

let ns: TestNamespace;
beforeAll(async () => {
  ns = await testNamespace("crd-parity");
});
afterAll(() => ns?.cleanup());

type Obj = Record<string, unknown>;

function example(file: string): Obj {
  const doc = (yaml.loadAll(readFileSync(file, "utf8")) as Obj[])[0] as Obj;
  (doc.metadata as Obj).namespace = undefined;
  return JSON.parse(JSON.stringify(doc));
}

const clusterDesc = example("examples/cluster/cluster.yaml");
const machine = example("examples/cluster/machines.yaml");

/** `base` with the field at dotted `path` set to `value` (undefined: removed). */
function withField(base: Obj, path: string, value: unknown): Obj {
  const copy = structuredClone(base);
  const keys = path.split(".");
  const last = keys.pop() as string;
  let cur = copy;
  for (const k of keys) {
    cur[k] ??= {};
    cur = cur[k] as Obj;
  }
  if (value === undefined) delete cur[last];
  else cur[last] = value;
  return copy;
}

const TEMPLATES: Obj = {
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: "tpl" },
  data: { "cloud-config": "#cloud-config\nhostname: {{machine.hostname}}\n" },
};
const MAC_A = "52:54:00:12:34:0a";
const MAC_B = "52:54:00:12:34:0b";
const CASES: [string, Obj][] = [
  ["the example ClusterDesc", clusterDesc],
  ["the example Machine", machine],
  // Machine
  ...(
    [
      ["spec.hostname", 42],
      ["spec.hostname", "0042"],
      ["spec.hostname", "h".repeat(254)],
      ["spec.hostname", null],
      ["spec.ip", "10.20.0.300"],
      ["spec.ip", "010.020.000.011"],
      ["spec.ip", "10.20.0"],
      ["spec.ip", "10.20.0.11 "],
      ["spec.ip", null],
      ["spec.foo", 1],
      ["spec.roles", ["etcd", "etcd"]],
      ["spec.roles", ["Master"]],
      ["spec.roles", "worker"],
      ["spec.roles", []],
      ["spec.roles", undefined],
      ["spec.mac", "52:54:00:12:34:01:02"],
      ["spec.mac", "5254.0012.3401"],
      ["spec.mac", "52%3A54%3A00%3A12%3A34%3A01"],
      ["spec.mac", 525400123401],
      ["spec.mac", undefined],
      ["spec.clusterDesc", ""],
      ["spec.clusterDesc", undefined],
      ["spec.interfaces", [{ mac: MAC_A }, { mac: MAC_B, name: "eth1", ip: "10.20.0.99" }]],
      ["spec.interfaces", [{ mac: "52-54-00-12-34-01" }]],
      ["spec.interfaces", [{ mac: MAC_A }, { mac: MAC_A.toUpperCase() }]],
      ["spec.interfaces", [{ mac: MAC_A, name: "eth0123456789012" }]],
      ["spec.interfaces", [{ name: "eth1" }]],
      ["spec.interfaces", [{ mac: MAC_A, ip: "ten" }]],
      ["spec.interfaces", [{ mac: MAC_A, speed: 10 }]],
      ["spec.variables", { rack: 7, disks: ["sda", null], nested: { any: true } }],
      ["spec.flannelInterface", 5],
      ["spec", undefined],
      ["status", { configMap: "x", anything: 1 }],
      ["status", { configMap: "x", observedGeneration: -1 }],
      ["status", { conditions: [{ type: "Rendered" }] }],
      ["status", { certificate: { notAfter: "soon" } }],
      ["metadata.name", "Master-1"],
      ["metadata.name", "master_1"],
      ["metadata.name", "master.1"],
      ["metadata.nmae", "master-1"],
      ["metadata.labels", { rack: "r7", "ccts.io/zone": "a" }],
      ["metadata.labels", { "bad key!": "a" }],
      ["metadata.labels", { rack: 7 }],
      ["metadata.annotations", { note: "free text, any length" }],
      ["metadata.annotations", { note: 5 }],
      ["metadata.labels", { rack: "r".repeat(64) }],
      ["metadata.labels", { "Example.COM/rack": "r7" }],
    ] as [string, unknown][]
  ).map(([path, value]): [string, Obj] => [
    `Machine ${path} = ${JSON.stringify(value)}`,
    withField(machine, path, value),
  ]),
  // ClusterDesc
  ...(
    [
      ["spec.network.dhcpRange", { start: "10.20.0.200", end: "10.20.0.100" }],
      ["spec.network.dhcpRange", { start: "10.20.0.100", end: "10.20.0.100" }],
      ["spec.network.dhcpRange", { start: "10.20.0.100" }],
      ["spec.network.subnet", "10.20.0.0/24"],
      ["spec.network.routers", ["10.20.0.1", "gateway"]],
      ["spec.network.routers", Array.from({ length: 9 }, (_, i) => `10.20.0.${i + 1}`)],
      ["spec.network.pxe", "y"],
      ["spec.network.lease", "1".repeat(33)],
      ["spec.network.domain", ""],
      ["spec.network.bootstrapperIP", undefined],
      ["spec.network.mtu", 1500],
      ["spec.kubernetes.serviceClusterIPRange", "10.96.0.0/33"],
      ["spec.kubernetes.serviceClusterIPRange", "10.96.0.0/12"],
      ["spec.kubernetes.serviceClusterIPRange", "10.96.0.0"],
      ["spec.kubernetes.serviceClusterIPRange", "10.96.0.0/016"],
      ["spec.kubernetes.serviceClusterIPRange", "010.96.0.0/16"],
      ["spec.kubernetes.serviceClusterIPRange", "10.96.0.1/16"],
      ["spec.serverURL", "ftp://10.20.0.2"],
      ["spec.images", { pause: 3.1 }],
      ["spec.images", { pause: "registry.k8s.io/pause:3.10" }],
      ["spec.sshAuthorizedKeys", "ssh-ed25519 AAAA ops@lab"],
      ["spec.templates", [{ output: "cloud-config", inline: "x", configMapKeyRef: { name: "t", key: "k" } }]],
      ["spec.templates", [{ output: "cloud-config" }]],
      [
        "spec.templates",
        [
          { output: "cloud-config", inline: "a" },
          { output: "cloud-config", inline: "b" },
        ],
      ],
      ["spec.templates", [{ output: "Cloud-Config", inline: "a" }]],
      ["spec.templates", [{ output: "ipxe", configMapKeyRef: { name: "t" } }]],
      // A null is dropped by the API server before its rules run: one source, and no git.
      ["spec.templates", [{ output: "ipxe", inline: "#!ipxe", configMapKeyRef: null }]],
      ["spec.git", { url: "https://git.example.org/lab.git", interval: "10m" }],
      ["spec.git", { url: "file:///srv/lab.git" }],
      ["spec.git", { url: "https://git.example.org/lab\u00a0copy.git" }],
      ["spec.git", { url: "https://git.example.org/lab copy.git" }],
      ["spec.git", { url: "https://git.example.org/lab.git", interval: "1d" }],
      ["spec.pki", { certificateLifetime: "1y" }],
      ["spec.variables", { anything: [1, "two", { three: null }] }],
      ["spec.extra", true],
    ] as [string, unknown][]
  ).map(([path, value]): [string, Obj] => [
    `ClusterDesc ${path} = ${JSON.stringify(value)}`,
    withField(clusterDesc, path, value),
  ]),
  ["a template ConfigMap", TEMPLATES],
  ["a template ConfigMap named Tpl_1", { ...TEMPLATES, metadata: { name: "Tpl_1" } }],
  ["a template ConfigMap with a number in data", { ...TEMPLATES, data: { "cloud-config": 5 } }],
  ["a template ConfigMap with a typo'd field", { ...TEMPLATES, datas: { a: "b" } }],
  [
    "ClusterDesc with templates and a null git",
    withField(withField(clusterDesc, "spec.git", null), "spec.templates", [
      { output: "ipxe", inline: "#!ipxe" },
    ]),
  ],
  [
    "ClusterDesc with both git and templates",
    withField(
      withField(clusterDesc, "spec.git", { url: "https://git.example.org/lab.git" }),
      "spec.templates",
      [{ output: "ipxe", inline: "#!ipxe" }],
    ),
  ],
];

/** The API server's verdict: undefined when it admits the object, else its message. */
async function admission(obj: Obj): Promise<string | undefined> {
  const r = await kubectl(["create", "--dry-run=server", "-n", ns.name, "-f", "-", "-o", "name"], {
    input: JSON.stringify(obj),
  });
  return r.code === 0 ? undefined : r.stderr.trim() || `exit ${r.code}`;
}

function embedded(obj: Obj): string | undefined {
  try {
    checkObject(obj);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

describe("ccts serve --dir accepts what the API server admits, and nothing else", () => {
  it(`agrees with the API server on ${CASES.length} objects`, async () => {
    const verdicts: { name: string; api?: string; ccts?: string }[] = [];
    for (let i = 0; i < CASES.length; i += 4) {
      const batch = CASES.slice(i, i + 4);
      const api = await Promise.all(batch.map(([, obj]) => admission(obj)));
      batch.forEach(([name, obj], j) => {
        verdicts.push({ name, api: api[j], ccts: embedded(obj) });
      });
    }
    const disagreements = verdicts
      .filter((v) => (v.api === undefined) !== (v.ccts === undefined))
      .map((v) => `${v.name}: API server ${v.api ?? "admits"}; ccts ${v.ccts ?? "accepts"}`);
    expect(disagreements).toEqual([]);
    // Both sides refuse a fair share: the cases test refusals, not only the happy path.
    const refused = verdicts.filter((v) => v.api !== undefined).length;
    expect(refused).toBeGreaterThan(CASES.length / 2);
    expect(refused).toBeLessThan(CASES.length);
  }, 120_000);

  it("names the field and what is wrong with it", () => {
    expect(embedded(withField(machine, "spec.ip", "10.20.0.300"))).toMatch(
      /spec\.ip: must be of format ipv4/,
    );
    expect(embedded(withField(machine, "spec.ip", "010.020.000.011"))).toMatch(
      /spec\.ip: must be of format ipv4, without leading zeros$/,
    );
    expect(embedded(withField(machine, "spec.hostname", 42))).toMatch(
      /spec\.hostname: must be of type string, got integer \(quote it in YAML\)/,
    );
    expect(embedded(withField(machine, "spec.foo", 1))).toMatch(/spec\.foo: unknown field/);
    expect(
      embedded(
        withField(clusterDesc, "spec.network.dhcpRange", { start: "10.20.0.200", end: "10.20.0.100" }),
      ),
    ).toMatch(/spec\.network\.dhcpRange: dhcpRange\.start must not be after dhcpRange\.end/);
  });
});
