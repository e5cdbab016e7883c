// The compiled CLI, run on the machine's own Node 20 as a user would: render, import a legacy
// cluster-desc.yml, serve it, and fetch every legacy node by every MAC notation, with cloud-init's
// own NoCloud code fetching a seed from the running server.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { cp, mkdtemp, writeFile } from "node:fs/promises";
import { type AddressInfo, createServer } from "node:net";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import yaml from "js-yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXAMPLE_DIR } from "../support/kube.js";
import {
  BUILD_INFO_LINE,
  freePort,
  PACKAGE_VERSION,
  type Running,
  runCli,
  SYSTEM_NODE,
  startCli,
  waitReady,
} from "../support/processes.js";
import { LEGACY_CLUSTER_DESC as LEGACY } from "../support/shared.js";

describe("ccts render", () => {
  it("prints one document on Node 20", async () => {
    const { stdout: version } = await promisify(execFile)(SYSTEM_NODE, ["--version"]);
    expect(version).toMatch(/^v20\./);
    const r = await runCli(["render", "--dir", EXAMPLE_DIR, "--mac", "52-54-00-12-34-01"], SYSTEM_NODE);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^#cloud-config\n/);
    expect(yaml.load(r.stdout)).toEqual(expect.objectContaining({ hostname: "master-1" }));
    const ipxe = await runCli(
      ["render", "--dir", EXAMPLE_DIR, "--mac", "525400123401", "--output", "ipxe"],
      SYSTEM_NODE,
    );
    expect(ipxe.stdout).toMatch(/^#!ipxe\n/);
    const dnsmasq = await runCli(["render", "--dir", EXAMPLE_DIR, "--cluster", "lab"], SYSTEM_NODE);
    expect(dnsmasq.stderr).toBe("");
    expect(dnsmasq.code).toBe(0);
    expect(dnsmasq.stdout).toContain("dhcp-host=52:54:00:12:34:01,10.20.0.11,master-1");
    const named = await runCli(
      [
        "render",
        "--dir",
        EXAMPLE_DIR,
        "--cluster",
        "lab",
        "--namespace",
        "default",
        "--output",
        "dnsmasq.conf",
      ],
      SYSTEM_NODE,
    );
    expect(named.stdout).toBe(dnsmasq.stdout);
  });

  it.each([
    [["render", "--dir", EXAMPLE_DIR, "--mac", "52:54:00"], 1, /invalid MAC address "52:54:00"/],
    [
      ["render", "--dir", EXAMPLE_DIR, "--mac", "52:54:00:00:00:00"],
      1,
      /no machine has MAC 52:54:00:00:00:00/,
    ],
    [
      ["render", "--dir", EXAMPLE_DIR, "--mac", "52:54:00:12:34:01", "--output", "nope"],
      1,
      /has no output nope/,
    ],
    [["render", "--dir", EXAMPLE_DIR, "--cluster", "nope"], 1, /no ClusterDesc nope/],
    [
      ["render", "--dir", EXAMPLE_DIR, "--cluster", "lab", "--namespace", "other"],
      1,
      /no ClusterDesc other\/lab/,
    ],
    [
      ["render", "--dir", EXAMPLE_DIR, "--cluster", "lab", "--output", "x"],
      1,
      /default\/lab has no output x/,
    ],
    [["render", "--dir", EXAMPLE_DIR], 2, /give --mac MAC .* or --cluster NAME/],
    [["render", "--dir", EXAMPLE_DIR, "--mac", "52:54:00:12:34:01", "--cluster", "lab"], 2, /give --mac/],
    [
      ["render", "--dir", EXAMPLE_DIR, "--mac", "52:54:00:12:34:01", "--namespace", "x"],
      2,
      /--namespace goes with --cluster/,
    ],
    [
      ["render", "--dir", EXAMPLE_DIR, "--mac", "52:54:00:12:34:01", "--output", "dnsmasq.conf"],
      2,
      /dnsmasq\.conf is a ClusterDesc's document: --cluster NAME, not --mac/,
    ],
    [["render", "--mac", "52:54:00:12:34:01"], 2, /--dir is required/],
    [["render", "--dir", EXAMPLE_DIR, "--bogus"], 2, /Unknown option '--bogus'/],
    [["frobnicate"], 2, /unknown command "frobnicate"/],
    // Checked before any cluster is asked (none is reachable here).
    [["controller", "--resync", "0s"], 2, /--resync must be at least 1s, got 0s/],
    [["controller", "--resync", "soon"], 2, /expected a duration like 30s, 10m or 1h, got soon/],
    [["controller", "--concurrency", "0"], 2, /--concurrency must be a positive integer/],
    // Leader election over all namespaces needs to be told where its Lease goes (POD_NAMESPACE
    // is unset here); checked before any cluster is asked, so nothing is left running.
    [["controller"], 2, /--lease-namespace is required when watching all namespaces/],
  ])("fails clearly for %j", async (args, code, message) => {
    const r = await runCli(args, SYSTEM_NODE);
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe("");
  });

  it.each([
    ["server", "--cache-dir", "CACHE"],
    ["controller", "--namespace", "x"],
  ])(
    "%s with a kubeconfig it cannot read: exit 1 naming the file, before serving anything",
    async (command, ...rest) => {
      const cache = await mkdtemp(join(tmpdir(), "ccts-cli-cache-"));
      const port = String(await freePort());
      const args = [command, ...rest.map((a) => (a === "CACHE" ? cache : a)), "--kubeconfig", "/nonexistent"];
      const extra = command === "server" ? ["--port", port, "--host", "127.0.0.1"] : ["--metrics-port", port];
      const r = await runCli([...args, ...extra], SYSTEM_NODE);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(
        `ccts ${command}: kubeconfig /nonexistent: ENOENT: no such file or directory, open '/nonexistent'\n`,
      );
      expect(r.stdout).not.toContain("listening");
    },
  );
});

describe("ccts serve on a port already taken", () => {
  it("exits 1 with the error, leaving nothing running", async () => {
    const taken = createServer();
    await new Promise<void>((ok) => taken.listen(0, "127.0.0.1", ok));
    const { port } = taken.address() as AddressInfo;
    try {
      const r = await runCli(
        ["serve", "--dir", EXAMPLE_DIR, "--port", String(port), "--host", "127.0.0.1"],
        SYSTEM_NODE,
      );
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`ccts serve: listen EADDRINUSE: address already in use 127.0.0.1:${port}\n`);
    } finally {
      taken.close();
    }
  });
});

