#!/usr/bin/env bash
# Unary throughput of our server beside three others, in one run, on this machine:
# a bare hyper server (bench/src/bin/bare-hyper.rs: one fixed, valid reply; the ceiling),
# plain tonic + tonic-web (bench/src/bin/plain-tonic.rs: tonic's example, nothing else) and
# the seeds' Python server (native gRPC only). All four are started first, each pinned to
# core 0, and loaded one at a time (the others idle) from core 1. Runs are interleaved
# (run 1 of every server, then run 2, ...), so a slow minute on this shared machine falls
# on all of them rather than on one. `demo.MyService/Predict`, prompt "world":
#   native gRPC, h2c:    h2load -c16 -m16
#   gRPC-Web, h2c:       h2load -c16 -m16 (content-type application/grpc-web+proto)
#   gRPC-Web, HTTP/1.1:  wrk -c64 (one thread)
# Ours runs with its default flags: the access log at info, written to a file. Every server
# is first checked to answer the call right (bench's `load`, 1 s, no errors), since h2load
# and wrk count HTTP statuses, not gRPC ones. Prints each run, then the ratios of the means.
#
#   cargo xtask setup --test          # once: Python with grpcio (target/seed-venv)
#   apt-get install nghttp2-client wrk
#   cargo build --release -p server -p bench
#   bench/compare-servers.sh [SECONDS] [RUNS]   # default 10 s, 2 runs
#   SERVERS=ours bench/compare-servers.sh      # only these, no ratios
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
seconds=${1:-10}
runs=${2:-2}
python=target/seed-venv/bin/python
work=$(mktemp -d)
pids=()
declare -A addr
stop_servers() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  pids=()
}
trap 'stop_servers; rm -rf "$work"' EXIT

# PredictRequest { prompt: "world" }, length-prefixed.
printf '\x00\x00\x00\x00\x07\x0a\x05world' >"$work/predict.bin"
cat >"$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.path = "/demo.MyService/Predict"
wrk.body = "\0\0\0\0\7\10\5world"
wrk.headers["content-type"] = "application/grpc-web+proto"
wrk.headers["x-grpc-web"] = "1"
LUA

start_server() { # name command...
  local name=$1; shift
  taskset -c 0 "$@" >"$work/$name.out" 2>"$work/$name.log" &
  pids+=($!)
  address=$(server_address 10 "$work/$name.out" "$work/$name.log")
  # h2load and wrk count HTTP statuses: first make sure the server answers the call right.
  local transports=(grpc)
  [ "$name" != seeds ] && transports+=(grpc-web grpc-web-h2)
  for transport in "${transports[@]}"; do
    result=$(taskset -c 1 target/release/load --target "http://$address" --transport "$transport" \
      --call predict --concurrency 4 --duration 1s --json | tail -1)
    case "$result" in *'"errors":{}'*) ;; *) echo "$name over $transport: $result" >&2; exit 1 ;; esac
  done
  addr[$name]=$address
}

h2() { # content-type
  taskset -c 1 h2load -c16 -m16 -t1 -D "$seconds" --warm-up-time 2 -d "$work/predict.bin" \
    -H "content-type: $1" -H 'te: trailers' -H 'x-grpc-web: 1' \
    "http://$address/demo.MyService/Predict" | awk '/^finished in/ { gsub(",", ""); print $4 }'
}
h1() {
  taskset -c 1 wrk -c64 -t1 -d "${seconds}s" -s "$work/post.lua" "http://$address" \
    | awk '/^Requests\/sec/ { print $2 }'
}

servers=${SERVERS:-bare-hyper plain-tonic ours seeds}
for name in $servers; do
  case $name in
    bare-hyper) start_server "$name" target/release/bare-hyper --listen 127.0.0.1:0 ;;
    plain-tonic) start_server "$name" target/release/plain-tonic --listen 127.0.0.1:0 ;;
    ours) start_server "$name" target/release/server --listen 127.0.0.1:0 ;;
    seeds) start_server "$name" "$python" tests/seeds/seed_server.py ;;
  esac
done

declare -A sum
declare -A label=([grpc]="native gRPC, h2c" [web-h2]="gRPC-Web, h2c" [web-h1]="gRPC-Web, HTTP/1.1")
for run in $(seq "$runs"); do
  for kind in grpc web-h2 web-h1; do
    for name in $servers; do
      [ "$name" = seeds ] && [ "$kind" != grpc ] && continue
      address=${addr[$name]}
      case $kind in
        grpc) value=$(h2 application/grpc) ;;
        web-h2) value=$(h2 application/grpc-web+proto) ;;
        web-h1) value=$(h1) ;;
      esac
      printf '%-14s %-24s run %d: %10.0f req/s\n' "$name" "${label[$kind]}" "$run" "$value"
      sum[$name/$kind]=$(echo "${sum[$name/$kind]:-0} + $value / $runs" | bc -l)
    done
  done
done
case " $servers " in
  *" ours "*) echo "ours: $(grep -c 'demo.MyService/Predict' "$work/ours.log") access-log lines written" ;;
esac
stop_servers

[ -n "${SERVERS:-}" ] && exit 0
ratio() { printf '%-48s %6.1f %%\n' "$1" "$(echo "100 * $2 / $3" | bc -l)"; }
echo
ratio "ours / bare hyper, native h2c" "${sum[ours/grpc]}" "${sum[bare-hyper/grpc]}"
ratio "ours / plain tonic, native h2c" "${sum[ours/grpc]}" "${sum[plain-tonic/grpc]}"
ratio "plain tonic / bare hyper, native h2c" "${sum[plain-tonic/grpc]}" "${sum[bare-hyper/grpc]}"
ratio "ours, gRPC-Web h2c / ours native" "${sum[ours/web-h2]}" "${sum[ours/grpc]}"
ratio "ours, gRPC-Web HTTP/1.1 / ours native" "${sum[ours/web-h1]}" "${sum[ours/grpc]}"
ratio "plain tonic, gRPC-Web HTTP/1.1 / its native" "${sum[plain-tonic/web-h1]}" "${sum[plain-tonic/grpc]}"
printf '%-48s %6.1f x\n' "ours / the seeds' Python server, native h2c" "$(echo "${sum[ours/grpc]} / ${sum[seeds/grpc]}" | bc -l)"
