#!/bin/sh
# ccts built-in install script for default/master-2 (cluster lab).
# Fetches this machine's cloud-config and installs the OS with it onto the install disk.
set -eu

server='http://10.20.0.2:8080'
mac='52:54:00:12:34:02'
disk='/dev/sda'
channel='stable'
version='4152.2.0'
image_base_url=''

workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT INT TERM
config="$workdir/cloud-config.yaml"

echo "ccts: fetching the cloud-config of $mac from $server"
curl -fsS --retry 5 --retry-delay 2 --retry-connrefused -o "$config" "$server/cloud-config/$mac"
if [ "$(head -n 1 "$config")" != "#cloud-config" ]; then
  echo "ccts: $server/cloud-config/$mac is not a cloud-config" >&2
  exit 1
fi

set -- -d "$disk" -C "$channel" -V "$version" -c "$config"
if [ -n "$image_base_url" ]; then
  set -- "$@" -b "$image_base_url"
fi
if command -v flatcar-install >/dev/null 2>&1; then
  flatcar-install "$@"
elif command -v coreos-install >/dev/null 2>&1; then
  coreos-install "$@"
else
  echo "ccts: no OS installer (flatcar-install or coreos-install) on this system" >&2
  exit 1
fi

echo "ccts: installed master-2 onto $disk"
reboot
