# shellcheck shell=bash
# A throwaway PostgreSQL cluster for the tests. Source this file, then:
#
#   pg_start   # exports TOWER_OIDC_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:<port>/postgres
#   ...
#   pg_stop    # stops the server and deletes the cluster; safe to call twice or before pg_start
#
# The server binaries (initdb, pg_ctl, postgres) come from the highest
# /usr/lib/postgresql/<version>/bin, else from PATH, else Debian's `postgresql`
# package is installed (apt-get, with sudo when not root). The system cluster and
# service are never used or started: the cluster lives in a temp dir, listens on a
# free loopback port and a private socket dir, trusts every local connection, and
# runs without fsync. As root, initdb and postgres run as the `postgres` user.
# Set PG_BINDIR to use the binaries of one particular installation.
#
# Functions return non-zero with a message on stderr (and the server log when the
# server does not start); they do not rely on `set -e`.

# shellcheck source=scripts/apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/apt.sh"

PG_BINDIR=${PG_BINDIR:-}
PG_DIR=
PG_PORT=
PG_RUNAS=

_pg_log() { printf '[pg.sh] %s\n' "$*" >&2; }

# Prints the directory holding initdb, pg_ctl and postgres, or fails.
_pg_find_bindir() {
  local dir initdb
  if [[ -n $PG_BINDIR && -x $PG_BINDIR/initdb && -x $PG_BINDIR/pg_ctl && -x $PG_BINDIR/postgres ]]; then
    printf '%s\n' "$PG_BINDIR"
    return 0
  fi
  # Highest version first (sort -V puts 9.6 below 10).
  while IFS= read -r dir; do
    if [[ -x $dir/initdb && -x $dir/pg_ctl && -x $dir/postgres ]]; then
      printf '%s\n' "$dir"
      return 0
    fi
  done < <(compgen -G '/usr/lib/postgresql/*/bin' | sort -V -r)
  initdb=$(command -v initdb 2>/dev/null) || return 1
  dir=$(dirname "$(readlink -f "$initdb")")
  if [[ -x $dir/pg_ctl && -x $dir/postgres ]]; then
    printf '%s\n' "$dir"
    return 0
  fi
  # initdb, pg_ctl and postgres on PATH but in different directories: pg_ctl finds
  # postgres next to itself, so use pg_ctl's directory if it has everything.
  dir=$(dirname "$(readlink -f "$(command -v pg_ctl 2>/dev/null || echo /nonexistent)")")
  [[ -x $dir/initdb && -x $dir/pg_ctl && -x $dir/postgres ]] || return 1
  printf '%s\n' "$dir"
}

# Installs Debian's `postgresql` package (server binaries only; its own cluster,
# if the package creates one, is left alone).
_pg_install() {
  apt_install "the PostgreSQL server (initdb, pg_ctl, postgres)" "set PG_BINDIR" \
    postgresql --no-install-recommends
}

# Runs a command as the cluster's owner ($PG_RUNAS when root, else as ourselves).
_pg_as() {
  if [[ -z $PG_RUNAS ]]; then
    "$@"
  elif command -v runuser >/dev/null 2>&1; then
    runuser -u "$PG_RUNAS" -- "$@"
  else
    su -s /bin/sh "$PG_RUNAS" -c "$(printf '%q ' "$@")"
  fi
}

# Prints a free TCP port on 127.0.0.1 (best effort: pg_start retries on a clash).
_pg_pick_port() {
  local port
  if command -v python3 >/dev/null 2>&1 &&
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null); then
    printf '%s\n' "$port"
    return 0
  fi
  for _ in $(seq 1 50); do
    port=$((20000 + RANDOM % 40000))
    # A connection that succeeds means something listens there already.
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      printf '%s\n' "$port"
      return 0
    fi
  done
  return 1
}

pg_print_log() {
  [[ -n $PG_DIR && -f $PG_DIR/postgres.log ]] || return 0
  _pg_log "---- PostgreSQL log ($PG_DIR/postgres.log) ----"
  cat "$PG_DIR/postgres.log" >&2 || true
  _pg_log "---- end of PostgreSQL log ----"
}

