// The built-in install.sh run for real: fetched from `ccts serve` as a machine fetches it, run by
// Debian's sh with Debian's curl against that server, and checked by ShellCheck. Only the OS
// installer and `reboot` are stand-ins (below: writing an OS image to a disk cannot happen here);
// they record what the script handed them.
import { execFile } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, startCli } from "../support/processes.js";
import { accessLog, type Served, serveExamples } from "./serve.js";

const run = promisify(execFile);

const MAC = "52:54:00:5c:00:01";
const MAC_NO_REBOOT = "52:54:00:5c:00:02";
const MAC_NO_SERVER = "52:54:00:5c:00:03";
/** Values a shell would split or expand unless install.sh quotes them. */
const DISK = "/dev/disk/by-id/ata-QEMU HARDDISK_QM00001";
const IMAGE_BASE_URL = 'http://127.0.0.1:1/it\'s $HOME `id` "images"';

/**
 * Stand-ins for Flatcar's flatcar-install / CoreOS's coreos-install (they download an OS image and
 * write it to a disk) and for reboot: each records its arguments, one per line, in $RECORD; the
 * installer also keeps a copy of the config file it was given (-c).
 */
const INSTALLER_STAND_IN = `#!/bin/sh
name=$(basename "$0")
for a in "$@"; do printf '%s\\n' "$a"; done > "$RECORD/$name.args"
while [ $# -gt 0 ]; do
  if [ "$1" = -c ]; then cp "$2" "$RECORD/$name.config"; fi
  shift
done
`;
const REBOOT_STAND_IN = `#!/bin/sh
: > "$RECORD/reboot.called"
`;

let served: Served;
let closedPort: number;
let work: string;

beforeAll(async () => {
  closedPort = await freePort();
  served = await serveExamples(
    (port) => `
apiVersion: ccts.io/v1alpha1
kind: ClusterDesc
metadata: { name: install, namespace: default }
spec:
  network: { bootstrapperIP: 127.0.0.1, subnet: 127.0.0.0, netmask: 255.0.0.0, domain: install.test }
  serverURL: http://127.0.0.1:${port}
  os: { name: flatcar, channel: beta, version: 4152.2.0 }
---
apiVersion: ccts.io/v1alpha1
kind: ClusterDesc
metadata: { name: unreachable, namespace: default }
spec:
  network: { bootstrapperIP: 127.0.0.1, subnet: 127.0.0.0, netmask: 255.0.0.0, domain: install.test }
  serverURL: http://127.0.0.1:${closedPort}
---
apiVersion: ccts.io/v1alpha1
kind: Machine
metadata: { name: install-1, namespace: default }
spec:
  clusterDesc: install
  mac: "${MAC}"
  variables:
    installDisk: ${JSON.stringify(DISK)}
    imageBaseURL: ${JSON.stringify(IMAGE_BASE_URL)}
---
apiVersion: ccts.io/v1alpha1
kind: Machine
metadata: { name: install-2, namespace: default }
spec:
  clusterDesc: install
  mac: "${MAC_NO_REBOOT}"
  variables: { installNoReboot: true }
---
apiVersion: ccts.io/v1alpha1
kind: Machine
metadata: { name: install-3, namespace: default }
spec:
  clusterDesc: unreachable
  mac: "${MAC_NO_SERVER}"
`,
  );
  work = mkdtempSync(join(tmpdir(), "ccts-install-"));
});

afterAll(async () => {
  await served?.stop();
  rmSync(work, { recursive: true, force: true });
});

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
  /** What each stand-in recorded: `<name>.args`, `<name>.config`, `reboot.called`. */
  record: (file: string) => string | undefined;
  /** Files the script left in its TMPDIR. */
  leftovers: string[];
}

/** Fetches the machine's install.sh from the server and runs it with `sh`, the stand-ins on PATH. */
async function install(mac: string, installers: string[] = ["flatcar-install"]): Promise<Outcome> {
  const res = await fetch(`${served.base}/install.sh?mac=${mac}`);
  expect(res.status).toBe(200);
  const dir = mkdtempSync(join(work, "run-"));
  const bin = join(dir, "bin");
  const record = join(dir, "record");
  const tmp = join(dir, "tmp");
  for (const d of [bin, record, tmp]) mkdirSync(d);
  for (const name of [...installers, "reboot"]) {
    writeFileSync(join(bin, name), name === "reboot" ? REBOOT_STAND_IN : INSTALLER_STAND_IN);
    chmodSync(join(bin, name), 0o755);
  }
  const script = join(dir, "install.sh");
  writeFileSync(script, await res.text());
  const env = { PATH: `${bin}:/usr/bin:/bin`, RECORD: record, TMPDIR: tmp, HOME: dir };
  const done = await run("sh", [script], { env, timeout: 60_000 }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );
  return {
    code: done.code,
    stdout: done.stdout,
    stderr: done.stderr,
    record: (file) => (existsSync(join(record, file)) ? readFileSync(join(record, file), "utf8") : undefined),
    leftovers: readdirSync(tmp),
  };
}

