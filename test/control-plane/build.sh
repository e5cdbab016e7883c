#!/usr/bin/env bash
# Builds the test control plane (kube-apiserver, kube-controller-manager, kubectl from
# k8s.io/kubernetes, and our embedded etcd) into a cache outside the repo, keyed by the Kubernetes
# version and a hash of this module, and prints the bin dir on stdout (logs go to stderr).
# Idempotent: when the keyed bin dir exists it returns at once. Concurrent runs wait on a lock.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
# The toolchain in go.mod (1.26) is what we build with; never download another one silently.
export GOTOOLCHAIN=${GOTOOLCHAIN:-local}

k8s_version=$(grep -oE 'k8s\.io/kubernetes v[0-9][^ ]*' go.mod | head -1 | cut -d' ' -f2)
# Everything that changes the binaries is in the key: module files, our Go sources, this script.
hash=$( { cat go.mod go.sum build.sh; find . -name '*.go' -print0 | sort -z | xargs -0 cat; } | sha256sum | cut -c1-12)
root=${CCTS_CACHE_DIR:-$HOME/.cache/ccts}/control-plane
dest="$root/$k8s_version-$hash"
bins=(kube-apiserver kube-controller-manager kubectl etcd)

complete() { for b in "${bins[@]}"; do [ -x "$dest/bin/$b" ] || return 1; done; }

if complete; then echo "$dest/bin"; exit 0; fi

mkdir -p "$root"
exec 9>"$root/.build.lock"
flock 9
if complete; then echo "$dest/bin"; exit 0; fi # another run built it while we waited

tmp=$(mktemp -d "$root/.build-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "building control plane $k8s_version ($hash) into $dest; the first build takes a while" >&2
start=$(date +%s)
# Stamp the version the way the Kubernetes release build does, so `kubectl version` and the
# server's /version report v1.x.y instead of v0.0.0-master (clients check version skew).
minor=$(echo "$k8s_version" | cut -d. -f2)
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
done
go build -trimpath -ldflags="$ldflags" -o "$tmp/bin/" \
  k8s.io/kubernetes/cmd/kube-apiserver \
  k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kubectl \
  ./etcd
echo "$(( $(date +%s) - start ))" >"$tmp/build-seconds"
rm -rf "$dest"
mv "$tmp" "$dest"
trap - EXIT
echo "built in $(cat "$dest/build-seconds")s" >&2
echo "$dest/bin"
