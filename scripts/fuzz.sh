#!/usr/bin/env bash
# Runs rmq's libFuzzer targets (fuzz/, docs/fuzzing.md) for a while each and prints what they did.
#
#   scripts/fuzz.sh                 # every target, 60 s each
#   scripts/fuzz.sh 300             # every target, 300 s each
#   scripts/fuzz.sh 60 frame sql92  # only these
#
# Environment:
#   FUZZ_SANITIZER  none (default) or address. See "Stable Rust" below.
#   FUZZ_RSS_MB     libFuzzer -rss_limit_mb (default 512, 2048 with ASan): memory growing past it is an OOM crash.
#   FUZZ_MALLOC_MB  libFuzzer -malloc_limit_mb (default 512; only enforced with a sanitizer, see below).
#   FUZZ_TIMEOUT    libFuzzer -timeout in seconds (default 10): one input taking longer is a hang crash.
#   FUZZ_ARGS       extra libFuzzer flags, e.g. "-max_len=65536 -only_ascii=1".
#   FUZZ_BUILD_ARGS extra `cargo fuzz build` flags, e.g. "--codegen-units 16" for a faster build.
#
# Output: one line per target (seconds, executions, crashes, corpus size), then the total. Crash inputs are
# saved in fuzz/artifacts/<target>/ (reproduce: fuzz/target/x86_64-unknown-linux-gnu/release/<target> FILE);
# the grown corpus in fuzz/corpus/<target>/, seeded from the committed fuzz/seeds/<target>/ (and guided by
# fuzz/dicts/<target>.dict where there is one; both come from fuzz/seeds/make_seeds.py). The exit status is
# 1 when any target crashed.
#
# Stable Rust (only stable is installed): with `-s none`, cargo-fuzz passes only stable flags (coverage
# instrumentation, -Cpasses=sancov-module and -Cllvm-args=-sanitizer-coverage-*), and libFuzzer itself is C++
# that libfuzzer-sys compiles, so the default build needs nothing unstable. No sanitizer is the default: Rust
# code is memory-safe, so ASan would mostly slow the run (about 2x) for the unsafe code of dependencies. What
# ASan would add for us, libFuzzer's -malloc_limit_mb, needs a sanitizer's allocator hooks; instead every
# target's global allocator (fuzz/src/lib.rs) aborts on one allocation over 64 MiB, which catches a size read
# from the input in either mode. FUZZ_SANITIZER=address needs -Zsanitizer=address: the script then sets
# RUSTC_BOOTSTRAP=1 so stable rustc accepts it (the toolchain ships the ASan runtime). Changing the mode
# rebuilds everything (the flags differ).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)

SECONDS_EACH=${1:-60}
shift || true
ALL_TARGETS=(frame header_json header_binary ext_headers json_bodies stored_message batch_body properties
    msg_id sql92 broker_conf settings)
if [ $# -gt 0 ]; then
    TARGETS=("$@")
else
    TARGETS=("${ALL_TARGETS[@]}")
fi
SANITIZER=${FUZZ_SANITIZER:-none}
# ASan's quarantine alone takes ~500 MB, so a sanitizer build gets more room before an RSS overrun counts.
if [ "$SANITIZER" = none ]; then
    RSS_MB=${FUZZ_RSS_MB:-512}
else
    RSS_MB=${FUZZ_RSS_MB:-2048}
fi
MALLOC_MB=${FUZZ_MALLOC_MB:-512}
TIMEOUT=${FUZZ_TIMEOUT:-10}
EXTRA=${FUZZ_ARGS:-}

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz is missing; installing it (cargo install cargo-fuzz --locked)" >&2
    cargo install cargo-fuzz --locked
fi

if [ "$SANITIZER" != none ]; then
    # -Zsanitizer=… on the stable toolchain (see "Stable Rust" above); not needed, and not set, without one.
    export RUSTC_BOOTSTRAP=1
fi
TRIPLE=$(rustc -vV | sed -n 's/^host: //p')
BIN_DIR="$ROOT/fuzz/target/$TRIPLE/release"

# One build for all the targets named (each `cargo fuzz run` would otherwise check the build again).
# shellcheck disable=SC2206 # FUZZ_BUILD_ARGS is a list of flags
build_args=(-s "$SANITIZER" --target "$TRIPLE" ${FUZZ_BUILD_ARGS:-})
if [ ${#TARGETS[@]} -eq 1 ]; then
    build_args+=("${TARGETS[0]}")
fi
(cd fuzz && cargo fuzz build "${build_args[@]}")

LOGS="$ROOT/fuzz/logs"
mkdir -p "$LOGS"
total_execs=0
failed=0
rows=()
for t in "${TARGETS[@]}"; do
    bin="$BIN_DIR/$t"
    if [ ! -x "$bin" ]; then
        echo "no such fuzz target: $t (known: ${ALL_TARGETS[*]})" >&2
        exit 2
    fi
    corpus="$ROOT/fuzz/corpus/$t"
    seeds="$ROOT/fuzz/seeds/$t"
    artifacts="$ROOT/fuzz/artifacts/$t"
    mkdir -p "$corpus" "$seeds" "$artifacts"
    dict=()
    if [ -f "$ROOT/fuzz/dicts/$t.dict" ]; then
        dict=(-dict="$ROOT/fuzz/dicts/$t.dict")
    fi
    before=$(find "$artifacts" -type f | wc -l)
    log="$LOGS/$t.log"
    echo "== $t: ${SECONDS_EACH}s" >&2
    start=$(date +%s)
    # shellcheck disable=SC2086 # FUZZ_ARGS is a list of flags
    set +e
    "$bin" "$corpus" "$seeds" \
        -max_total_time="$SECONDS_EACH" \
        -rss_limit_mb="$RSS_MB" \
        -malloc_limit_mb="$MALLOC_MB" \
        -timeout="$TIMEOUT" \
        -print_final_stats=1 \
        -artifact_prefix="$artifacts/" \
        "${dict[@]}" \
        $EXTRA >"$log" 2>&1
    status=$?
    set -e
    took=$(( $(date +%s) - start ))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    execs=${execs:-0}
    crashes=$(( $(find "$artifacts" -type f | wc -l) - before ))
    if [ "$status" -ne 0 ] && [ "$crashes" -eq 0 ]; then
        crashes="?"  # died without saving an input; see the log
    fi
    if [ "$status" -ne 0 ]; then
        failed=1
        echo "   $t stopped (status $status); log: $log" >&2
        grep -m3 -E "panicked at|ERROR: libFuzzer|SUMMARY|exceeds the cap" "$log" >&2 || true
    fi
    corpus_size=$(find "$corpus" -type f | wc -l)
    total_execs=$((total_execs + execs))
    rows+=("$(printf '%-16s %8s %14s %8s %8s' "$t" "$took" "$execs" "$crashes" "$corpus_size")")
done

printf '\n%-16s %8s %14s %8s %8s\n' target seconds executions crashes corpus
for r in "${rows[@]}"; do
    echo "$r"
done
printf '%-16s %8s %14s\n' total "" "$total_execs"
exit "$failed"
