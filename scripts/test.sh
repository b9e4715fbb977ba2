#!/usr/bin/env bash
# Runs the whole tower-oidc test suite against a real OpenID Provider
# (node `oidc-provider`, see tests/oidc-provider/server.mjs).
#
#   scripts/test.sh [extra cargo test args...]
#
# Steps: make sure a Node.js >= 20.19 is available (else install Node 22 from
# npm into .tools/node), `npm ci` the provider, start it on a free port on
# 127.0.0.1, start a throwaway PostgreSQL cluster (scripts/pg.sh), export
# TOWER_OIDC_TEST_* and run `cargo test --all-features`.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
PROVIDER_DIR=tests/oidc-provider

log() { printf '[test.sh] %s\n' "$*" >&2; }

# shellcheck source=scripts/pg.sh
source "$ROOT/scripts/pg.sh"

# --- Node.js -----------------------------------------------------------------
# Succeeds when the given node binary is >= 20.19.
node_ok() {
  local v maj min
  v=$("$1" -p 'process.versions.node' 2>/dev/null) || return 1
  IFS=. read -r maj min _ <<<"$v"
  ((maj > 20 || (maj == 20 && min >= 19)))
}

TOOLS=$ROOT/.tools/node
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) PLATFORM=linux-x64 ;;
  Linux-aarch64 | Linux-arm64) PLATFORM=linux-arm64 ;;
  Darwin-arm64) PLATFORM=darwin-arm64 ;;
  Darwin-x86_64) PLATFORM=darwin-x64 ;;
  *) PLATFORM=unknown ;;
esac
# `npm install node@22` leaves the real binary at node_modules/node/bin/node
# (placed by the package's preinstall script). If npm ever refuses to run that
# script, the platform package node-<os>-<arch> carries the same binary.
NODE_CANDIDATES=("$TOOLS/node_modules/node/bin" "$TOOLS/node_modules/node-$PLATFORM/bin")

use_local_node() {
  local dir
  for dir in "${NODE_CANDIDATES[@]}"; do
    if [[ -x $dir/node ]] && node_ok "$dir/node"; then
      export PATH="$dir:$PATH"
      return 0
    fi
  done
  return 1
}

if command -v node >/dev/null 2>&1 && node_ok node; then
  :
elif use_local_node; then
  :
else
  command -v npm >/dev/null 2>&1 || { log "need Node.js >= 20.19 (or npm to install it)"; exit 1; }
  log "system node missing or older than 20.19; installing Node 22 into .tools/node"
  npm install --prefix "$TOOLS" --no-audit --no-fund --no-save node@22 >&2 || true
  if ! use_local_node; then
    log "node@22 gave no usable binary; trying node-$PLATFORM@22"
    npm install --prefix "$TOOLS" --no-audit --no-fund --no-save "node-$PLATFORM@22" >&2 || true
    use_local_node || { log "could not install a usable Node.js into .tools/node"; exit 1; }
  fi
fi
log "using node $(node --version) ($(command -v node))"

# --- provider dependencies ---------------------------------------------------
# npm ci on a fresh clone, or when the lock changed since the last install.
if [[ ! -d $PROVIDER_DIR/node_modules/oidc-provider ||
      $PROVIDER_DIR/package-lock.json -nt $PROVIDER_DIR/node_modules/.package-lock.json ]]; then
  log "npm ci in $PROVIDER_DIR"
  (cd "$PROVIDER_DIR" && npm ci --no-audit --no-fund) >&2
fi

# --- start the provider ------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tower-oidc-test.XXXXXX")
PROVIDER_LOG=$WORK/provider.log
PROVIDER_PID=

cleanup() {
  pg_stop || true
  if [[ -n $PROVIDER_PID ]] && kill -0 "$PROVIDER_PID" 2>/dev/null; then
    kill -TERM "$PROVIDER_PID" 2>/dev/null || true
    wait "$PROVIDER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

print_provider_log() {
  log "---- provider log ($PROVIDER_LOG) ----"
  cat "$PROVIDER_LOG" >&2 || true
  log "---- end of provider log ----"
}

# Started directly from this shell (not in a subshell) so $! is node's PID.
PORT=0 node "$PROVIDER_DIR/server.mjs" >"$PROVIDER_LOG" 2>&1 &
PROVIDER_PID=$!

ISSUER=
for _ in $(seq 1 300); do # up to ~30 s
  ISSUER=$(sed -n 's/^ISSUER=//p' "$PROVIDER_LOG" | head -n 1)
  [[ -n $ISSUER ]] && break
  if ! kill -0 "$PROVIDER_PID" 2>/dev/null; then
    log "provider exited before announcing its issuer"
    print_provider_log
    exit 1
  fi
  sleep 0.1
done
if [[ -z $ISSUER ]]; then
  log "timed out waiting for the provider's ISSUER= line"
  print_provider_log
  exit 1
fi

DISCOVERY=$ISSUER/.well-known/openid-configuration
if command -v curl >/dev/null 2>&1; then
  discovery_ok() { curl -fsS --max-time 5 "$DISCOVERY" >/dev/null; }
else
  discovery_ok() {
    node -e 'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "$DISCOVERY"
  }
fi
if ! discovery_ok; then
  log "provider discovery document not reachable at $DISCOVERY"
  print_provider_log
  exit 1
fi
log "provider up: $ISSUER (pid $PROVIDER_PID)"

# --- PostgreSQL --------------------------------------------------------------
# Exports TOWER_OIDC_TEST_DATABASE_URL; cleanup() stops it. On failure pg_start
# has already printed why (and the server log).
pg_start || { log "could not start PostgreSQL for the tests"; exit 1; }

# --- run the tests -----------------------------------------------------------
export TOWER_OIDC_TEST_ISSUER=$ISSUER
export TOWER_OIDC_TEST_CLIENT_ID=tower-oidc-test
export TOWER_OIDC_TEST_CLIENT_SECRET=tower-oidc-test-secret-0123456789abcdef0123456789
export TOWER_OIDC_TEST_POST_CLIENT_ID=tower-oidc-test-post
export TOWER_OIDC_TEST_POST_CLIENT_SECRET=$TOWER_OIDC_TEST_CLIENT_SECRET
export TOWER_OIDC_TEST_REDIRECT_URI=http://127.0.0.1:3999/auth/callback
export TOWER_OIDC_TEST_BASE_URL=http://127.0.0.1:3999
export TOWER_OIDC_TEST_POST_LOGOUT_URI=http://127.0.0.1:3999/signed-out

status=0
cargo test --all-features "$@" || status=$?

if ! kill -0 "$PROVIDER_PID" 2>/dev/null; then
  log "the provider died during the tests"
  print_provider_log
  [[ $status -ne 0 ]] || status=1
elif [[ $status -ne 0 ]]; then
  log "tests failed (status $status); last provider log lines:"
  tail -n 40 "$PROVIDER_LOG" >&2 || true
fi
exit "$status"
