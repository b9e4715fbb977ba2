#!/usr/bin/env bash
# Fuzzing with cargo-fuzz on the stable toolchain; see fuzz/README.md.
#
#   scripts/fuzz.sh install              cargo-fuzz into .tools/cargo-fuzz (if missing)
#   scripts/fuzz.sh build                every target: optimized, debug assertions, no sanitizer
#   scripts/fuzz.sh smoke [SECS]         install + build, then each target for SECS s (default 20)
#   scripts/fuzz.sh run TARGET SECS [libFuzzer args...]
#   scripts/fuzz.sh list                 the targets
#
# Binaries: fuzz/target/x86_64-unknown-linux-gnu/release/<target> (standalone libFuzzer
# programs: run one with a corpus directory and libFuzzer flags, no cargo needed).
# Corpora grow in fuzz/corpus/<target> (seeded from fuzz/seeds/<target>, with the dictionary
# fuzz/dict/<target>.dict); crashes land in fuzz/artifacts/<target>. Both are git-ignored.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FUZZ_VERSION="0.13.2"
TOOLS="$ROOT/.tools/cargo-fuzz"
CARGO_FUZZ="$TOOLS/bin/cargo-fuzz"
TRIPLE="$(rustc -vV | sed -n 's/^host: //p')"
BIN_DIR="$ROOT/fuzz/target/$TRIPLE/release"

# libFuzzer limits: inputs up to 8 KiB (a cookie header line is at most ~8 KiB at common
# proxies; a config file or token of that size is already unusual); 2 GiB of memory; an input
# that takes over 10 s is a hang. -timeout and -rss_limit_mb make a slow input or unbounded
# growth a crash, with its input saved as an artifact.
LIMITS=(-max_len=8192 -rss_limit_mb=2048 -timeout=10)

# The build that cargo-fuzz does on stable: `--sanitizer none` (no -Z flag is passed, so no
# RUSTC_BOOTSTRAP is needed), release with debug assertions (overflow checks included).
BUILD_FLAGS=(--release --debug-assertions --sanitizer none)

targets() {
    # The `name` that follows each `[[bin]]`.
    awk '/^\[\[bin\]\]/ { bin = 1; next } bin && /^name = / { gsub(/"/, "", $3); print $3; bin = 0 }' \
        "$ROOT/fuzz/Cargo.toml"
}

install() {
    if [[ -x "$CARGO_FUZZ" ]] && "$CARGO_FUZZ" --version | grep -q " $FUZZ_VERSION\$"; then
        return
    fi
    echo "== installing cargo-fuzz $FUZZ_VERSION into $TOOLS" >&2
    cargo install --locked --quiet --root "$TOOLS" "cargo-fuzz@$FUZZ_VERSION"
}

build() {
    install
    echo "== building the fuzz targets" >&2
    (cd "$ROOT" && "$CARGO_FUZZ" build "${BUILD_FLAGS[@]}")
    for t in $(targets); do
        [[ -x "$BIN_DIR/$t" ]] || { echo "missing binary $BIN_DIR/$t" >&2; exit 1; }
    done
}

# run TARGET SECS [args]: runs the built binary on its corpus (seeded from fuzz/seeds/TARGET).
run_target() {
    local target="$1" secs="$2"
    shift 2
    local corpus="$ROOT/fuzz/corpus/$target" artifacts="$ROOT/fuzz/artifacts/$target"
    mkdir -p "$corpus" "$artifacts"
    local seeds=() dict=()
    [[ -d "$ROOT/fuzz/seeds/$target" ]] && seeds=("$ROOT/fuzz/seeds/$target")
    [[ -f "$ROOT/fuzz/dict/$target.dict" ]] && dict=(-dict="$ROOT/fuzz/dict/$target.dict")
    local status=0 started
    started="$(mktemp)"
    "$BIN_DIR/$target" "${LIMITS[@]}" -max_total_time="$secs" \
        -artifact_prefix="$artifacts/" -print_final_stats=1 "${dict[@]}" "$@" \
        "$corpus" "${seeds[@]}" || status=$?
    if [[ $status -ne 0 ]]; then
        echo "== $target FAILED (exit $status); new artifacts:" >&2
        find "$artifacts" -type f -newer "$started" | sed 's/^/   /' >&2
        echo "   reproduce: $BIN_DIR/$target <artifact>" >&2
    fi
    rm -f "$started"
    return $status
}

cmd="${1:-}"
case "$cmd" in
install) install ;;
build) build ;;
list) targets ;;
smoke)
    secs="${2:-20}"
    build
    failed=()
    for t in $(targets); do
        echo "== $t: ${secs}s" >&2
        log="$ROOT/fuzz/artifacts/$t.log"
        mkdir -p "$ROOT/fuzz/artifacts"
        if run_target "$t" "$secs" >"$log" 2>&1; then
            grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$log" >&2 || true
        else
            failed+=("$t")
            tail -n 40 "$log" >&2
        fi
    done
    if [[ ${#failed[@]} -gt 0 ]]; then
        echo "== fuzz smoke failed: ${failed[*]}" >&2
        exit 1
    fi
    echo "== fuzz smoke passed" >&2
    ;;
run)
    [[ $# -ge 3 ]] || { echo "usage: $0 run TARGET SECS [libFuzzer args...]" >&2; exit 2; }
    target="$2" secs="$3"
    shift 3
    build # incremental: a second or two when nothing changed
    run_target "$target" "$secs" "$@"
    ;;
*)
    sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
