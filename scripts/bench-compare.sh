#!/usr/bin/env bash
# Runs the same rmq-bench loads against rmq-broker and against the rocketmq-rust broker, one after the other on
# this machine, and prints a side-by-side table with ratios (docs/performance.md).
#
#   scripts/bench-compare.sh                 # default loads, 10 s each
#   DURATION=5 LOADS="produce batch" scripts/bench-compare.sh
#
# Needs: the rocketmq-rust binaries `rocketmq-namesrv-rust` and `rocketmq-broker-rust` on PATH or in
# $RR_BIN (`cargo install rocketmq-namesrv rocketmq-broker`), python3 for the table. Both stores go to
# $STORE_ROOT (default /dev/shm): rocketmq-rust's broker refuses to start on a disk more than 90 % full, and a
# RAM store measures the brokers rather than the disk. Results (one JSON per run) are kept in $OUT.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
LOADS=${LOADS:-"produce batch e2e"}
STORE_ROOT=${STORE_ROOT:-/dev/shm}
RR_BIN=${RR_BIN:-/opt/rocketmq-rust/bin}
OUT=${OUT:-$(mktemp -d /tmp/rmq-bench-compare.XXXXXX)}
export PATH="$RR_BIN:$PATH"

for bin in rocketmq-namesrv-rust rocketmq-broker-rust python3; do
  command -v "$bin" >/dev/null || { echo "bench-compare: $bin not found (see the header of $0)" >&2; exit 1; }
done

if [ -z "${SKIP_BUILD:-}" ]; then
  cargo build --release -q -p rmq-bench -p rmq-broker
fi
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
BENCH="$TARGET_DIR/release/rmq-bench"
BROKER="$TARGET_DIR/release/rmq-broker"

pids=()
cleanup() {
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$STORE_ROOT"/rmq-cmp-* 2>/dev/null || true
}
trap cleanup EXIT

# free_port, wait_port, rr_start
. scripts/lib/rocketmq-rust.sh

# Starts rmq-broker; sets NS and BROKER_PID.
start_rmq() {
  local store="$STORE_ROOT/rmq-cmp-rmq-$1"
  rm -rf "$store"; mkdir -p "$store"
  local ready="$OUT/rmq-ready"
  RUST_LOG=warn "$BROKER" --namesrv-listen 127.0.0.1:0 --listen 127.0.0.1:0 --store "$store" --flush "$1" \
    >"$ready" 2>"$OUT/rmq-broker.log" &
  BROKER_PID=$!; pids+=("$BROKER_PID")
  local deadline=$((SECONDS + 30))
  until grep -q '^READY' "$ready"; do
    [ $SECONDS -lt $deadline ] || { echo "bench-compare: rmq-broker not ready" >&2; exit 1; }
    sleep 0.1
  done
  NS=$(sed -n 's/^READY namesrv=\([^ ]*\).*/\1/p' "$ready")
}

# Starts rocketmq-rust's name server and broker; sets NS and BROKER_PID.
start_rr() {
  rr_start "$STORE_ROOT/rmq-cmp-rr-$1" "$1" "$OUT" || exit 1
  NS=$RR_NS
  BROKER_PID=$RR_BROKER_PID
}

stop_all() {
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
  rm -rf "$STORE_ROOT"/rmq-cmp-* 2>/dev/null || true
}

# run_load BROKER_LABEL LOAD FLUSH
run_load() {
  local label=$1 load=$2 flush=$3 args=()
  case "$load" in
    produce) args=(produce --send-mode sync -s 1024 -c 64) ;;
    batch)   args=(batch -s 1024 -b 32 -c 16) ;;
    e2e)     args=(e2e -s 1024 -c 32 --rate "${E2E_RATE:-20000}") ;;
    tx)      args=(tx -s 1024 -c 64) ;;
    *) echo "bench-compare: unknown load $load" >&2; exit 1 ;;
  esac
  local topic="Cmp_${load}_${flush}_$RANDOM"
  echo "--- $label: $load ($flush flush)" >&2
  "$BENCH" "${args[@]}" -n "$NS" --broker-pid "$BROKER_PID" -t "$topic" --flush "$flush" \
    -d "$DURATION" --warmup "$WARMUP" --label "$label" --json >"$OUT/$label-$load-$flush.json" \
    || echo "{\"label\":\"$label\",\"mode\":\"$load\",\"failed\":true}" >"$OUT/$label-$load-$flush.json"
}

for flush in ${FLUSH_MODES:-async}; do
  for broker in rmq rocketmq-rust; do
    for load in $LOADS; do
      if [ "$broker" = rmq ]; then start_rmq "$flush"; else start_rr "$flush"; fi
      run_load "$broker" "$load" "$flush"
      stop_all
    done
  done
done

python3 - "$OUT" <<'PY'
import json, os, sys
out = sys.argv[1]
runs = {}
for name in sorted(os.listdir(out)):
    if name.endswith(".json"):
        with open(os.path.join(out, name)) as f:
            r = json.load(f)
        runs[(r.get("label"), r.get("mode"), r.get("flush", ""))] = r

def fig(r, key):
    if r is None or r.get("failed"):
        return None
    s = r.get("send") or {}
    lat = s.get("latency") or {}
    c = r.get("consume") or {}
    return {
        "msg/s": s.get("tps"), "MB/s": s.get("mb_per_s"), "p50 ms": lat.get("p50_ms"),
        "p99 ms": lat.get("p99_ms"), "e2e p99 ms": (c.get("latency") or {}).get("p99_ms"),
        "errors": s.get("errors"), "broker cpu µs/msg": r.get("broker_cpu_us_per_msg"),
        "broker RSS MiB": (r.get("broker_rss") or {}).get("peak_rss_mib"),
    }[key]

keys = ["msg/s", "MB/s", "p50 ms", "p99 ms", "e2e p99 ms", "errors", "broker cpu µs/msg", "broker RSS MiB"]
print(f"{'load':<18} {'figure':<18} {'rmq':>12} {'rocketmq-rust':>14} {'rmq / rr':>9}")
for (mode, flush) in sorted({k[1:] for k in runs}):
    a = runs.get(("rmq", mode, flush)); b = runs.get(("rocketmq-rust", mode, flush))
    for k in keys:
        x, y = fig(a, k), fig(b, k)
        if x is None and y is None:
            continue
        fmt = lambda v: "failed" if v is None else (f"{v:,.0f}" if abs(v) >= 100 else f"{v:.2f}")
        ratio = ""
        if x and y:
            ratio = f"{x / y:.1f}x"
        print(f"{mode + ' ' + flush:<18} {k:<18} {fmt(x):>12} {fmt(y):>14} {ratio:>9}")
print(f"\nJSON reports: {out}")
PY
