// renderMachine: strict mode, validation failures and their messages, determinism, the compile
// cache, size limits, template resolution and the template data.
import { describe, expect, it } from "vitest";
import type { Machine } from "../../src/api/types.js";
import {
  builtinDnsmasqTemplate,
  builtinTemplates,
  CONTENT_TYPES,
  compileCount,
  contentHash,
  contentHashWith,
  DEFAULT_MAX_BYTES,
  formatOf,
  renderMachine,
  resolveDnsmasqTemplate,
  resolveTemplates,
  templateConfigMapNames,
  templateData,
} from "../../src/render/index.js";
import type { RenderFailure, RenderInput, RenderResult } from "../../src/render/types.js";
import { cluster, inline, machine, textInput } from "./fixtures.js";

function failureOf(r: RenderResult): RenderFailure {
  if (r.ok) throw new Error(`expected a failure, got ${r.documents.map((d) => d.output).join(", ")}`);
  return r.failure;
}

function contentOf(r: RenderResult, output = "out.txt"): string {
  if (!r.ok) throw new Error(r.failure.message);
  const doc = r.documents.find((d) => d.output === output);
  if (!doc) throw new Error(`no ${output}`);
  return doc.content;
}

function withTemplate(output: string, text: string, m = machine("worker-1")): RenderInput {
  return { cluster: cluster(), machine: m, machines: [m], templates: [inline(output, text)] };
}

describe("strict mode", () => {
  it("fails on a typo in a printed path, with the line and the message format", () => {
    const text = `#cloud-config\n${"\n".repeat(10)}hostname: {{machine.hostnam}}\n`;
    const r = renderMachine({
      ...withTemplate("cloud-config", text),
      templates: [{ output: "cloud-config", origin: "configmap/tpl:cloud-config", text }],
    });
    const f = failureOf(r);
    expect(f).toMatchObject({
      reason: "TemplateError",
      machine: "default/worker-1",
      output: "cloud-config",
      origin: "configmap/tpl:cloud-config",
      line: 12,
    });
    expect(f.message).toBe(
      'machine default/worker-1: template cloud-config (configmap/tpl:cloud-config) line 12: "hostnam" not defined in machine',
    );
  });

  it("fails on a typo passed to a helper or tested with #if, naming the line", () => {
    const f = failureOf(renderMachine(textInput("a\n{{#if machine.hostnam}}x{{/if}}\n")));
    expect(f).toMatchObject({ reason: "TemplateError", line: 2 });
    expect(f.message).toContain('"hostnam" not defined in machine');
    const g = failureOf(renderMachine(textInput("\n\n{{indent 2 cluster.netwrk.domain}}")));
    expect(g).toMatchObject({ line: 3 });
    expect(g.message).toContain('"netwrk" not defined in cluster');
    const h = failureOf(renderMachine(textInput("{{#each machines}}\n{{#if ipp}}x{{/if}}{{/each}}")));
    expect(h.message).toContain('"ipp" not defined in machines[]');
    expect(h.line).toBe(2);
    const i = failureOf(renderMachine(textInput("{{#if machin.ip}}x{{/if}}")));
    expect(i.message).toContain('"machin" not defined in the template data');
    const j = failureOf(renderMachine(textInput("{{#if machine.roles.lenght}}x{{/if}}")));
    expect(j.message).toContain('"lenght" not defined in machine.roles');
  });

  it("stays strict in every render of a pass, where the cluster's data is made once and shared", () => {
    // The second and later Machines of one list reuse the cluster facts the first one made.
    const machines = [1, 2, 3].map((i) => machine(`m${i}`, { mac: `52:54:00:00:00:0${i}` }));
    const shared = cluster();
    const input = (m: Machine, text: string): RenderInput => ({
      cluster: shared,
      machine: m,
      machines,
      templates: [inline("out.txt", text)],
    });
    for (const m of machines) {
      expect(
        contentOf(renderMachine(input(m, "{{machines.length}} {{machines.[1].name}} {{cluster.name}}"))),
      ).toBe("3 m2 lab");
      expect(
        failureOf(renderMachine(input(m, "{{#each machines}}{{#if hostnam}}{{/if}}{{/each}}"))).message,
      ).toContain('"hostnam" not defined in machines[]');
      expect(failureOf(renderMachine(input(m, "{{#if cluster.netwrk}}{{/if}}"))).message).toContain(
        '"netwrk" not defined in cluster',
      );
    }
  });

  it("leaves the caller's objects as they were", () => {
    const tls = { ca: "CA", cert: "CERT", key: "KEY" };
    const m = machine("m1");
    const r = renderMachine({ ...textInput("{{tls.ca}} {{#if tls.crt}}{{/if}}", m), tls });
    expect(failureOf(r).message).toContain('"crt" not defined in tls');
    expect(Object.getPrototypeOf(tls)).toBe(Object.prototype);
    expect(Object.getPrototypeOf(m)).toBe(Object.prototype);
    expect(Object.getPrototypeOf(m.spec)).toBe(Object.prototype);
    expect((tls as Record<string, unknown>).crt).toBeUndefined();
  });

  it("lets templates test documented optional fields and free-form variables", () => {
    const m = machine("m1", { variables: { a: 1 } });
    const text =
      "{{#if machine.ip}}ip{{else}}dhcp{{/if}} {{#if machine.flannelInterface}}f{{else}}-{{/if}} " +
      "{{#if variables.timezone}}tz{{else}}no-tz{{/if}} {{#if cluster.network.dhcpRange}}r{{else}}no-range{{/if}} " +
      "{{#if cluster.network.dhcpRange}}{{cluster.network.dhcpRange.start}}{{/if}}{{machine.ip}}|{{cluster.network.lease}}|{{variables.a}}";
    expect(contentOf(renderMachine(textInput(text, m)))).toBe("dhcp - no-tz no-range ||1");
    const f = failureOf(renderMachine(textInput("\n{{#if cluster.network.dhcpRange.start}}s{{/if}}", m)));
    expect(f).toMatchObject({ reason: "TemplateError", line: 2 });
    expect(f.message).toContain('"start" read from null');
  });

  it("fails when a missing variable is printed", () => {
    const f = failureOf(renderMachine(textInput("\n{{variables.timezone}}")));
    expect(f).toMatchObject({ reason: "TemplateError", line: 2 });
    expect(f.message).toContain('"timezone" not defined in object');
  });

  it("reports parse errors and unknown helpers with their line", () => {
    const p = failureOf(renderMachine(textInput("ok\n{{#if machine.ip}\n")));
    expect(p).toMatchObject({ reason: "TemplateError", line: 2 });
    expect(p.message).toMatch(
      /^machine default\/m1: template out.txt \(inline:out.txt\) line 2: parse error near /,
    );
    expect(p.message).not.toContain("\n");
    const b = failureOf(renderMachine(textInput("\n\n{{#if machine.ip}}x{{/each}}")));
    expect(b).toMatchObject({ line: 3 });
    expect(b.message).toContain("if doesn't match each");
    const u = failureOf(renderMachine(textInput("{{nohelper 3}}")));
    expect(u.message).toContain('"nohelper" not defined');
  });
});

