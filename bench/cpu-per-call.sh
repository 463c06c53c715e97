#!/usr/bin/env bash
# Server CPU time per unary call: the steadier figure on a shared machine, where req/s moves
# by half between runs as neighbours come and go while the CPU a call costs moves far less.
# The server (all its threads, the log writer included) is pinned to core 0 and h2load to
# core 1 (`-c16 -m16`, `demo.MyService/Predict`); after a 2 s warm-up, three runs of 4 s,
# each reported as the server's user + system CPU time (/proc/PID/stat) over the calls
# h2load completed. Compare servers by running them back to back, interleaved.
#
#   cargo build --release -p server -p bench
#   bench/cpu-per-call.sh target/release/plain-tonic
#   bench/cpu-per-call.sh target/release/server [--log warn]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
work=$(mktemp -d)
printf '\x00\x00\x00\x00\x07\x0a\x05world' >"$work/predict.bin"
taskset -c 0 "$@" --listen 127.0.0.1:0 >"$work/out" 2>"$work/log" &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$work"' EXIT
address=$(server_address 10 "$work/out" "$work/log")
load() { # seconds
  taskset -c 1 h2load -c16 -m16 -t1 -D "$1" -d "$work/predict.bin" -H 'content-type: application/grpc' \
    -H 'te: trailers' "http://$address/demo.MyService/Predict"
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
load 2 >/dev/null
line="$*:"
for _ in 1 2 3; do
  before=$(cpu_ticks)
  calls=$(load 4 | awk '/^requests:/ { print $8 }')
  after=$(cpu_ticks)
  line="$line $(echo "($after - $before) * 1000000 / $(getconf CLK_TCK) / $calls" | bc -l | xargs printf '%.1f') µs ($calls calls)"
done
echo "$line"
