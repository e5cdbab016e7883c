#!/bin/sh
# The whole network boot, inside a fresh network and mount namespace (test/boot/pxe-chain.test.ts
# starts it with unshare): a bridge stands for the provisioning network, with the bootstrapper's
# address; `ccts serve` listens there; dnsmasq runs with the configuration ccts serves
# (GET /dnsmasq.conf, fetched with curl as an operator would); a QEMU VM with Debian's iPXE ROM
# boots from the network on a tap device of that bridge. The VM's firmware asks dnsmasq, which
# sends iPXE to ccts's /boot.ipxe, which chains to the VM's own script by MAC.
# Writes serial.log (the VM's console), ccts.log, dnsmasq.log and dnsmasq.conf to WORK; stops
# the VM once the console shows UNTIL, or after SECONDS.
#   pxe-netns.sh WORK EXAMPLES_DIR SERVER_IP VM_MAC UNTIL SECONDS
# Environment: NODE and CLI (node and dist/cli/main.js), QEMU (qemu-system-x86_64).
set -eu
# shellcheck source=test/boot/netns-common.sh
. "$(dirname "$0")/netns-common.sh"
work=$1 examples=$2 server_ip=$3 vm_mac=$4 until=$5 seconds=$6

ccts_pid='' dnsmasq_pid='' qemu_pid=''
cleanup() {
  for pid in $qemu_pid $dnsmasq_pid $ccts_pid; do kill "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ip link set lo up
ip link add br0 type bridge
ip addr add "$server_ip/24" dev br0
ip link set br0 up
ip tuntap add dev tap0 mode tap
ip link set tap0 master br0
ip link set tap0 up
private_tftp_root

"$NODE" "$CLI" serve --dir "$examples" --host "$server_ip" --port 8080 > "$work/ccts.log" 2>&1 &
ccts_pid=$!
for _ in $(seq 100); do
  curl -fsS -o /dev/null "http://$server_ip:8080/readyz" 2>/dev/null && break
  sleep 0.1
done
curl -fsS -o "$work/dnsmasq.conf" "http://$server_ip:8080/dnsmasq.conf?cluster=lab"

start_dnsmasq "$work/dnsmasq.conf" br0 "$work"

"$QEMU" -nographic -no-reboot -m 256 -machine accel=tcg -boot n \
  -netdev tap,id=n0,ifname=tap0,script=no,downscript=no \
  -device "virtio-net-pci,netdev=n0,mac=$vm_mac" > "$work/serial.log" 2>&1 &
qemu_pid=$!
for _ in $(seq "$((seconds * 10))"); do
  grep -q "$until" "$work/serial.log" && break
  kill -0 "$qemu_pid" 2>/dev/null || break
  sleep 0.1
done