describe("output validation", () => {
  const cases: [string, string, RegExp][] = [
    [
      "cloud-config",
      "hostname: x\n",
      /output line 1: cloud-config: a cloud-config must start with the line "#cloud-config"/,
    ],
    ["user-data", "#cloud-config\n- a\n", /cloud-config: a cloud-config must be a YAML mapping, got a list/],
    ["cloud-config", "#cloud-config\n# nothing\n", /must be a YAML mapping, got an empty document/],
    [
      "cloud-config",
      "#cloud-config\na: 1\n  b: 2\n",
      /output line 3: cloud-config: invalid YAML: bad indentation/,
    ],
    [
      "vendor-data",
      "#cloud-config\na: 1\na: 2\n",
      /output line 3: cloud-config: invalid YAML: duplicated mapping key/,
    ],
    ["ipxe", "#!/bin/sh\n", /output line 1: ipxe: an iPXE script must start with "#!ipxe"/],
    ["boot.ipxe", "echo\n", /ipxe: an iPXE script must start with "#!ipxe"/],
    ["install.sh", "set -eu\n", /shell: a shell script must start with "#!"/],
    ["meta-data", "just text\n", /yaml: the document must be a YAML mapping, got string/],
    ["x.yml", "a: [1\n", /yaml: invalid YAML/],
    ["facts.json", '{"a": 1,\n}', /json: invalid JSON/],
  ];
  for (const [output, text, expected] of cases) {
    it(`rejects ${output}: ${JSON.stringify(text)}`, () => {
      const f = failureOf(renderMachine(withTemplate(output, text)));
      expect(f.reason).toBe("InvalidOutput");
      expect(f.output).toBe(output);
      expect(f.message).toMatch(/^machine default\/worker-1: template \S+ \(inline:\S+\)[: ]/);
      expect(f.message).toMatch(expected);
    });
  }

  it("accepts valid documents of every format", () => {
    const m = machine("m1");
    const r = renderMachine({
      cluster: cluster(),
      machine: m,
      machines: [m],
      templates: [
        inline("cloud-config", "#cloud-config\n{}\n"),
        inline("ipxe", "#!ipxe\nboot\n"),
        inline("a.sh", "#!/bin/sh\n"),
        inline("meta-data", "a: 1\n"),
        inline("x.json", "[1]"),
        inline("notes", ""),
      ],
    });
    expect(r.ok).toBe(true);
  });

  it("maps output names to formats and content types", () => {
    const names = {
      "cloud-config": "cloud-config",
      "user-data": "cloud-config",
      "vendor-data": "cloud-config",
      ipxe: "ipxe",
      "boot.ipxe": "ipxe",
      "x.ipxe": "ipxe",
      "install.sh": "shell",
      "meta-data": "yaml",
      "network-config": "yaml",
      "a.yaml": "yaml",
      "a.yml": "yaml",
      "a.json": "json",
      "dnsmasq.conf": "text",
    } as const;
    for (const [name, format] of Object.entries(names)) expect(formatOf(name), name).toBe(format);
    expect(CONTENT_TYPES["cloud-config"]).toBe("text/cloud-config; charset=utf-8");
    expect(CONTENT_TYPES.yaml).toBe("application/yaml; charset=utf-8");
  });

  it("honours an explicit format on the template source", () => {
    const m = machine("m1");
    const r = renderMachine({
      cluster: cluster(),
      machine: m,
      machines: [m],
      templates: [{ output: "custom", origin: "inline:custom", text: "#!ipxe\n", format: "ipxe" }],
    });
    expect(r.ok && r.documents[0]).toMatchObject({
      format: "ipxe",
      contentType: "text/plain; charset=utf-8",
    });
  });

  it("rejects output names that are not ConfigMap keys, and repeats", () => {
    expect(failureOf(renderMachine(withTemplate("a/b", "x"))).message).toContain("not a valid ConfigMap key");
    const m = machine("m1");
    const r = renderMachine({
      cluster: cluster(),
      machine: m,
      machines: [m],
      templates: [inline("a", "1"), inline("a", "2")],
    });
    expect(failureOf(r).message).toContain("output a is defined twice");
  });
});

