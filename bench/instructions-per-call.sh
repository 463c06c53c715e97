#!/usr/bin/env bash
# Instructions a server executes per unary call, counted by valgrind's callgrind: the
# steady figure for comparing two builds of the same code on a shared machine, where
# CPU time per call (bench/cpu-per-call.sh) moves by a third between runs and this moves
# by 0.1 %. Instructions are not time: callgrind cannot see the kernel's work (sending),
# and it counts a large memcpy by the byte, so compare builds with it and quote time from
# the others.
#
# The server runs under callgrind (all its threads); h2load (`-c4 -m4`,
# `demo.MyService/Predict`) makes 2,000 calls to warm it, the counters are zeroed, then
# CALLS calls (10,000 by default) are counted.
#
#   apt-get install valgrind nghttp2-client
#   cargo build --release -p server -p bench
#   bench/instructions-per-call.sh target/release/plain-tonic
#   bench/instructions-per-call.sh target/release/server [--log warn]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
work=$(mktemp -d)
printf '\x00\x00\x00\x00\x07\x0a\x05world' >"$work/predict.bin"
valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.%p" "$@" --listen 127.0.0.1:0 \
  >"$work/out" 2>"$work/log" &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$work"' EXIT
address=$(server_address 60 "$work/out" "$work/log")
load() { # calls; prints the calls that succeeded
  h2load -c4 -m4 -t1 -n "$1" -d "$work/predict.bin" -H 'content-type: application/grpc' \
    -H 'te: trailers' "http://$address/demo.MyService/Predict" | awk '/^requests:/ { print $8 }'
}
load 2000 >/dev/null
callgrind_control --zero "$pid" >/dev/null 2>&1
calls=$(load "${CALLS:-10000}")
callgrind_control --dump=measured "$pid" >/dev/null 2>&1
instructions=$(awk '/^(summary|totals):/ { print $2 }' "$work"/callgrind.*.1 | sort -n | tail -1)
[ -n "$instructions" ] && [ "$calls" -gt 0 ] || { echo "no count" >&2; exit 1; }
echo "$*: $((instructions / calls)) instructions per call ($calls calls)"
