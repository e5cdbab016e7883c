// The dnsmasq configuration ccts serves (GET /dnsmasq.conf), run: Debian's dnsmasq answers DHCP
// and DNS with it in a network namespace of this test's own (test/boot/dhcp-netns.sh), and Debian's
// dhclient asks it for leases under the MACs of the example cluster's Machines, as BIOS PXE
// firmware, UEFI firmware and iPXE would. Each gets its reservation, its name, the cluster's
// network options and the boot file its firmware needs; a Machine without an IP gets a lease from
// the range under its name; a MAC no Machine has gets a lease and no name; the names resolve.
// (test/boot/dnsmasq.test.ts checks the same file's syntax with `dnsmasq --test`.)
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runInNamespace } from "./netns.js";
import { type Served, serveExamples } from "./serve.js";

const SCRIPT = join(import.meta.dirname, "dhcp-netns.sh");
const BOOTSTRAPPER = "10.20.0.2";
const DYNAMIC_MAC = "52:54:00:12:34:31";
const UNKNOWN_MAC = "52:54:00:99:99:99";

let served: Served;
let work: string;
let leases: Map<string, Record<string, string>>;
let dns: Map<string, string>;
let output: string;

beforeAll(async () => {
  served = await serveExamples(
    () => `
apiVersion: ccts.io/v1alpha1
kind: Machine
metadata: { name: dyn-1, namespace: default }
spec:
  clusterDesc: lab
  mac: "${DYNAMIC_MAC}"
  hostname: dyn-1
  roles: [worker]
`,
  );
  work = mkdtempSync(join(tmpdir(), "ccts-dhcp-"));
  const res = await fetch(`${served.base}/dnsmasq.conf?cluster=lab`);
  expect(res.status).toBe(200);
  writeFileSync(join(work, "ccts.conf"), await res.text());
  const cases = [
    "52:54:00:12:34:01:ipxe",
    "52:54:00:12:34:02:efi",
    "52:54:00:12:34:03:bios",
    `${DYNAMIC_MAC}:ipxe`,
    `${UNKNOWN_MAC}:bios`,
  ];
  const names = ["master-1.lab.example.org", "worker-2", "dyn-1.lab.example.org", "nosuch.lab.example.org"];
  output = await runInNamespace(
    SCRIPT,
    [join(work, "ccts.conf"), work, BOOTSTRAPPER, cases.join(" "), names.join(" ")],
    { env: { NODE: process.execPath }, timeoutMs: 120_000 },
  ).catch((e: Error) => {
    throw new Error(`${e.message}\n${log("dnsmasq.log")}${log("dhclient.log")}`);
  });
  leases = new Map();
  dns = new Map();
  for (const line of output.split("\n")) {
    const [what, key, ...rest] = line.split(" ");
    if (what === "lease" && key) leases.set(key, Object.fromEntries(rest.map((kv) => kv.split(/=(.*)/s, 2))));
    if (what === "dns" && key) dns.set(key, rest.join(" "));
  }
}, 180_000);

afterAll(async () => {
  await served?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

function log(name: string): string {
  try {
    return `--- ${name}\n${readFileSync(join(work, name), "utf8")}`;
  } catch {
    return "";
  }
}

function lease(mac: string): Record<string, string> {
  const l = leases.get(mac);
  if (!l) throw new Error(`no lease for ${mac}:\n${output}\n${log("dnsmasq.log")}`);
  return l;
}

/** Whether an IPv4 address lies in the example cluster's range (10.20.0.100-10.20.0.200). */
const inRange = (ip: string | undefined) =>
  /^10\.20\.0\.(\d+)$/.test(ip ?? "") && Number(ip!.split(".")[3]) >= 100 && Number(ip!.split(".")[3]) <= 200;

describe("dnsmasq with ccts's configuration, asked by dhclient", () => {
  it("iPXE: the Machine's reservation, name and network options, and the chain to ccts's /boot.ipxe", () => {
    expect(lease("52:54:00:12:34:01")).toEqual({
      ip: "10.20.0.11",
      host: "master-1",
      domain: "lab.example.org",
      routers: "10.20.0.1",
      dns: BOOTSTRAPPER,
      ntp: BOOTSTRAPPER,
      broadcast: "10.20.0.255",
      file: `http://${BOOTSTRAPPER}:8080/boot.ipxe`,
      next: BOOTSTRAPPER,
    });
  });

  it("firmware without iPXE gets iPXE over TFTP: ipxe.efi for UEFI, undionly.kpxe for BIOS", () => {
    expect(lease("52:54:00:12:34:02")).toMatchObject({
      ip: "10.20.0.12",
      host: "master-2",
      file: "ipxe.efi",
    });
    expect(lease("52:54:00:12:34:03")).toMatchObject({
      ip: "10.20.0.13",
      host: "master-3",
      file: "undionly.kpxe",
    });
  });

  it("a Machine without an IP gets one from the range, under its name", () => {
    const l = lease(DYNAMIC_MAC);
    expect(inRange(l.ip), l.ip).toBe(true);
    expect(l.host).toBe("dyn-1");
  });

  it("a MAC no Machine has gets a lease from the range and no name", () => {
    const l = lease(UNKNOWN_MAC);
    expect(inRange(l.ip), l.ip).toBe(true);
    expect(l.host).toBe("");
    expect(l.file).toBe("undionly.kpxe");
  });

  it("answers DNS for the Machines, fixed and leased, and no other name of the cluster's domain", () => {
    expect(dns.get("master-1.lab.example.org")).toBe("10.20.0.11");
    expect(dns.get("worker-2")).toBe("10.20.0.22");
    expect(dns.get("dyn-1.lab.example.org")).toBe(lease(DYNAMIC_MAC).ip);
    expect(dns.get("nosuch.lab.example.org")).toBe("ENOTFOUND");
  });
});