describe("size and machine checks", () => {
  it("fails with OutputTooLarge over the limit, and defaults to 1 MiB minus headroom", () => {
    const big = "x".repeat(600);
    const f = failureOf(renderMachine(textInput(big), { maxBytes: 500 }));
    expect(f.reason).toBe("OutputTooLarge");
    expect(f.message).toBe(
      "machine default/m1: documents total 607 bytes, over the limit of 500 bytes (largest: out.txt, 600 bytes)",
    );
    expect(renderMachine(textInput(big), { maxBytes: 607 }).ok).toBe(true);
    expect(DEFAULT_MAX_BYTES).toBeLessThan(1024 * 1024);
    expect(DEFAULT_MAX_BYTES).toBeGreaterThan(900 * 1024);
    const huge = "{{#each variables.rows}}{{this}}{{/each}}";
    const rows = Array.from({ length: 1100 }, () => "y".repeat(1023));
    expect(failureOf(renderMachine(textInput(huge, machine("m1", { variables: { rows } })))).reason).toBe(
      "OutputTooLarge",
    );
  });

  it("fails with InvalidMachine for a bad MAC, naming the field", () => {
    const f = failureOf(renderMachine(textInput("x", machine("m1", { mac: "52:54:00:zz:00:01" }))));
    expect(f.reason).toBe("InvalidMachine");
    expect(f.message).toMatch(/^machine default\/m1: spec.mac: invalid MAC address "52:54:00:zz:00:01"/);
    const g = failureOf(
      renderMachine(textInput("x", machine("m1", { interfaces: [{ name: "eth1", mac: "nope" }] }))),
    );
    expect(g.message).toMatch(/spec.interfaces\[0\].mac: invalid MAC address "nope"/);
    const h = failureOf(
      renderMachine(textInput("x", machine("m1", { interfaces: [{ mac: "52-54-00-00-00-01" }] }))),
    );
    expect(h.message).toContain("52:54:00:00:00:01 appears twice on this machine");
  });
});