describe("ccts serve with /boot.ipxe retries it cannot give iPXE", () => {
  it.each([
    [["--boot-retry-every", "1500ms"], "--boot-retry-every must be whole seconds, at least 1s, got 1500ms"],
    [["--boot-retry-every", "0s"], "--boot-retry-every must be whole seconds, at least 1s, got 0s"],
    [["--boot-retry-tries", "0"], "--boot-retry-tries must be at least 1 (1: no retry)"],
  ])("%j exits 2 saying why", async (flags, message) => {
    const r = await runCli(["serve", "--dir", EXAMPLE_DIR, "--port", "0", ...flags], SYSTEM_NODE);
    expect(r.code).toBe(2);
    expect(r.stderr.split("\n")[0]).toBe(`ccts serve: ${message}`);
  });
});

describe("ccts check", () => {
  it("passes the example folder", async () => {
    const r = await runCli(["check", "--dir", EXAMPLE_DIR], SYSTEM_NODE);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(`${EXAMPLE_DIR}: no problems\n`);
    expect(r.code).toBe(0);
  });

  it("lists a refused file and a template that does not render, and exits 1", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ccts-check-"));
    await cp(EXAMPLE_DIR, dir, { recursive: true });
    const machine = (name: string, mac: string, more: string) =>
      `apiVersion: ccts.io/v1alpha1\nkind: Machine\nmetadata: {name: ${name}}\nspec: {clusterDesc: ${name === "typo" ? "lab" : "broken"}, mac: "${mac}"${more}}\n`;
    await writeFile(join(dir, "typo.yaml"), machine("typo", "52:54:00:12:34:70", ", hostnmae: typo-1"));
    await writeFile(
      join(dir, "broken.yaml"),
      `${machine("broken", "52:54:00:12:34:71", "")}---\napiVersion: ccts.io/v1alpha1\nkind: ClusterDesc\nmetadata: {name: broken}\nspec:\n  network: {bootstrapperIP: 10.20.0.2, subnet: 10.20.0.0, netmask: 255.255.255.0, domain: lab.test}\n  templates: [{output: cloud-config, inline: "#cloud-config\\nhostname: {{machine.hostnmae}}\\n"}]\n`,
    );
    const r = await runCli(["check", "--dir", dir], SYSTEM_NODE);
    expect(r.stderr).toMatch(/^typo\.yaml: Machine typo: spec\.hostnmae: unknown field$/m);
    expect(r.stderr).toMatch(/^Machine default\/broken: TemplateError: .*hostnmae/m);
    expect(r.stdout).toBe(`${dir}: 2 problem(s)\n`);
    expect(r.code).toBe(1);
  });
});

