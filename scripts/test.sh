#!/usr/bin/env bash
# Runs the whole tower-oidc test suite against a real OpenID Provider
# (node `oidc-provider`, see tests/oidc-provider/server.mjs).
#
#   scripts/test.sh [extra cargo test args...]
#
# Steps: make sure a Node.js >= 20.19 is available (scripts/node.sh: else install
# Node 22 from npm into .tools/node), `npm ci` the provider, start it on a free
# port on 127.0.0.1, start a throwaway PostgreSQL cluster (scripts/pg.sh) and a
# throwaway Redis (scripts/redis.sh: Debian redis-server, installed when missing), export
# TOWER_OIDC_TEST_* and run `cargo test --workspace --all-features` (every crate of
# the workspace: tower-oidc and the development IdP in dev-idp/); then, whatever
# cargo test's outcome, run the browser tests (scripts/browser.sh: Debian chromium
# via npm playwright-core, installed when missing; screenshots of every step under
# target/browser-screenshots), and a short smoke run of each fuzz target
# (scripts/fuzz.sh smoke). The script fails when any part fails.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
PROVIDER_DIR=tests/oidc-provider

log() { printf '[test.sh] %s\n' "$*" >&2; }

# shellcheck source=scripts/pg.sh
source "$ROOT/scripts/pg.sh"
# shellcheck source=scripts/redis.sh
source "$ROOT/scripts/redis.sh"

# --- Node.js -----------------------------------------------------------------
# shellcheck source=scripts/node.sh
source "$ROOT/scripts/node.sh"
node_ensure || exit 1

# --- provider dependencies ---------------------------------------------------
# npm ci on a fresh clone, or when the lock changed since the last install.
if [[ ! -d $PROVIDER_DIR/node_modules/oidc-provider ||
      $PROVIDER_DIR/package-lock.json -nt $PROVIDER_DIR/node_modules/.package-lock.json ]]; then
  log "npm ci in $PROVIDER_DIR"
  (cd "$PROVIDER_DIR" && npm ci --no-audit --no-fund) >&2
fi

# --- start the providers -----------------------------------------------------
# Two independent instances with different issuers, keys and users (USERS_SET a
# and b), for the tests with several providers.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tower-oidc-test.XXXXXX")
PROVIDER_PIDS=()
PROVIDER_LOGS=()

cleanup() {
  pg_stop || true
  redis_stop || true
  local pid
  for pid in "${PROVIDER_PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

print_provider_logs() {
  local f
  for f in "${PROVIDER_LOGS[@]}"; do
    log "---- provider log ($f) ----"
    cat "$f" >&2 || true
  done
  log "---- end of provider logs ----"
}

if command -v curl >/dev/null 2>&1; then
  discovery_ok() { curl -fsS --max-time 5 "$1/.well-known/openid-configuration" >/dev/null; }
else
  discovery_ok() {
    node -e 'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' \
      "$1/.well-known/openid-configuration"
  }
fi

# start_provider USERS_SET: starts one instance and sets $STARTED_ISSUER.
start_provider() {
  local set=$1 logf=$WORK/provider-$1.log pid issuer=
  # Started directly from this shell (not in a subshell) so $! is node's PID.
  USERS_SET=$set PORT=0 node "$PROVIDER_DIR/server.mjs" >"$logf" 2>&1 &
  pid=$!
  PROVIDER_PIDS+=("$pid")
  PROVIDER_LOGS+=("$logf")
  for _ in $(seq 1 300); do # up to ~30 s
    issuer=$(sed -n 's/^ISSUER=//p' "$logf" | head -n 1)
    [[ -n $issuer ]] && break
    if ! kill -0 "$pid" 2>/dev/null; then
      log "provider $set exited before announcing its issuer"
      print_provider_logs
      exit 1
    fi
    sleep 0.1
  done
  if [[ -z $issuer ]]; then
    log "timed out waiting for provider $set's ISSUER= line"
    print_provider_logs
    exit 1
  fi
  if ! discovery_ok "$issuer"; then
    log "provider $set's discovery document is not reachable at $issuer"
    print_provider_logs
    exit 1
  fi
  log "provider $set up: $issuer (pid $pid)"
  STARTED_ISSUER=$issuer
}

start_provider a
ISSUER=$STARTED_ISSUER
start_provider b
ISSUER_B=$STARTED_ISSUER

# --- PostgreSQL --------------------------------------------------------------
# Exports TOWER_OIDC_TEST_DATABASE_URL; cleanup() stops it. On failure pg_start
# has already printed why (and the server log).
pg_start || { log "could not start PostgreSQL for the tests"; exit 1; }

# --- Redis -------------------------------------------------------------------
# Exports TOWER_OIDC_TEST_REDIS_URL (the tests' store, and where the tests that stop and
# restart Redis find its binary: TOWER_OIDC_TEST_REDIS_SERVER); cleanup() stops it.
redis_start || { log "could not start Redis for the tests"; exit 1; }
TOWER_OIDC_TEST_REDIS_SERVER=$(command -v redis-server)
export TOWER_OIDC_TEST_REDIS_SERVER

# --- run the tests -----------------------------------------------------------
export TOWER_OIDC_TEST_ISSUER=$ISSUER
export TOWER_OIDC_TEST_ISSUER_B=$ISSUER_B
export TOWER_OIDC_TEST_CLIENT_ID=tower-oidc-test
export TOWER_OIDC_TEST_CLIENT_SECRET=tower-oidc-test-secret-0123456789abcdef0123456789
export TOWER_OIDC_TEST_POST_CLIENT_ID=tower-oidc-test-post
export TOWER_OIDC_TEST_POST_CLIENT_SECRET=$TOWER_OIDC_TEST_CLIENT_SECRET
export TOWER_OIDC_TEST_REDIRECT_URI=http://127.0.0.1:3999/auth/callback
export TOWER_OIDC_TEST_BASE_URL=http://127.0.0.1:3999
export TOWER_OIDC_TEST_POST_LOGOUT_URI=http://127.0.0.1:3999/signed-out

status=0
cargo test --workspace --all-features "$@" || status=$?

for pid in "${PROVIDER_PIDS[@]}"; do
  if ! kill -0 "$pid" 2>/dev/null; then
    log "a provider died during the tests"
    print_provider_logs
    [[ $status -ne 0 ]] || status=1
  fi
done
if [[ $status -ne 0 ]]; then
  log "cargo tests failed (status $status); last provider log lines:"
  for f in "${PROVIDER_LOGS[@]}"; do tail -n 20 "$f" >&2 || true; done
fi

# --- browser tests -----------------------------------------------------------
# Run even when cargo test failed (they start their own provider and app); any
# failure of either part fails this script.
browser_status=0
"$ROOT/scripts/browser.sh" || browser_status=$?
if [[ $browser_status -ne 0 ]]; then
  log "browser tests failed (status $browser_status)"
  [[ $status -ne 0 ]] || status=$browser_status
fi

# --- fuzz smoke ----------------------------------------------------------------
# Each cargo-fuzz target for a few seconds (scripts/fuzz.sh installs cargo-fuzz into
# .tools/ and builds the targets on stable); a crash fails the run. The long campaigns
# are run by hand: fuzz/README.md.
fuzz_status=0
"$ROOT/scripts/fuzz.sh" smoke "${FUZZ_SMOKE_SECS:-20}" || fuzz_status=$?
if [[ $fuzz_status -ne 0 ]]; then
  log "fuzz smoke failed (status $fuzz_status)"
  [[ $status -ne 0 ]] || status=$fuzz_status
fi
exit "$status"