describe("determinism and caching", () => {
  const masters = [1, 2, 3].map((i) =>
    machine(`node-${i}`, { mac: `52:54:00:00:01:0${i}`, hostname: `m${i}`, roles: ["master", "etcd"] }),
  );
  const workers = [4, 5, 6].map((i) => machine(`node-${i}`, { mac: `52:54:00:00:01:0${i}` }));
  const all = [...masters, ...workers];
  const templates = builtinTemplates();

  it("gives the same documents and hash whatever the order of machines and templates", () => {
    const c = cluster();
    const base = renderMachine({ cluster: c, machine: all[0]!, machines: all, templates: [...templates] });
    expect(base.ok).toBe(true);
    for (let seed = 1; seed <= 5; seed++) {
      const shuffled = [...all].sort(
        (a, b) => ((a.metadata.name.charCodeAt(5) * seed) % 7) - ((b.metadata.name.charCodeAt(5) * seed) % 7),
      );
      const r = renderMachine({
        cluster: c,
        machine: all[0]!,
        machines: shuffled,
        templates: [...templates].reverse(),
      });
      expect(r).toEqual(base);
    }
    if (base.ok) {
      expect(base.hash).toMatch(/^[0-9a-f]{20}$/);
      expect(base.documents.map((d) => d.output)).toEqual(templates.map((t) => t.output));
    }
  });

  it("changes the hash when any content changes", () => {
    const c = cluster();
    const a = renderMachine({ cluster: c, machine: all[0]!, machines: all, templates: [...templates] });
    const other = machine("node-1", { mac: "52:54:00:00:01:01", hostname: "m1x", roles: ["master", "etcd"] });
    const b = renderMachine({ cluster: c, machine: other, machines: all, templates: [...templates] });
    expect(a.ok && b.ok && a.hash !== b.hash).toBe(true);
  });

  it("compiles one template text once, however many machines render it", () => {
    const text = `#!ipxe\n# compile-once ${Math.random()}\necho {{machine.hostname}}\n`;
    const before = compileCount();
    for (const m of all) {
      const r = renderMachine({
        cluster: cluster(),
        machine: m,
        machines: all,
        templates: [inline("ipxe", text)],
      });
      expect(r.ok).toBe(true);
    }
    expect(compileCount() - before).toBe(1);
    const bad = `{{#if x}\n${Math.random()}`;
    const beforeBad = compileCount();
    for (const m of all)
      renderMachine({ cluster: cluster(), machine: m, machines: all, templates: [inline("a", bad)] });
    expect(compileCount() - beforeBad).toBe(1);
  });
});

