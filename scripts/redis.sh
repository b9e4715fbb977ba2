# shellcheck shell=bash
# A throwaway Redis server for the tests. Source this file, then:
#
#   redis_start   # exports TOWER_OIDC_TEST_REDIS_URL=redis://127.0.0.1:<port>/
#   ...
#   redis_stop    # stops the server (by PID) and deletes its dir; safe to call twice
#
# `redis-server` comes from PATH, else Debian's `redis-server` package is installed
# (apt-get, with sudo when not root). The system service is never used or started: the
# server runs in a temp dir, listens on a free loopback port only, with no persistence
# (the tests that restart it start it again on the same port), and is stopped by its PID.
#
# Functions return non-zero with a message on stderr; they do not rely on `set -e`.

# shellcheck source=scripts/apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/apt.sh"

REDIS_DIR=
REDIS_PID=
REDIS_PORT=

_redis_log() { printf '[redis.sh] %s\n' "$*" >&2; }

# Prints a free TCP port on 127.0.0.1.
_redis_pick_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

redis_start() {
  local bin attempt
  if [[ -n $REDIS_PID ]]; then
    _redis_log "redis_start: a server is already running (pid $REDIS_PID)"
    return 1
  fi
  if ! bin=$(command -v redis-server 2>/dev/null); then
    apt_install "the Redis server (redis-server)" "put redis-server on PATH" \
      redis-server --no-install-recommends || return 1
    bin=$(command -v redis-server 2>/dev/null) || {
      _redis_log "installed redis-server but it is not on PATH"
      return 1
    }
  fi
  REDIS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tower-oidc-redis.XXXXXX") || return 1
  for attempt in 1 2 3 4 5; do
    REDIS_PORT=$(_redis_pick_port) || { _redis_log "no free port on 127.0.0.1"; break; }
    "$bin" --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$REDIS_DIR" --save '' --appendonly no \
      --protected-mode yes --daemonize no >"$REDIS_DIR/redis.log" 2>&1 &
    REDIS_PID=$!
    for _ in $(seq 1 100); do # up to ~10 s
      if ! kill -0 "$REDIS_PID" 2>/dev/null; then
        break
      fi
      if grep -q 'Ready to accept connections' "$REDIS_DIR/redis.log" 2>/dev/null; then
        export TOWER_OIDC_TEST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/"
        _redis_log "Redis up on 127.0.0.1:$REDIS_PORT (pid $REDIS_PID)"
        return 0
      fi
      sleep 0.1
    done
    _redis_log "redis-server did not start on port $REDIS_PORT (attempt $attempt):"
    cat "$REDIS_DIR/redis.log" >&2 || true
    kill "$REDIS_PID" 2>/dev/null || true
    wait "$REDIS_PID" 2>/dev/null || true
    REDIS_PID=
  done
  rm -rf "$REDIS_DIR"
  REDIS_DIR=
  return 1
}

redis_stop() {
  if [[ -n $REDIS_PID ]] && kill -0 "$REDIS_PID" 2>/dev/null; then
    kill -TERM "$REDIS_PID" 2>/dev/null || true
    wait "$REDIS_PID" 2>/dev/null || true
  fi
  [[ -n $REDIS_DIR ]] && rm -rf "$REDIS_DIR"
  REDIS_DIR=
  REDIS_PID=
  REDIS_PORT=
  unset TOWER_OIDC_TEST_REDIS_URL
}
