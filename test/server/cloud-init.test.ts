// cloud-init's own NoCloud code (Debian package cloud-init, run with /usr/bin/python3) fetches its
// seed from the running app: util.read_seeded, and the NoCloudNet datasource's get_data() with
// `seedfrom`, which is what `ds=nocloud;s=http://SERVER/nocloud/MAC/` on a kernel command line does.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLOUD_CONFIG_A, MAC_A, MAC_B, MAC_UNKNOWN, type Running, start } from "./helpers.js";

const run = promisify(execFile);
const PYTHON = "/usr/bin/python3";
const haveCloudInit = existsSync("/usr/lib/python3/dist-packages/cloudinit/util.py");

const READ_SEEDED = `
import base64, json, sys, time
from cloudinit import util
t = time.time()
md, ud, vd = util.read_seeded(base=sys.argv[1], timeout=5)
b = lambda x: None if x is None else base64.b64encode(x).decode()
print(json.dumps({"md": md, "ud": b(ud), "vd": b(vd), "seconds": time.time() - t}))
`;

const NOCLOUD_NET = `
import base64, json, sys, tempfile, time
from cloudinit import helpers
from cloudinit.sources.DataSourceNoCloud import DataSourceNoCloudNet
tmp = tempfile.mkdtemp()
paths = helpers.Paths({"cloud_dir": tmp, "run_dir": tmp})
ds = DataSourceNoCloudNet(sys_cfg={"datasource": {"NoCloud": {"seedfrom": sys.argv[1]}}}, distro=None, paths=paths)
t = time.time()
ok = ds.get_data()
b = lambda x: None if x is None else base64.b64encode(x if isinstance(x, bytes) else x.encode()).decode()
print(json.dumps({"ok": ok, "md": ds.metadata, "ud": b(ds.userdata_raw), "vd": b(ds.vendordata_raw),
  "iid": ds.get_instance_id(), "seconds": time.time() - t}))
`;

async function python(script: string, url: string): Promise<Record<string, unknown>> {
  const { stdout } = await run(PYTHON, ["-c", script, url], { timeout: 60_000 });
  return JSON.parse(stdout.trim().split("\n").pop()!) as Record<string, unknown>;
}

const text = (b64: unknown) => (typeof b64 === "string" ? Buffer.from(b64, "base64").toString("utf8") : b64);

let s: Running;
beforeAll(async () => {
  s = await start();
});
afterAll(async () => {
  await s.app.close();
});

describe.skipIf(!haveCloudInit)("cloud-init NoCloud against the app", () => {
  it.each([MAC_A, "52-54-00-12-34-01", "52%3A54%3A00%3A12%3A34%3A01"])(
    "util.read_seeded from /nocloud/%s/",
    async (mac) => {
      const out = await python(READ_SEEDED, `${s.base}/nocloud/${mac}/`);
      expect(out.md).toEqual({ "instance-id": "iid-a", "local-hostname": "a" });
      expect(text(out.ud)).toBe(CLOUD_CONFIG_A);
      // No vendor-data output: an empty 200, so no ten one-second retries of a 404.
      expect(text(out.vd)).toBe("");
      expect(out.seconds).toBeLessThan(5);
    },
  );

  it("util.read_seeded gets a machine's own user-data and vendor-data", async () => {
    const out = await python(READ_SEEDED, `${s.base}/nocloud/${MAC_B}/`);
    expect(out.md).toEqual({ "instance-id": "iid-b", "local-hostname": "b" });
    expect(text(out.ud)).toBe("#cloud-config\nhostname: b-user\n");
    expect(text(out.vd)).toBe("#cloud-config\nruncmd: [true]\n");
  });

  it("DataSourceNoCloudNet with seedfrom claims the seed", async () => {
    const out = await python(NOCLOUD_NET, `${s.base}/nocloud/${MAC_A}/`);
    expect(out.ok).toBe(true);
    expect(out.iid).toBe("iid-a");
    expect(out.md).toMatchObject({ "instance-id": "iid-a", "local-hostname": "a" });
    expect(text(out.ud)).toBe(CLOUD_CONFIG_A);
    expect(text(out.vd)).toBe("");
    expect(out.seconds).toBeLessThan(5);
  });

  it("kernel command line ds=nocloud-net;s=http://SERVER/nocloud/MAC/ (cloud-init 22.4)", async () => {
    const script = NOCLOUD_NET.replace(
      'sys_cfg={"datasource": {"NoCloud": {"seedfrom": sys.argv[1]}}}',
      "sys_cfg={}",
    ).replace(
      "from cloudinit import helpers",
      "from cloudinit import helpers, util\nutil.get_cmdline = lambda: sys.argv[1]",
    );
    const out = await python(
      script,
      `BOOT_IMAGE=/vmlinuz ro ds=nocloud-net;s=${s.base}/nocloud/${MAC_A}/ quiet`,
    );
    expect(out.ok).toBe(true);
    expect(out.md).toMatchObject({ "instance-id": "iid-a", "local-hostname": "a", dsmode: "net" });
    expect(text(out.ud)).toBe(CLOUD_CONFIG_A);
  });

  it("an unknown MAC fails the seed instead of booting with nothing", async () => {
    const script = READ_SEEDED.replace("timeout=5)", "timeout=5, retries=0)");
    await expect(python(script, `${s.base}/nocloud/${MAC_UNKNOWN}/`)).rejects.toThrow(/404/);
  });
});
