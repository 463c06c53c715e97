#!/usr/bin/env bash
# Unary throughput and latency of our server (native gRPC, gRPC-Web on HTTP/1.1 and on
# HTTP/2) and of the seeds' Python server (native gRPC; it has no gRPC-Web), in one run,
# with one tool, on this machine; then our server-streaming message throughput.
#
#   cargo xtask setup --test          # once: the Python venv with grpcio (target/seed-venv)
#   cargo build --release -p server -p bench
#   bench/compare-seeds.sh [DURATION]  # default 10s per run
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
duration=${1:-10s}
python=target/seed-venv/bin/python
load=target/release/load
logs=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$logs"' EXIT

target/release/server --listen 127.0.0.1:0 --log warn >"$logs/ours" 2>/dev/null &
ours=$(server_address 10 "$logs/ours")
"$python" tests/seeds/seed_server.py >"$logs/seeds" 2>&1 &
seeds=$(server_address 10 "$logs/seeds")

run() { # label target transport call
  echo "== $1"
  "$load" --target "http://$2" --transport "$3" --call "$4" --concurrency 50 --connections 4 \
    --duration "$duration" --warmup 2s --json | tail -1
}
run "ours, Predict, native gRPC" "$ours" grpc predict
run "ours, Predict, gRPC-Web HTTP/1.1" "$ours" grpc-web predict
run "ours, Predict, gRPC-Web HTTP/2" "$ours" grpc-web-h2 predict
run "seeds' Python server, Predict, native gRPC" "$seeds" grpc predict
run "ours, SayHelloStream x100, native gRPC" "$ours" grpc stream
run "ours, SayHelloStream x100, gRPC-Web HTTP/1.1" "$ours" grpc-web stream
