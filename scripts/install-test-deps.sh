#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine, then builds the project:
#   - Debian packages of the real clients the tests run (cloud-init, iPXE in QEMU, dnsmasq, ...)
#   - npm dependencies (npm ci) and the Node 24 runtime the tests run on
#   - the Kubernetes control plane binaries, and OpenTofu, the Terraform Kubernetes provider and
#     Consul for the CDKTF test (all built from Go modules, cached outside the repo)
#   - gopkg.in/yaml.v2, the legacy server's YAML reader, for the legacy import test
# Safe to re-run: every step skips what is already there.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

debian_packages=(
  cloud-init python3-jsonschema   # cloud-config schema and cloud-init's own NoCloud/ConfigDrive code
  qemu-system-x86 ipxe-qemu ovmf  # iPXE firmware booting in a VM, BIOS and UEFI
  ignition                        # ignition-validate
  dnsmasq                         # dnsmasq --test, and dnsmasq serving DHCP and DNS in a namespace
  isc-dhcp-client iproute2        # dhclient asking that dnsmasq for leases over a veth pair
  xorriso genisoimage             # ConfigDrive ISO images
  nginx wrk                       # benchmark reference and load generator
  haproxy                         # the cdktf stack's front door, run with its generated config
  libjemalloc2                    # the controller container's allocator (tests, benchmark)
  git openssl curl
  shellcheck                      # lints the built-in install.sh
  openssh-server                  # an sshd on loopback serving a template repository over SSH
)
missing=()
for p in "${debian_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The packaged dnsmasq, nginx, haproxy and ssh services are not needed; tests start their own on
# loopback.
systemctl disable --now dnsmasq nginx haproxy ssh >/dev/null 2>&1 || true

npm ci --no-audit --no-fund
(cd cdktf && npm ci --no-audit --no-fund)   # cdktf/ keeps its own dependencies (CDKTF is archived upstream)
scripts/install-node24.sh

# Go builds, cached outside the repo by version: a fresh 2-core machine needs about 10 minutes for
# the control plane and 25 for OpenTofu, the Kubernetes provider and Consul; later runs take seconds.
test/control-plane/build.sh
cdktf/tools/build.sh
test/deploy/install-hadolint.sh
# gopkg.in/yaml.v2, which the legacy decoder of test/legacy/yaml-go.test.ts builds with, fetched
# here so the test itself never waits on the Go module proxy.
(cd test/legacy/go-legacy-yaml && GOTOOLCHAIN=local go mod download)
