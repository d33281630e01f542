# Shared by scripts/bench-compare.sh and scripts/interop-peer.sh: ports, and starting rocketmq-rust's name server
# and broker (crates rocketmq-namesrv / rocketmq-broker 1.0.0) on loopback. Source it; it defines functions only.
#
# rr_start HOME FLUSH LOGDIR  starts both under HOME (conf/ and store/ inside), FLUSH = async | sync; sets
#                              RR_NS (name server address), RR_BROKER_PID, and appends both pids to the `pids`
#                              array of the caller.

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_port() {
  local port=$1 deadline=$((SECONDS + ${WAIT_PORT_SECS:-60}))
  until python3 -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1',$port)))" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || { echo "nothing listening on $port after ${WAIT_PORT_SECS:-60} s" >&2; return 1; }
    sleep 0.2
  done
}

rr_start() {
  local home=$1 flush=$2 logs=$3
  rm -rf "$home"; mkdir -p "$home/conf" "$home/store"
  local ns_port broker_port ha_port flush_role
  ns_port=$(free_port); broker_port=$(free_port); ha_port=$(free_port)
  if [ "$flush" = sync ]; then flush_role=SYNC_FLUSH; else flush_role=ASYNC_FLUSH; fi
  # rocketmq-rust reads TOML and refuses unknown keys; the crate README's single-master example, store moved.
  cat >"$home/conf/broker.toml" <<EOF
[broker]
namesrvAddr = "127.0.0.1:$ns_port"
brokerIp1 = "127.0.0.1"
listenPort = $broker_port
storePathRootDir = "$home/store"

[broker.brokerServerConfig]
bindAddress = "127.0.0.1"

[broker.brokerIdentity]
brokerName = "broker-a"
brokerClusterName = "DefaultCluster"
brokerId = 0

[store]
storeType = "LocalFile"
brokerRole = "ASYNC_MASTER"
flushDiskType = "$flush_role"
storePathRootDir = "$home/store"
haListenAddress = "127.0.0.1"
haListenPort = $ha_port
mappedFileSizeCommitLog = 1073741824
EOF
  ROCKETMQ_HOME="$home" rocketmq-namesrv-rust --listenPort "$ns_port" --bindAddress 127.0.0.1 \
    >"$logs/rr-namesrv.log" 2>&1 &
  pids+=("$!")
  wait_port "$ns_port" || return 1
  ROCKETMQ_HOME="$home" rocketmq-broker-rust -c "$home/conf/broker.toml" -n "127.0.0.1:$ns_port" \
    >"$logs/rr-broker.log" 2>&1 &
  RR_BROKER_PID=$!; pids+=("$RR_BROKER_PID")
  wait_port "$broker_port" || return 1
  RR_NS="127.0.0.1:$ns_port"
}
