#!/usr/bin/env bash
# Load test: many signed-in clients against the app behind tower-oidc for 30 s, and the same
# load against the bare app (benches/load.rs). Installs Debian's `wrk` when it is missing.
#
#   scripts/load.sh                      # LOAD_SECS, LOAD_CONNECTIONS, LOAD_THREADS, LOAD_CLIENTS
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
