#!/usr/bin/env bash
# The production path, verified here: rmq's client and Apache's C++ client against another RocketMQ
# implementation's name server and broker (rocketmq-rust 1.0.0), the stand-in on this machine for "change the
# name-server address and run on an Apache cluster". Prints a PASS/FAIL table; exit 0 only when every row passes.
# Not in CI (building rocketmq-rust takes long); the figures are in docs/interop-rocketmq-rust.md.
#
#   scripts/interop-peer.sh                    # installs rocketmq-rust into a temp root, runs everything
#   RR_BIN=/opt/rocketmq-rust/bin scripts/interop-peer.sh   # reuse installed binaries
#   ALSO_RMQ=1 scripts/interop-peer.sh         # run the same checks against rmq-broker too, for comparison
#   COUNT=3000 CPP_COUNT=200 scripts/interop-peer.sh
#
# Needs: cargo, python3 (with venv), network access to crates.io and PyPI for the first installs.
set -euo pipefail
cd "$(dirname "$0")/.."

COUNT=${COUNT:-3000}
CPP_COUNT=${CPP_COUNT:-200}
STORE_ROOT=${STORE_ROOT:-/dev/shm}
OUT=${OUT:-$(mktemp -d /tmp/rmq-interop-peer.XXXXXX)}
. scripts/lib/rocketmq-rust.sh

# rocketmq-rust's name server and broker: $RR_BIN, or cargo install into a temp root.
if [ -z "${RR_BIN:-}" ]; then
  RR_BIN="$OUT/rr-root/bin"
  echo "interop-peer: installing rocketmq-namesrv and rocketmq-broker 1.0.0 into $OUT/rr-root (takes a while)" >&2
  cargo install --locked --quiet --root "$OUT/rr-root" rocketmq-namesrv@1.0.0 rocketmq-broker@1.0.0
fi
export PATH="$RR_BIN:$PATH"
for bin in rocketmq-namesrv-rust rocketmq-broker-rust python3; do
  command -v "$bin" >/dev/null || { echo "interop-peer: $bin not found" >&2; exit 1; }
done

# Apache's C++ client: $RMQ_CPP_PYTHON, or a venv with the rocketmq==0.4.4 wheel.
if [ -z "${RMQ_CPP_PYTHON:-}" ]; then
  python3 -m venv "$OUT/cpp-venv"
  "$OUT/cpp-venv/bin/pip" install --quiet --disable-pip-version-check rocketmq==0.4.4
  RMQ_CPP_PYTHON="$OUT/cpp-venv/bin/python"
fi
export RMQ_CPP_PYTHON

# Two builds: naming an example limits a build to it, so the binaries need their own.
cargo build --release --quiet -p rmq-admin -p rmq-broker
cargo build --release --quiet -p rmq-client --example cluster_smoke
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
ADMIN="$TARGET_DIR/release/rmq-admin"
SMOKE="$TARGET_DIR/release/examples/cluster_smoke"
BROKER="$TARGET_DIR/release/rmq-broker"

pids=()
cleanup() {
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$STORE_ROOT"/rmq-peer-* 2>/dev/null || true
}
trap cleanup EXIT

rows="$OUT/rows.txt"
: >"$rows"

# run_checks LABEL NAMESRV: cluster_smoke (rmq-runtime) and the C++ client checks.
run_checks() {
  local label=$1 ns=$2
  echo "--- $label ($ns): cluster_smoke, $COUNT messages" >&2
  if "$SMOKE" --namesrv "$ns" --count "$COUNT" >"$OUT/$label-smoke.txt" 2>"$OUT/$label-smoke.log"; then
    echo "$label PASS rmq-runtime-cluster-smoke $COUNT messages, every row of $OUT/$label-smoke.txt" >>"$rows"
  else
    echo "$label FAIL rmq-runtime-cluster-smoke see $OUT/$label-smoke.txt" >>"$rows"
  fi
  local topic="CppPeer_$RANDOM"
  # The C++ client polls routes every 30 s: the topic exists before it starts.
  if ! "$ADMIN" -n "$ns" updateTopic -c DefaultCluster -t "$topic" -r 4 -w 4 >"$OUT/$label-topic.log" 2>&1; then
    echo "$label FAIL cpp-topic-create see $OUT/$label-topic.log" >>"$rows"
    return
  fi
  echo "--- $label: Apache C++ client, $CPP_COUNT messages" >&2
  python3 scripts/interop-cpp-check.py --namesrv "$ns" --topic "$topic" --count "$CPP_COUNT" \
    2>"$OUT/$label-cpp.log" | sed "s/^/$label /" >>"$rows" || true
}

rr_start "$STORE_ROOT/rmq-peer-rr" async "$OUT" || { echo "interop-peer: rocketmq-rust did not start (logs in $OUT)" >&2; exit 1; }
run_checks rocketmq-rust "$RR_NS"
cleanup; pids=()

if [ -n "${ALSO_RMQ:-}" ]; then
  store="$STORE_ROOT/rmq-peer-rmq"; rm -rf "$store"; mkdir -p "$store"
  RUST_LOG=warn "$BROKER" --namesrv-listen 127.0.0.1:0 --listen 127.0.0.1:0 --store "$store" \
    >"$OUT/rmq-ready" 2>"$OUT/rmq-broker.log" &
  pids+=("$!")
  deadline=$((SECONDS + 30))
  until grep -q '^READY' "$OUT/rmq-ready"; do
    [ $SECONDS -lt $deadline ] || { echo "interop-peer: rmq-broker not ready" >&2; exit 1; }
    sleep 0.1
  done
  run_checks rmq "$(sed -n 's/^READY namesrv=\([^ ]*\).*/\1/p' "$OUT/rmq-ready")"
fi

printf '%-14s %-5s %-32s %s\n' broker result check detail
while read -r label result name detail; do
  printf '%-14s %-5s %-32s %s\n' "$label" "$result" "$name" "$detail"
done <"$rows"
echo "logs: $OUT"
! grep -q ' FAIL ' "$rows"
