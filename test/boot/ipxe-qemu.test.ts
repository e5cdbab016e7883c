// iPXE as firmware runs it, under BIOS (SeaBIOS) and UEFI (OVMF): a QEMU VM (TCG software
// emulation, Debian's ipxe-qemu ROM on a virtio-net NIC, its legacy or its EFI iPXE) gets `http://10.0.2.2:PORT/boot.ipxe` as boot file from QEMU's built-in DHCP,
// fetches it from a running `ccts serve`, follows its relative `chain ipxe?mac=${netX/mac:hexhyp}`
// and runs the script served for its own MAC, whose first line echoes `ccts: <hostname> <mac>` on
// the serial console (QEMU -nographic stdout). The VM is killed as soon as that line is read.
// Networking is QEMU user mode: 10.0.2.2 is the host's loopback inside the VM; nothing else is
// reached (the VM's ClusterDesc points serverURL at 10.0.2.2 too, so the kernel fetch after the echo
// also goes to ccts and gets a 404).
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BOOT_RETRY } from "../../src/server/app.js";
import { waitFor } from "../support/wait.js";
import { accessLog, type Served, serveExamples } from "./serve.js";

const QEMU = "/usr/bin/qemu-system-x86_64";
// QEMU 7.2 loads this ROM (Debian ipxe-qemu) for virtio-net-pci by default, from its data path
// (`qemu-system-x86_64 -L help`). Naming it with `romfile=` made SeaBIOS skip network boot here, so
// the test relies on the default and only checks that the ROM is installed.
const ROM = "/usr/lib/ipxe/qemu/efi-virtio.rom";
/** Debian's ovmf: UEFI firmware for QEMU, in one file (code and variables). */
const OVMF = "/usr/share/ovmf/OVMF.fd";
const VM_MAC = "52:54:00:c0:ff:ee";
const MARKER = `m${randomBytes(4).toString("hex")}`;
const BOOT_TIMEOUT_MS = 120_000;

let served: Served | undefined;
let qemu: ChildProcess | undefined;

function killQemu(): void {
  if (qemu && qemu.exitCode === null && qemu.signalCode === null) qemu.kill("SIGKILL");
}

beforeAll(async () => {
  served = await serveExamples(
    (port) => `
apiVersion: ccts.io/v1alpha1
kind: ClusterDesc
metadata: { name: vm, namespace: default }
spec:
  network: { bootstrapperIP: 10.0.2.2, subnet: 10.0.2.0, netmask: 255.255.255.0, domain: vm.test }
  serverURL: http://10.0.2.2:${port}
---
apiVersion: ccts.io/v1alpha1
kind: Machine
metadata: { name: vm, namespace: default }
spec:
  clusterDesc: vm
  mac: "${VM_MAC}"
  hostname: vm-${MARKER}
  variables: { marker: ${MARKER}, kernelArgs: ccts.marker=${MARKER} }
`,
  );
});

afterAll(async () => {
  killQemu();
  await served?.stop();
});

/** How each firmware starts iPXE, and a line only that firmware writes to the serial console. */
const FIRMWARES = [
  // SeaBIOS (QEMU's default) runs the ROM's legacy iPXE.
  { name: "BIOS (SeaBIOS)", args: [] as string[], signature: /SeaBIOS/ },
  // OVMF (Debian's ovmf) loads the same ROM's EFI iPXE; its boot manager logs as BdsDxe.
  { name: "UEFI (OVMF)", args: ["-bios", OVMF], signature: /BdsDxe/ },
];

/** A QEMU VM booting from the network with `firmware` and `mac`, its console collected. */
function startVm(
  port: number,
  firmware: string[],
  mac: string,
): { console: () => string; proc: ChildProcess } {
  const args = [
    "-nographic",
    "-no-reboot",
    "-m",
    "256",
    "-machine",
    "accel=tcg",
    ...firmware,
    "-boot",
    "n",
    "-netdev",
    `user,id=n0,bootfile=http://10.0.2.2:${port}/boot.ipxe`,
    "-device",
    `virtio-net-pci,netdev=n0,mac=${mac}`,
  ];
  const proc = spawn(QEMU, args, { stdio: ["ignore", "pipe", "pipe"] });
  qemu = proc;
  let console = "";
  proc.stdout!.on("data", (d) => {
    console += d;
  });
  proc.stderr!.on("data", (d) => {
    console += d;
  });
  return { console: () => console, proc };
}

/** Waits until the VM's console matches `line`; fails with the console's end if QEMU exits first. */
async function consoleShows(vm: ReturnType<typeof startVm>, what: string, line: RegExp): Promise<void> {
  try {
    await waitFor(
      what,
      () => {
        if (vm.proc.exitCode !== null) throw new Error(`QEMU exited ${vm.proc.exitCode}`);
        return line.test(vm.console());
      },
      BOOT_TIMEOUT_MS,
      100,
    );
  } catch (err) {
    throw new Error(`${String(err)}\n--- serial console ---\n${vm.console().slice(-3000)}`);
  }
}