describe("template data", () => {
  it("carries every documented field, normalised", () => {
    const c = cluster({ variables: { a: "cluster", b: "cluster" }, serverURL: "http://ccts.example/" });
    const m = machine("w1", {
      mac: "52-54-00-0A-00-21",
      interfaces: [{ name: "eth1", mac: "525400aa0021", ip: "192.168.1.5" }],
      variables: { b: "machine" },
    });
    const other = machine("a0", {
      mac: "52:54:00:0a:00:01",
      hostname: "etcd-0",
      ip: "10.20.0.5",
      roles: ["etcd", "master"],
    });
    const d = templateData(c, m, [m, other]);
    expect(d.machine).toEqual({
      name: "w1",
      namespace: "default",
      mac: "52:54:00:0a:00:21",
      macs: ["52:54:00:0a:00:21", "52:54:00:aa:00:21"],
      hostname: "52-54-00-0a-00-21",
      fqdn: "52-54-00-0a-00-21.lab.example.org",
      ip: null,
      interfaces: [
        { name: null, mac: "52:54:00:0a:00:21", ip: null, boot: true },
        { name: "eth1", mac: "52:54:00:aa:00:21", ip: "192.168.1.5", boot: false },
      ],
      roles: ["worker"],
      isMaster: false,
      isEtcd: false,
      isWorker: true,
      isIngress: false,
      flannelInterface: null,
      variables: { b: "machine" },
    });
    expect(d.variables).toEqual({ a: "cluster", b: "machine" });
    expect(d.cluster).toEqual({
      name: "lab",
      namespace: "default",
      network: {
        bootstrapperIP: "10.20.0.2",
        subnet: "10.20.0.0",
        netmask: "255.255.255.0",
        prefixLength: 24,
        dhcpRange: null,
        routers: [],
        broadcast: null,
        nameservers: [],
        upstreamNameservers: [],
        domain: "lab.example.org",
        dockerDomain: null,
        lease: null,
        pxe: null,
        ntp: null,
      },
      kubernetes: {
        serviceClusterIPRange: null,
        clusterDNS: null,
        masterIPs: [],
        masterDNSNames: [],
        flannelBackend: null,
      },
      os: {
        name: null,
        channel: null,
        version: null,
        updates: { rebootStrategy: null, windowStart: null, windowLength: null },
      },
      serverURL: "http://ccts.example",
      sshAuthorizedKeys: [],
      images: {},
      variables: { a: "cluster", b: "cluster" },
    });
    expect(d.machines.map((x) => x.name)).toEqual(["a0", "w1"]);
    expect(d.machines[0]).toEqual({
      name: "a0",
      namespace: "default",
      mac: "52:54:00:0a:00:01",
      hostname: "etcd-0",
      fqdn: "etcd-0.lab.example.org",
      ip: "10.20.0.5",
      roles: ["etcd", "master"],
    });
    expect(d.etcd).toEqual({
      initialCluster: "etcd-0=http://etcd-0:2380",
      endpoints: "http://etcd-0:2379",
      members: [{ name: "a0", hostname: "etcd-0", fqdn: "etcd-0.lab.example.org", ip: "10.20.0.5" }],
    });
    expect(d.masters.hostnames).toEqual(["etcd-0"]);
    expect(d.masters.hostnamesJoined).toBe("etcd-0");
  });

  it("defaults serverURL from the bootstrapper IP and includes the machine when the list lacks it", () => {
    const m = machine("solo", { roles: ["etcd"] });
    const d = templateData(cluster(), m, []);
    expect(d.cluster.serverURL).toBe("http://10.20.0.2:8080");
    expect(d.etcd.initialCluster).toBe("52-54-00-00-00-01=http://52-54-00-00-00-01:2380");
  });

  it("leaves out machines of other clusters and machines with invalid MACs", () => {
    const m = machine("a", { roles: ["etcd"] });
    const foreign: Machine = { ...machine("b", { mac: "52:54:00:00:00:02", roles: ["etcd"] }) };
    foreign.spec.clusterDesc = "other";
    const broken = machine("c", { mac: "bad", roles: ["etcd"] });
    const d = templateData(cluster(), m, [m, foreign, broken]);
    expect(d.machines.map((x) => x.name)).toEqual(["a"]);
  });
});