describe("ccts version", () => {
  it.each([["version"], ["--version"]])("%s prints the package's version and Node's", async (arg) => {
    const r = await runCli([arg], SYSTEM_NODE);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(
      new RegExp(`^ccts ${PACKAGE_VERSION.replaceAll(".", "\\.")} \\(Node\\.js v20\\.[0-9.]+\\)\n$`),
    );
  });
});

describe("ccts import of a file the cluster would refuse", () => {
  it("exits 1 naming the object and field, and prints no manifests", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ccts-legacy-bad-"));
    const file = join(dir, "cluster-desc.yml");
    await writeFile(file, readFileSync(LEGACY, "utf8").replace("iplow: 10.20.0.100", "iplow: 10.20.0.300"));
    const r = await runCli(["import", file, "--name", "lab"], SYSTEM_NODE);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ClusterDesc lab: spec\.network\.dhcpRange\.start: must be of format ipv4/);
    expect(r.stdout).toBe("");
  });
});

describe("ccts import + ccts serve on a legacy cluster-desc.yml", () => {
  let server: Running;
  let base: string;

  beforeAll(async () => {
    const r = await runCli(["import", LEGACY, "--name", "lab"], SYSTEM_NODE);
    expect(r.code).toBe(0);
    const dir = await mkdtemp(join(tmpdir(), "ccts-legacy-"));
    await writeFile(join(dir, "cluster.yaml"), r.stdout);
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    server = startCli(["serve", "--dir", dir, "--port", String(port), "--host", "127.0.0.1"], {
      node: SYSTEM_NODE,
    });
    await waitReady(base);
  });

  afterAll(async () => {
    expect(await server?.stop()).toBe(0);
  });

  it("says which ccts it is: in its first log line and in /metrics", async () => {
    const first = JSON.parse(server.output().split("\n")[0]!) as Record<string, unknown>;
    expect(first).toMatchObject({ msg: "starting", version: PACKAGE_VERSION });
    expect(await (await fetch(`${base}/metrics`)).text()).toMatch(BUILD_INFO_LINE);
  });

  it("writes one JSON access line per answered request to standard output", async () => {
    const url = "/cloud-config/52:54:00:0a:00:11";
    expect((await fetch(base + url)).status).toBe(200);
    const accessLine = () =>
      server
        .output()
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l.msg === "request" && l.url === url);
    // Lines are written when the event-loop turn ends.
    let line = accessLine();
    for (let i = 0; i < 100 && line === undefined; i++) {
      await new Promise((ok) => setTimeout(ok, 20));
      line = accessLine();
    }
    expect(line).toMatchObject({ level: 30, hostname: hostname(), method: "GET", status: 200 });
    expect(line).toMatchObject({ remoteAddress: "127.0.0.1" });
    expect(typeof line?.responseTime).toBe("number");
  });

  const nodes = [
    ["52:54:00:0A:00:11", "master-1"],
    ["52-54-00-0a-00-12", "etcd-2"],
    ["52:54:00:0a:00:13", "52-54-00-0a-00-13"],
    ["52:54:00:0a:00:21", "52-54-00-0a-00-21"],
    ["52:54:00:0a:00:22", "52-54-00-0a-00-22"],
  ] as const;
  const notations = (mac: string) => {
    const hex = mac.replace(/[:-]/g, "").toLowerCase();
    const pairs = hex.match(/../g)!;
    return [
      pairs.join(":"),
      pairs.join(":").toUpperCase(),
      pairs.join("-"),
      hex,
      `${hex.slice(0, 4)}.${hex.slice(4, 8)}.${hex.slice(8)}`,
      pairs.join("%3A"),
    ];
  };

  it.each(nodes)(
    "serves %s by every notation with the legacy hostname and etcd cluster",
    async (mac, hostname) => {
      const bodies = new Set<string>();
      for (const notation of notations(mac)) {
        const res = await fetch(`${base}/cloud-config/${notation}`);
        expect(res.status, notation).toBe(200);
        bodies.add(await res.text());
      }
      expect(bodies.size).toBe(1);
      const [text] = [...bodies];
      expect(yaml.load(text!)).toEqual(expect.objectContaining({ hostname }));
      // The legacy server's etcd initial cluster: the etcd members by hostname, peer port 2380. etcd
      // reads it as a set; ccts orders members by Machine name, since Kubernetes objects have no order.
      const members = ["master-1", "etcd-2", "52-54-00-0a-00-13"];
      const endpoints = /ETCD_ENDPOINTS='([^']*)'/.exec(text!)?.[1];
      expect(endpoints?.split(",").sort()).toEqual(members.map((h) => `http://${h}:2379`).sort());
      const initialCluster = /ETCD_INITIAL_CLUSTER='([^']*)'/.exec(text!)?.[1];
      if (members.includes(hostname)) {
        expect(initialCluster?.split(",").sort()).toEqual(members.map((h) => `${h}=http://${h}:2380`).sort());
      } else {
        expect(initialCluster).toBeUndefined();
      }
    },
  );

  it("serves the cluster's dnsmasq configuration with a reservation per node", async () => {
    const res = await fetch(`${base}/dnsmasq.conf`);
    expect(res.status).toBe(200);
    const conf = await res.text();
    for (const [mac, hostname] of nodes) {
      expect(conf).toContain(`dhcp-host=${mac.toLowerCase().replaceAll("-", ":")},${hostname}`);
    }
    expect(conf).toMatch(/dhcp-range=10\.20\.0\.100,10\.20\.0\.200/);
  });

  it("answers 400 for a malformed MAC and 404 for an unknown one", async () => {
    expect((await fetch(`${base}/cloud-config/52:54:00`)).status).toBe(400);
    expect((await fetch(`${base}/cloud-config/52:54:00:0a:00:99`)).status).toBe(404);
  });

  it("gives cloud-init's own NoCloud code a seed it accepts", async () => {
    const script = `
import json, sys
from cloudinit import util
md, ud, vd = util.read_seeded(base=sys.argv[1], timeout=5)
print(json.dumps({"md": md, "ud": ud.decode() if isinstance(ud, bytes) else ud}))
`;
    const { stdout } = await promisify(execFile)("/usr/bin/python3", [
      "-c",
      script,
      `${base}/nocloud/52:54:00:0a:00:11/`,
    ]);
    const seed = JSON.parse(stdout) as { md: Record<string, string>; ud: string };
    expect(seed.md["local-hostname"]).toBe("master-1");
    expect(seed.md["instance-id"]).toBeTruthy();
    expect(seed.ud).toMatch(/^#cloud-config\n/);
    expect(yaml.load(seed.ud)).toEqual(expect.objectContaining({ hostname: "master-1" }));
  });
});
