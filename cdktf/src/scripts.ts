// The scripts the bootstrapper Pod runs, shipped in a ConfigMap (no secrets in them).
//
// bootstrap.sh is idempotent: every step leaves a marker file on the PVC when it finished, so a
// restarted Pod (or a re-run by hand) skips what is done and continues with the first unfinished
// step. A marker is written to a temporary name and renamed, so a step that died half-way is never
// marked done. destroy.sh runs inside the Pod from Terraform's `when = destroy` provisioner before
// the Pod goes away; it is safe to run twice too.
//
// Both are POSIX sh (busybox ash in the default image): no bashisms.

/** Where the PVC is mounted in the bootstrapper Pod. */
export const STATE_DIR = "/var/lib/ccts-bootstrap";
/** Where the scripts ConfigMap is mounted. */
export const SCRIPTS_DIR = "/opt/ccts-bootstrap";

/** The steps bootstrap.sh runs, in order; each leaves `markers/<step>.done`. */
export const BOOTSTRAP_STEPS = ["layout", "settings", "wait_server"] as const;

export const bootstrapScript = `#!/bin/sh
# ccts bootstrap (idempotent). Each step leaves \${STATE}/markers/<step>.done when it finished;
# a restarted Pod skips the steps that have a marker. Settings arrive as CCTS_* environment
# variables (set by Terraform from its input variables).
set -eu
STATE=\${CCTS_BOOTSTRAP_STATE:-${STATE_DIR}}
MARKERS="$STATE/markers"
mkdir -p "$MARKERS"

log() { echo "ccts-bootstrap: $*"; }

# step NAME FUNCTION: runs FUNCTION unless NAME has a marker; marks it done only on success.
step() {
  name=$1
  shift
  if [ -f "$MARKERS/$name.done" ]; then
    log "step $name: done at $(cat "$MARKERS/$name.done"), skipped"
    return 0
  fi
  log "step $name: running"
  "$@"
  date -u +%Y-%m-%dT%H:%M:%SZ >"$MARKERS/$name.done.tmp"
  mv "$MARKERS/$name.done.tmp" "$MARKERS/$name.done"
  log "step $name: done"
}

# layout: the folders later steps and the operator use (assets: kernels/initrds; keys: 0700).
layout() {
  mkdir -p "$STATE/assets" "$STATE/keys" "$STATE/log"
  chmod 700 "$STATE/keys"
}

# settings: record the settings this bootstrap ran with (CCTS_* only; no tokens are passed in).
settings() {
  env | grep '^CCTS_' | sort >"$STATE/settings.env.tmp"
  mv "$STATE/settings.env.tmp" "$STATE/settings.env"
}

# wait_server: the ccts server answers /readyz through its Service.
wait_server() {
  n=0
  until wget -q -O /dev/null -T 5 "\${CCTS_SERVER_URL}/readyz"; do
    n=$((n + 1))
    if [ $((n % 12)) -eq 1 ]; then log "waiting for \${CCTS_SERVER_URL}/readyz"; fi
    sleep 5
  done
}

for s in ${BOOTSTRAP_STEPS.join(" ")}; do
  step "$s" "$s"
done
date -u +%Y-%m-%dT%H:%M:%SZ >"$STATE/complete"
log "bootstrap complete; staying up for the destroy script (kubectl exec)"
# Stay up so Terraform's destroy provisioner can exec destroy.sh; exit at once on SIGTERM.
trap 'exit 0' TERM INT
while :; do sleep 3600 & wait $!; done
`;

export const destroyScript = `#!/bin/sh
# ccts teardown, run by Terraform (local-exec, when = destroy: kubectl exec into the bootstrapper
# Pod) before the Pod, the PVC and the namespace are deleted. Safe to run more than once.
set -eu
STATE=\${CCTS_BOOTSTRAP_STATE:-${STATE_DIR}}
log() { echo "ccts-destroy: $*"; }
if [ -d "$STATE/markers" ]; then
  log "finished steps: $(ls "$STATE/markers" | tr '\\n' ' ')"
fi
# A later bootstrap on a kept volume must start from the first step again.
rm -rf "$STATE/markers" "$STATE/complete"
date -u +%Y-%m-%dT%H:%M:%SZ >"$STATE/destroyed"
log "markers removed; ready for deletion"
`;