describe("template resolution", () => {
  it("uses the built-in set when spec.templates is empty or absent", () => {
    const r = resolveTemplates(cluster(), () => undefined);
    expect("templates" in r && r.templates.map((t) => t.output)).toEqual([
      "cloud-config",
      "configdrive-meta_data.json",
      "configdrive-network_data.json",
      "ignition.json",
      "install.sh",
      "ipxe",
      "meta-data",
      "network-config",
      "vendor-data",
    ]);
    expect("templates" in r && r.templates[0]!.origin).toBe("builtin:cloud-config");
    expect(resolveTemplates(cluster({ templates: [] }), () => undefined)).toEqual(r);
  });

  it("reads ConfigMap keys and inline text", () => {
    const c = cluster({
      templates: [
        { output: "cloud-config", configMapKeyRef: { name: "tpl", key: "cc" } },
        { output: "ipxe", inline: "#!ipxe\n" },
        { output: "install.sh", configMapKeyRef: { name: "tpl2", key: "sh" } },
      ],
    });
    const maps: Record<string, Record<string, string>> = {
      tpl: { cc: "#cloud-config\n{}\n" },
      tpl2: { sh: "#!/bin/sh\n" },
    };
    expect(resolveTemplates(c, (n) => maps[n])).toEqual({
      templates: [
        { output: "cloud-config", origin: "configmap/tpl:cc", text: "#cloud-config\n{}\n" },
        { output: "ipxe", origin: "inline:ipxe", text: "#!ipxe\n" },
        { output: "install.sh", origin: "configmap/tpl2:sh", text: "#!/bin/sh\n" },
      ],
    });
    expect(templateConfigMapNames(c)).toEqual(["tpl", "tpl2"]);
    expect(templateConfigMapNames(cluster())).toEqual([]);
  });

  it("takes a template named dnsmasq.conf as the ClusterDesc's dnsmasq template, not a Machine output", () => {
    const own = { output: "dnsmasq.conf", configMapKeyRef: { name: "dns", key: "conf" } };
    const ipxe = { output: "ipxe", configMapKeyRef: { name: "tpl", key: "ipxe" } };
    const maps: Record<string, Record<string, string>> = {
      dns: { conf: "port=0\n" },
      tpl: { ipxe: "#!ipxe\n" },
    };
    const c = cluster({ templates: [ipxe, own] });
    expect(resolveTemplates(c, (n) => maps[n])).toEqual({
      templates: [{ output: "ipxe", origin: "configmap/tpl:ipxe", text: "#!ipxe\n" }],
    });
    expect(resolveDnsmasqTemplate(c, (n) => maps[n])).toEqual({
      template: { output: "dnsmasq.conf", origin: "configmap/dns:conf", text: "port=0\n" },
    });
    expect(templateConfigMapNames(c)).toEqual(["dns", "tpl"]);
    expect(templateConfigMapNames(c, "machines")).toEqual(["tpl"]);
    expect(templateConfigMapNames(c, "dnsmasq")).toEqual(["dns"]);
    // Each part fails on its own ConfigMaps only.
    expect(resolveTemplates(c, (n) => (n === "tpl" ? maps.tpl : undefined))).toMatchObject({
      templates: [{ output: "ipxe" }],
    });
    expect(resolveDnsmasqTemplate(c, (n) => (n === "tpl" ? maps.tpl : undefined))).toEqual({
      error: 'ClusterDesc default/lab: template dnsmasq.conf: ConfigMap "dns" not found',
    });
    expect(resolveDnsmasqTemplate(c, (n) => (n === "dns" ? maps.dns : undefined))).toMatchObject({
      template: { text: "port=0\n" },
    });
    // Alone, it keeps the built-in Machine outputs; without it, the built-in dnsmasq template.
    const alone = cluster({ templates: [own] });
    expect(resolveTemplates(alone, () => undefined)).toEqual({ templates: [...builtinTemplates()] });
    expect(resolveDnsmasqTemplate(cluster(), () => undefined)).toEqual({
      template: builtinDnsmasqTemplate(),
    });
    expect(resolveDnsmasqTemplate(cluster({ templates: [ipxe] }), () => undefined)).toEqual({
      template: builtinDnsmasqTemplate(),
    });
  });

  it("explains what is missing or wrong", () => {
    const ref = (t: object) => cluster({ templates: [t as never] });
    const none = () => undefined;
    expect(resolveTemplates(ref({ output: "a", configMapKeyRef: { name: "tpl", key: "k" } }), none)).toEqual({
      error: 'ClusterDesc default/lab: template a: ConfigMap "tpl" not found',
    });
    expect(
      resolveTemplates(ref({ output: "a", configMapKeyRef: { name: "tpl", key: "k" } }), () => ({})),
    ).toEqual({
      error: 'ClusterDesc default/lab: template a: ConfigMap "tpl" has no key "k"',
    });
    expect(resolveTemplates(ref({ output: "a" }), none)).toEqual({
      error: "ClusterDesc default/lab: template a needs exactly one of configMapKeyRef and inline",
    });
    expect(
      resolveTemplates(
        cluster({
          templates: [
            { output: "a", inline: "" },
            { output: "a", inline: "" },
          ],
        }),
        none,
      ),
    ).toEqual({ error: 'ClusterDesc default/lab: output "a" is declared twice' });
    expect("error" in resolveTemplates(ref({ output: "../x", inline: "" }), none)).toBe(true);
  });
});

describe("contentHashWith", () => {
  const doc = (content: string) => ({
    output: "ca.pem",
    format: "text" as const,
    contentType: "application/x-pem-file",
    content,
  });
  it("names the documents and one more: another extra, or other documents, give another hash", () => {
    const base = contentHash([{ ...doc("a"), output: "cloud-config" }]);
    const other = contentHash([{ ...doc("b"), output: "cloud-config" }]);
    const withCa = contentHashWith(base, doc("CA 1"));
    expect(withCa).toMatch(/^[0-9a-f]{20}$/);
    expect(contentHashWith(base, doc("CA 1"))).toBe(withCa);
    expect(withCa).not.toBe(base);
    expect(contentHashWith(base, doc("CA 2"))).not.toBe(withCa);
    expect(contentHashWith(other, doc("CA 1"))).not.toBe(withCa);
  });
});
