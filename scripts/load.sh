#!/usr/bin/env bash
# Pinned load test (benches/load.rs): the server on one core with one tokio worker, `wrk -t1
# -c32` on another, the bare app and the same app behind tower-oidc (per route and around the
# router) with the same handler and the same signed-in users' cookies, in 10 interleaved rounds
# of 10 s per app; each round's ratio, the median and the range. Installs Debian's `wrk` when
# it is missing; `taskset` comes with util-linux.
#
#   scripts/load.sh     # LOAD_ROUNDS, LOAD_SECS, LOAD_CONNECTIONS, LOAD_THREADS, LOAD_CLIENTS,
#                       # LOAD_SERVER_CPU, LOAD_CLIENT_CPU
#
# The report is printed and written to target/load/report.md; the run fails when any response
# was not 2xx or any socket error occurred.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v wrk >/dev/null 2>&1; then
  # shellcheck source=scripts/apt.sh
  source scripts/apt.sh
  apt_install wrk "install wrk another way" wrk || exit 1
fi

exec cargo bench --bench load
