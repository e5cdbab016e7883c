#!/usr/bin/env bash
# Builds the Terraform-side tools for the cdktf end-to-end test from Go modules (no Terraform
# registry, no releases.hashicorp.com needed), into a cache outside the repo keyed by the versions
# and a hash of the three Go modules here plus this script, and prints the bin dir on stdout
# (logs go to stderr). Idempotent: when the keyed dir exists it returns at once. Concurrent runs
# wait on a lock.
#
#   <dir>/bin/tofu                        OpenTofu CLI            (tofu/go.mod)
#   <dir>/bin/consul                      Consul agent            (consul/go.mod)
#   <dir>/bin/terraform-provider-kubernetes                       (provider-kubernetes/go.mod)
#   <dir>/plugins/registry.{terraform.io,opentofu.org}/hashicorp/kubernetes/<v>/linux_amd64/terraform-provider-kubernetes_v<v>
#                                         filesystem mirror for `-plugin-dir` / provider_installation
#   <dir>/versions.env                    TOFU_VERSION=, CONSUL_VERSION=, PROVIDER_KUBERNETES_VERSION=
#
# Why not `go install module@version`: OpenTofu, Terraform and Consul all have replace directives
# in their go.mod, which `go install` refuses. Each folder here is a small module that requires the
# upstream module (so the build list is upstream's own) and has a `tool` directive for its main
# package. go.sum is committed; a build only reads it (-mod=readonly).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
# The toolchain we have is what we build with; never download another one silently.
export GOTOOLCHAIN=${GOTOOLCHAIN:-local}
export GOFLAGS=-mod=readonly

mod_version() { # module dir: the version of a direct requirement in dir/go.mod
  local v
  v=$(awk -v m="$1" '$1 == m { print $2; exit } $1 == "require" && $2 == m { print $3; exit }' "$2/go.mod")
  [ -n "$v" ] || { echo "no requirement $1 in $2/go.mod" >&2; exit 1; }
  echo "$v"
}
tofu_version=$(mod_version github.com/opentofu/opentofu tofu)
consul_version=$(mod_version github.com/hashicorp/consul consul)
provider_modversion=$(mod_version github.com/hashicorp/terraform-provider-kubernetes provider-kubernetes)
# The provider's module path has no /v3 suffix, so the proxy serves it only under a pseudo-version;
# this is the release it corresponds to (git describe: v3.2.1-2-g3a33fb6cc, see its go.mod comment).
provider_version=3.2.1

hash=$( { cat build.sh ./*/go.mod ./*/go.sum; } | sha256sum | cut -c1-12)
root=${CCTS_CACHE_DIR:-$HOME/.cache/ccts}/cdktf-tools
dest="$root/tofu-${tofu_version#v}-consul-${consul_version#v}-k8s-${provider_version}-$hash"
# The stack's source is "hashicorp/kubernetes": Terraform reads it as registry.terraform.io/..., OpenTofu
# as registry.opentofu.org/...; the mirror holds the same binary under both.
plugin_rel="plugins/registry.terraform.io/hashicorp/kubernetes/$provider_version/linux_amd64/terraform-provider-kubernetes_v$provider_version"
plugin_rel_tofu="plugins/registry.opentofu.org/hashicorp/kubernetes/$provider_version/linux_amd64/terraform-provider-kubernetes_v$provider_version"

complete() {
  for b in tofu consul terraform-provider-kubernetes; do [ -x "$dest/bin/$b" ] || return 1; done
  [ -x "$dest/$plugin_rel" ] && [ -x "$dest/$plugin_rel_tofu" ] && [ -f "$dest/versions.env" ]
}

if complete; then echo "$dest/bin"; exit 0; fi

mkdir -p "$root"
exec 9>"$root/.build.lock"
flock 9
if complete; then echo "$dest/bin"; exit 0; fi # another run built it while we waited

tmp=$(mktemp -d "$root/.build-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "building cdktf tools (tofu $tofu_version, consul $consul_version, kubernetes provider $provider_version = $provider_modversion) into $dest; the first build takes a while" >&2
mkdir -p "$tmp/bin"
timings=""
build() { # name dir pkg [ldflags]
  local name=$1 dir=$2 pkg=$3 ldflags=${4:-}
  local start
  start=$(date +%s)
  echo "go build $pkg" >&2
  (cd "$dir" && go build -trimpath -ldflags="-s -w $ldflags" -o "$tmp/bin/$name" "$pkg")
  timings+="$name $(( $(date +%s) - start ))s"$'\n'
}
build terraform-provider-kubernetes provider-kubernetes github.com/hashicorp/terraform-provider-kubernetes \
  "-X main.Version=$provider_version"
build tofu tofu github.com/opentofu/opentofu/cmd/tofu \
  "-X github.com/opentofu/opentofu/version.dev=no"
build consul consul github.com/hashicorp/consul \
  "-X github.com/hashicorp/consul/version.GitCommit=${consul_version}"

for rel in "$plugin_rel" "$plugin_rel_tofu"; do
  mkdir -p "$(dirname "$tmp/$rel")"
  cp "$tmp/bin/terraform-provider-kubernetes" "$tmp/$rel"
done
cat >"$tmp/versions.env" <<EOF
TOFU_VERSION=${tofu_version#v}
CONSUL_VERSION=${consul_version#v}
PROVIDER_KUBERNETES_VERSION=$provider_version
PROVIDER_KUBERNETES_MODULE_VERSION=$provider_modversion
EOF
printf '%s' "$timings" >"$tmp/build-seconds"
rm -rf "$dest"
mv "$tmp" "$dest"
trap - EXIT
echo "built: $(tr '\n' ' ' <"$dest/build-seconds")" >&2
echo "$dest/bin"