describe("install.sh, run", () => {
  it("fetches its machine's cloud-config and hands it to flatcar-install with the cluster's OS and the machine's disk", async () => {
    const r = await install(MAC);
    expect(r.code, r.stderr).toBe(0);
    const args = r.record("flatcar-install.args")!.trimEnd().split("\n");
    expect(args.slice(0, 6)).toEqual(["-d", DISK, "-C", "beta", "-V", "4152.2.0"]);
    expect(args[6]).toBe("-c");
    expect(args.slice(8)).toEqual(["-b", IMAGE_BASE_URL]);
    const cloudConfig = await (await fetch(`${served.base}/cloud-config/${MAC}`)).text();
    expect(cloudConfig).toMatch(/^#cloud-config\n/);
    expect(r.record("flatcar-install.config")).toBe(cloudConfig);
    expect(r.record("reboot.called")).toBe("");
    // No spec.hostname: the legacy default, the MAC with hyphens.
    expect(r.stdout).toContain(`ccts: installed 52-54-00-5c-00-01 onto ${DISK}`);
    expect(r.leftovers).toEqual([]); // its work directory is gone
  });

  it("leaves out -b without an image base URL, skips the reboot when told, falls back to coreos-install", async () => {
    const r = await install(MAC_NO_REBOOT, ["coreos-install"]);
    expect(r.code, r.stderr).toBe(0);
    const args = r.record("coreos-install.args")!.trimEnd().split("\n");
    expect(args.filter((a) => a.startsWith("-"))).toEqual(["-d", "-C", "-V", "-c"]);
    expect(args.slice(0, 2)).toEqual(["-d", "/dev/sda"]);
    expect(r.record("reboot.called")).toBeUndefined();
  });

  it("waits for a server that is not up yet (connection refused) and goes on once it is", async () => {
    // The unreachable cluster's address gets a server while the script already runs: a ccts serve
    // of the same folder takes about a second to listen, well after curl's first attempt.
    const late = startCli([
      "serve",
      "--dir",
      served.dir,
      "--port",
      String(closedPort),
      "--host",
      "127.0.0.1",
    ]);
    try {
      const r = await install(MAC_NO_SERVER);
      expect(r.code, r.stderr + late.output()).toBe(0);
      expect(r.record("flatcar-install.config")).toMatch(/^#cloud-config\n/);
      expect(accessLog(late.output()).filter((l) => l.url === `/cloud-config/${MAC_NO_SERVER}`)).toEqual([
        { url: `/cloud-config/${MAC_NO_SERVER}`, status: 200 },
      ]);
    } finally {
      await late.stop();
    }
  });

  it("stops with an error, before any installer runs, when its server cannot be reached", async () => {
    const r = await install(MAC_NO_SERVER);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toContain(`fetching the cloud-config of ${MAC_NO_SERVER}`);
    expect(r.record("flatcar-install.args")).toBeUndefined();
    expect(r.record("reboot.called")).toBeUndefined();
    expect(r.leftovers).toEqual([]);
  });

  it("stops with an error when the system has no installer", async () => {
    const r = await install(MAC, []);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("no OS installer (flatcar-install or coreos-install)");
    expect(r.record("reboot.called")).toBeUndefined();
  });

  it("passes ShellCheck as a POSIX sh script", async () => {
    // Not MAC's: ShellCheck notes (SC2016) the literal `$HOME` its quoting is there to keep.
    for (const mac of [MAC_NO_REBOOT, MAC_NO_SERVER]) {
      const script = join(work, `shellcheck-${mac.replaceAll(":", "")}.sh`);
      writeFileSync(script, await (await fetch(`${served.base}/install.sh?mac=${mac}`)).text());
      const r = await run("shellcheck", ["--shell=sh", "--severity=style", script]).then(
        () => "",
        (e: { stdout: string }) => e.stdout,
      );
      expect(r, mac).toBe("");
    }
  });
});
