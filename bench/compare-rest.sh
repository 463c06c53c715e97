#!/usr/bin/env bash
# REST through the gateway against gRPC on the same method (Greeter.SayHello, whose
# `google.api.http` binding is `POST /v1/greeter/hello` with `body: "*"`), one server, one
# load tool, on this machine: native gRPC (HTTP/2), gRPC-Web (HTTP/1.1), REST/JSON
# (HTTP/1.1, keep-alive).
#
#   cargo build --release -p server -p bench
#   bench/compare-rest.sh [DURATION]  # default 10s per run
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
duration=${1:-10s}
load=target/release/load
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait; rm -rf "$work"' EXIT

target/release/server --listen 127.0.0.1:0 --log warn --data-dir "$work/data" >"$work/out" 2>/dev/null &
address=$(server_address 10 "$work/out")

for transport in grpc grpc-web rest; do
  echo "== SayHello, $transport"
  "$load" --target "http://$address" --transport "$transport" --call say-hello \
    --rest-path /v1/greeter/hello --concurrency 50 --connections 4 \
    --duration "$duration" --warmup 2s --json | tail -1
done
