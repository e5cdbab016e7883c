// The whole network boot of one machine, every part real: in a network namespace of the test's
// own (test/boot/pxe-netns.sh), a QEMU VM with Debian's iPXE ROM boots from the network; Debian's
// dnsmasq, run with the configuration `ccts serve` hands out (GET /dnsmasq.conf), gives it the
// Machine's reserved address and, seeing iPXE, ccts's /boot.ipxe; that chains to the VM's own
// script by MAC, which echoes the Machine. (test/boot/ipxe-qemu.test.ts boots through QEMU's own
// DHCP under BIOS and UEFI; test/boot/dhcp.test.ts asks dnsmasq as each firmware with dhclient.)
import { accessSync, constants, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXAMPLE_DIR } from "../support/kube.js";
import { CLI } from "../support/processes.js";
import { runInNamespace } from "./netns.js";
import { accessLog } from "./serve.js";

const SCRIPT = join(import.meta.dirname, "pxe-netns.sh");
const QEMU = "/usr/bin/qemu-system-x86_64";
const BOOTSTRAPPER = "10.20.0.2";
/** master-1 of the example cluster: 10.20.0.11. */
const VM_MAC = "52:54:00:12:34:01";
const ECHO = `ccts: master-1 ${VM_MAC}`;
const BOOT_SECONDS = 120;

/**
 * QEMU's tap device needs /dev/net/tun read-write: root has it (the suite runs as root here); a user
 * usually not (mode 600), and the test is then skipped, as the README's Tests section says.
 */
function tunUsable(): boolean {
  try {
    accessSync("/dev/net/tun", constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}
const CAN_RUN = tunUsable();

let work: string;
let serial: string;
let ccts: string;
let dnsmasq: string;

const read = (name: string) => {
  try {
    return readFileSync(join(work, name), "utf8");
  } catch {
    return "";
  }
};

beforeAll(
  async () => {
    if (!CAN_RUN) return;
    work = mkdtempSync(join(tmpdir(), "ccts-pxe-"));
    await runInNamespace(SCRIPT, [work, EXAMPLE_DIR, BOOTSTRAPPER, VM_MAC, ECHO, String(BOOT_SECONDS)], {
      env: { NODE: process.execPath, CLI, QEMU },
      timeoutMs: (BOOT_SECONDS + 30) * 1000,
    });
    serial = read("serial.log");
    ccts = read("ccts.log");
    dnsmasq = read("dnsmasq.log");
  },
  (BOOT_SECONDS + 60) * 1000,
);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe.skipIf(!CAN_RUN)("network boot: QEMU's iPXE, ccts's dnsmasq.conf in dnsmasq, ccts serve", () => {
  it("the VM reaches its own script and echoes its Machine", () => {
    expect(
      serial,
      `--- serial console ---\n${serial.slice(-3000)}\n--- dnsmasq ---\n${dnsmasq.slice(-2000)}`,
    ).toContain(ECHO);
  });

  it("dnsmasq gave it the Machine's reservation and, as iPXE, the chain to ccts's /boot.ipxe", () => {
    expect(dnsmasq).toMatch(new RegExp(`DHCPACK\\(br0\\) 10\\.20\\.0\\.11 ${VM_MAC} master-1`));
    expect(serial).toContain("net0: 10.20.0.11/255.255.255.0 gw 10.20.0.1");
    expect(serial).toContain(`Filename: http://${BOOTSTRAPPER}:8080/boot.ipxe`);
  });

  it("ccts answered /boot.ipxe, then the VM's script by its MAC", () => {
    const urls = accessLog(ccts).map((l) => `${l.status} ${l.url}`);
    const boot = urls.indexOf("200 /boot.ipxe");
    expect(boot, urls.join("\n")).toBeGreaterThanOrEqual(0);
    expect(urls.indexOf(`200 /ipxe?mac=${VM_MAC.replaceAll(":", "-")}`)).toBeGreaterThan(boot);
  });
});
