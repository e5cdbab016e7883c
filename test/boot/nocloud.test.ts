// cloud-init NoCloud with cloud-init's own datasource code (Debian cloud-init 22.4, /usr/bin/python3)
// against `ccts serve` and the real built-in templates: DataSourceNoCloudNet with `seedfrom`, and
// with the kernel command line exactly as the built-in iPXE script writes it (`ds=nocloud-net;s=`).
// The schemas of the rendered user-data and network-config are checked in test/render/builtin.test.ts.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Served, serveExamples } from "./serve.js";

const run = promisify(execFile);
const PYTHON = "/usr/bin/python3";
const haveCloudInit = existsSync("/usr/lib/python3/dist-packages/cloudinit/sources/DataSourceNoCloud.py");

/** argv[1]: seedfrom URL, or "" to take the seed from the kernel command line in argv[2]. */
const NOCLOUD_NET = `
import base64, json, sys, tempfile
from cloudinit import helpers, util
from cloudinit.sources.DataSourceNoCloud import DataSourceNoCloudNet
cfg = {"datasource": {"NoCloud": {"seedfrom": sys.argv[1]}}} if sys.argv[1] else {}
if len(sys.argv) > 2:
    util.get_cmdline = lambda: sys.argv[2]
tmp = tempfile.mkdtemp()
paths = helpers.Paths({"cloud_dir": tmp, "run_dir": tmp})
ds = DataSourceNoCloudNet(sys_cfg=cfg, distro=None, paths=paths)
ok = ds.get_data()
b = lambda x: None if x is None else base64.b64encode(x if isinstance(x, bytes) else x.encode()).decode()
print(json.dumps({"ok": ok, "md": ds.metadata, "ud": b(ds.userdata_raw), "vd": b(ds.vendordata_raw),
  "iid": ds.get_instance_id(), "hostname": ds.get_hostname().hostname}))
`;

interface Seed {
  ok: boolean;
  md: Record<string, string>;
  ud: string;
  vd: string;
  iid: string;
  hostname: string;
}

async function noCloudNet(seedfrom: string, cmdline?: string): Promise<Seed> {
  const args = ["-c", NOCLOUD_NET, seedfrom, ...(cmdline === undefined ? [] : [cmdline])];
  const { stdout } = await run(PYTHON, args, { timeout: 60_000 });
  const out = JSON.parse(stdout.trim().split("\n").pop()!) as Seed;
  const text = (b64: string) => Buffer.from(b64 ?? "", "base64").toString("utf8");
  return { ...out, ud: text(out.ud), vd: text(out.vd) };
}

let s: Served;
beforeAll(async () => {
  // A machine whose ClusterDesc names this server, so its iPXE kernel line points here.
  s = await serveExamples(
    (port) => `
apiVersion: ccts.io/v1alpha1
kind: ClusterDesc
metadata: { name: local, namespace: default }
spec:
  network: { bootstrapperIP: 127.0.0.1, subnet: 127.0.0.0, netmask: 255.0.0.0, domain: local.test }
  serverURL: http://127.0.0.1:${port}
---
apiVersion: ccts.io/v1alpha1
kind: Machine
metadata: { name: local-1, namespace: default }
spec: { clusterDesc: local, mac: "52:54:00:aa:00:01", hostname: local-1 }
`,
  );
});
afterAll(async () => {
  await s?.stop();
});

describe.skipIf(!haveCloudInit)("cloud-init NoCloud (22.4) against ccts serve", () => {
  it.each([
    ["52:54:00:12:34:01", "master-1"],
    ["52-54-00-12-34-11", "worker-1"],
  ])("DataSourceNoCloudNet with seedfrom /nocloud/%s/ gets %s", async (mac, hostname) => {
    const seed = await noCloudNet(`${s.base}/nocloud/${mac}/`);
    const hex = mac.replace(/[:-]/g, "");
    expect(seed.ok).toBe(true);
    expect(seed.iid).toBe(`ccts-${hex}`);
    expect(seed.md).toMatchObject({ "instance-id": `ccts-${hex}`, "local-hostname": hostname });
    expect(seed.hostname).toBe(hostname);
    const cloudConfig = await (await fetch(`${s.base}/cloud-config/${mac}`)).text();
    expect(seed.ud).toBe(cloudConfig);
    expect(seed.ud).toContain(`hostname: "${hostname}"`);
    expect(seed.vd).toMatch(/^#cloud-config\n/);
  });

  it("the kernel command line of the built-in iPXE script (ds=nocloud-net;s=...) works", async () => {
    const ipxe = await (await fetch(`${s.base}/ipxe?mac=52-54-00-aa-00-01`)).text();
    const kernel = ipxe.split("\n").find((l) => l.startsWith("kernel "))!;
    expect(kernel).toContain(` ds=nocloud-net;s=${s.base}/nocloud/52:54:00:aa:00:01/`);
    // What the kernel would get as /proc/cmdline: the arguments after the kernel URL.
    const cmdline = `BOOT_IMAGE=/vmlinuz ${kernel.split(" ").slice(2).join(" ")}`;
    const seed = await noCloudNet("", cmdline);
    expect(seed.ok).toBe(true);
    expect(seed.md).toMatchObject({
      "instance-id": "ccts-525400aa0001",
      "local-hostname": "local-1",
      dsmode: "net",
    });
    expect(seed.ud).toMatch(/^#cloud-config\n/);
  });

  it("network-config and meta-data are served for the seed", async () => {
    const nc = await fetch(`${s.base}/nocloud/52:54:00:12:34:01/network-config`);
    expect(nc.status).toBe(200);
    expect(await nc.text()).toContain('macaddress: "52:54:00:12:34:01"');
    const md = await fetch(`${s.base}/nocloud/52:54:00:12:34:01/meta-data`);
    expect(await md.text()).toBe('instance-id: "ccts-525400123401"\nlocal-hostname: "master-1"\n');
  });
});