describe.skipIf(!existsSync(QEMU) || !existsSync(ROM) || !existsSync(OVMF))("iPXE in QEMU", () => {
  it.each(FIRMWARES)(
    "$name: boots through /boot.ipxe into the script of its own MAC",
    async ({ name, args: firmware, signature }) => {
      const s = served!;
      const logBefore = accessLog(s.server.output()).length;
      const started = Date.now();
      const vm = startVm(s.port, firmware, VM_MAC);
      try {
        await consoleShows(
          vm,
          "the VM's iPXE to echo its machine",
          new RegExp(`ccts: vm-${MARKER} ${VM_MAC}`),
        );
      } finally {
        killQemu();
      }
      const seconds = (Date.now() - started) / 1000;
      // Measured for the report: TCG boot to the echoed line.
      process.stdout.write(`iPXE in QEMU (TCG, ${name}): marker after ${seconds.toFixed(1)} s\n`);
      const console = vm.console();
      expect(console).toMatch(signature);
      expect(console).toContain(`net0: ${VM_MAC}`);
      expect(console).toContain(`http://10.0.2.2:${s.port}/boot.ipxe`);

      const log = accessLog(s.server.output()).slice(logBefore);
      expect(log).toContainEqual({ url: "/boot.ipxe", status: 200 });
      // iPXE expanded ${netX/mac:hexhyp} to this VM's MAC and resolved the relative URI.
      expect(log).toContainEqual({ url: `/ipxe?mac=${VM_MAC.replaceAll(":", "-")}`, status: 200 });
      const order = log.map((l) => l.url);
      expect(order.indexOf("/boot.ipxe")).toBeLessThan(order.indexOf("/ipxe?mac=52-54-00-c0-ff-ee"));
    },
    BOOT_TIMEOUT_MS + 30_000,
  );

  it(
    "BIOS: a MAC no Machine has yet: /boot.ipxe tries again until its Machine is declared",
    async () => {
      const s = served!;
      const mac = "52:54:00:c0:ff:01";
      const logBefore = accessLog(s.server.output()).length;
      const vm = startVm(s.port, [], mac);
      try {
        await consoleShows(
          vm,
          "boot.ipxe's first retry",
          new RegExp(
            `ccts: no boot for ${mac} yet \\(try 1 of ${BOOT_RETRY.tries}\\); again in ${BOOT_RETRY.seconds} s`,
          ),
        );
        // The operator declares the machine now; ccts serve picks the file up on its own.
        await writeFile(
          join(s.dir, "late.yaml"),
          `apiVersion: ccts.io/v1alpha1
kind: Machine
metadata: { name: late, namespace: default }
spec: { clusterDesc: vm, mac: "${mac}", hostname: late-${MARKER} }
`,
        );
        await consoleShows(
          vm,
          "the retry to echo the new machine",
          new RegExp(`ccts: late-${MARKER} ${mac}`),
        );
      } finally {
        killQemu();
      }
      const script = `/ipxe?mac=${mac.replaceAll(":", "-")}`;
      const log = accessLog(s.server.output()).slice(logBefore);
      const first404 = log.findIndex((l) => l.url === script && l.status === 404);
      expect(first404, JSON.stringify(log)).toBeGreaterThanOrEqual(0);
      expect(log.findIndex((l) => l.url === script && l.status === 200)).toBeGreaterThan(first404);
      // One /boot.ipxe: the retries are the script's loop, not the firmware booting again.
      expect(log.filter((l) => l.url === "/boot.ipxe")).toHaveLength(1);
    },
    2 * BOOT_TIMEOUT_MS,
  );

  it(
    "BIOS: gives up after its last try, and the firmware goes on to its next boot device",
    async () => {
      // A server of its own, told to try twice, a second apart (the default takes 10 minutes).
      const quick = await serveExamples(undefined, ["--boot-retry-every", "1s", "--boot-retry-tries", "2"]);
      const mac = "52:54:00:c0:ff:02";
      const vm = startVm(quick.port, [], mac);
      try {
        await consoleShows(
          vm,
          "the first retry",
          new RegExp(`ccts: no boot for ${mac} yet \\(try 1 of 2\\); again in 1 s`),
        );
        await consoleShows(
          vm,
          "the script giving up",
          new RegExp(`ccts: no boot for ${mac} after 2 tries, giving up`),
        );
        // SeaBIOS takes over again: the VM has no other boot device.
        await consoleShows(vm, "SeaBIOS to find no other boot device", /No bootable device/);
      } finally {
        killQemu();
        await quick.stop();
      }
      const script = `/ipxe?mac=${mac.replaceAll(":", "-")}`;
      const log = accessLog(quick.server.output());
      expect(log.filter((l) => l.url === script).map((l) => l.status)).toEqual([404, 404]);
      expect(log.filter((l) => l.url === "/boot.ipxe")).toHaveLength(1);
    },
    2 * BOOT_TIMEOUT_MS,
  );
});
