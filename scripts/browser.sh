#!/usr/bin/env bash
# Runs the browser tests (tests/browser): Debian's chromium, driven by npm
# `playwright-core`, signs in to the quickstart example against its built-in
# development IdP and against the real OpenID provider (tests/oidc-provider).
# Each test file starts its own provider and app on free ports of 127.0.0.1.
#
#   scripts/browser.sh [extra `node --test` args, e.g. --test-name-pattern=logout]
#
# Steps: make sure a Node.js >= 20.19 is available (scripts/node.sh; scripts/test.sh
# has already put one on PATH), install Debian's `chromium` with apt-get when
# /usr/bin/chromium is missing (as root, else with sudo), `npm ci` tests/browser
# and tests/oidc-provider when needed, build the quickstart example, and run
# `node --test` on tests/browser/*.test.mjs one file at a time.
#
# Screenshots of every step: target/browser-screenshots/<test>/<NN-step>.png
# (cleared at each run; a failing test adds NN-failure-page-N.png).
# CHROMIUM=/path/to/chromium uses another binary (then nothing is installed).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
BROWSER_DIR=tests/browser
PROVIDER_DIR=tests/oidc-provider
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
export CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

log() { printf '[browser.sh] %s\n' "$*" >&2; }
STARTED=$SECONDS

# --- Node.js -----------------------------------------------------------------
# shellcheck source=scripts/node.sh
source "$ROOT/scripts/node.sh"
node_ensure || exit 1

# --- chromium ----------------------------------------------------------------
if [[ ! -x $CHROMIUM ]]; then
  if [[ $CHROMIUM != /usr/bin/chromium ]]; then
    log "CHROMIUM=$CHROMIUM is not an executable file"
    exit 1
  fi
  # shellcheck source=scripts/apt.sh
  source "$ROOT/scripts/apt.sh"
  t0=$SECONDS
  apt_install /usr/bin/chromium "set CHROMIUM=/path/to/chromium" chromium || exit 1
  [[ -x $CHROMIUM ]] || { log "apt-get installed chromium, but $CHROMIUM is still missing"; exit 1; }
  log "chromium installed in $((SECONDS - t0)) s"
fi
log "using $("$CHROMIUM" --version 2>/dev/null | head -n 1) ($CHROMIUM)"

# --- npm dependencies --------------------------------------------------------
# npm ci on a fresh clone, or when the lock changed since the last install.
npm_ci_if_needed() {
  local dir=$1 package=$2
  if [[ ! -d $dir/node_modules/$package ||
        $dir/package-lock.json -nt $dir/node_modules/.package-lock.json ]]; then
    log "npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund) >&2
  fi
}
npm_ci_if_needed "$BROWSER_DIR" playwright-core
npm_ci_if_needed "$PROVIDER_DIR" oidc-provider

# --- the app under test ------------------------------------------------------
log "building the quickstart example"
cargo build --all-features --example quickstart >&2
export QUICKSTART_BIN=$TARGET_DIR/debug/examples/quickstart

# --- run ---------------------------------------------------------------------
rm -rf "$TARGET_DIR/browser-screenshots"
log "running the browser tests (screenshots: $TARGET_DIR/browser-screenshots)"
t0=$SECONDS
status=0
node --test --test-concurrency=1 "$@" "$BROWSER_DIR"/*.test.mjs || status=$?
log "browser tests took $((SECONDS - t0)) s ($((SECONDS - STARTED)) s in all); status $status"
if [[ $status -ne 0 ]]; then
  log "FAILED: see the screenshots under $TARGET_DIR/browser-screenshots"
fi
exit "$status"