pg_start() {
  local bindir base attempt started=
  local -a initdb_flags
  if [[ -n $PG_DIR ]]; then
    _pg_log "pg_start: a cluster is already running in $PG_DIR"
    return 1
  fi
  if ! bindir=$(_pg_find_bindir); then
    _pg_install || return 1
    if ! bindir=$(_pg_find_bindir); then
      _pg_log "installed postgresql but found no initdb/pg_ctl/postgres under /usr/lib/postgresql/*/bin or PATH"
      return 1
    fi
  fi
  PG_BINDIR=$bindir

  PG_RUNAS=
  if [[ $(id -u) -eq 0 ]]; then
    # initdb and postgres refuse to run as root.
    PG_RUNAS=postgres
    if ! id -u postgres >/dev/null 2>&1; then
      _pg_log "creating system user postgres"
      useradd --system --user-group --home-dir /var/lib/postgresql --no-create-home \
        --shell /bin/bash postgres || { _pg_log "could not create user postgres"; return 1; }
    fi
  fi

  # The cluster owner must reach the dir; a root-only TMPDIR (e.g. under /root) will not do.
  for base in "${TMPDIR:-/tmp}" /tmp; do
    PG_DIR=$(mktemp -d "$base/tower-oidc-pg.XXXXXX" 2>/dev/null) || { PG_DIR=; continue; }
    if [[ -n $PG_RUNAS ]]; then
      chown "$PG_RUNAS:" "$PG_DIR" 2>/dev/null || chown "$PG_RUNAS" "$PG_DIR"
    fi
    if (cd / && _pg_as test -w "$PG_DIR") 2>/dev/null; then
      break
    fi
    rm -rf "$PG_DIR"
    PG_DIR=
  done
  if [[ -z $PG_DIR ]]; then
    _pg_log "could not make a temp dir that user ${PG_RUNAS:-$(id -un)} can write (TMPDIR=${TMPDIR:-/tmp})"
    return 1
  fi
  (cd "$PG_DIR" && _pg_as mkdir -m 700 sock)

  initdb_flags=(-D "$PG_DIR/data" -A trust -U postgres -E UTF8 --no-locale -N)
  # --no-instructions is PostgreSQL 14+. (Not `| grep -q`: with pipefail an early exit could fail it.)
  if [[ $("$PG_BINDIR/initdb" --help 2>/dev/null) == *--no-instructions* ]]; then
    initdb_flags+=(--no-instructions)
  fi
  if ! (cd "$PG_DIR" && _pg_as "$PG_BINDIR/initdb" "${initdb_flags[@]}") >"$PG_DIR/initdb.log" 2>&1; then
    _pg_log "initdb failed:"
    cat "$PG_DIR/initdb.log" >&2 || true
    rm -rf "$PG_DIR"
    PG_DIR=
    return 1
  fi

  for attempt in 1 2 3 4 5; do
    PG_PORT=$(_pg_pick_port) || { _pg_log "could not find a free port on 127.0.0.1"; break; }
    if (cd "$PG_DIR" && _pg_as "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" -w -t 60 \
      -o "-k '$PG_DIR/sock' -h 127.0.0.1 -p $PG_PORT -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
      start) >"$PG_DIR/pg_ctl.log" 2>&1; then
      started=1
      break
    fi
    if grep -qi 'already in use' "$PG_DIR/postgres.log" 2>/dev/null; then
      _pg_log "port $PG_PORT was taken (attempt $attempt); trying another"
      continue
    fi
    break
  done
  if [[ -z $started ]]; then
    _pg_log "PostgreSQL did not start (pg_ctl said:)"
    cat "$PG_DIR/pg_ctl.log" >&2 || true
    pg_print_log
    pg_stop
    return 1
  fi

  export TOWER_OIDC_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
  _pg_log "PostgreSQL $("$PG_BINDIR/postgres" --version | sed -n 's/.*(PostgreSQL) \([^ ]*\).*/\1/p') up on 127.0.0.1:$PG_PORT (cluster $PG_DIR)"
}

pg_stop() {
  [[ -n $PG_DIR ]] || return 0
  if [[ -f $PG_DIR/data/postmaster.pid ]]; then
    (cd "$PG_DIR" && _pg_as "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 30 stop) >/dev/null 2>&1 ||
      _pg_log "pg_ctl stop failed; the server in $PG_DIR may still be running"
  fi
  rm -rf "$PG_DIR"
  PG_DIR=
  PG_PORT=
  unset TOWER_OIDC_TEST_DATABASE_URL
}
