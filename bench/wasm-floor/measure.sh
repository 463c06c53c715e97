#!/usr/bin/env bash
# ./measure.sh BIN...: each binary's wasm as the app's is shipped (wasm-release, wasm-bindgen,
# wasm-opt -Oz with Trunk's features), raw and gzip -9, and its JS gzipped.
# Uses the app's target directory and tools: run `cargo xtask setup` first.
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd ../.. && pwd)
export PATH="$root/tools/node_modules/.bin:$PATH" CARGO_TARGET_DIR="$root/target/wasm-floor"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for bin in "$@"; do
  cargo build -q --bin "$bin" --target wasm32-unknown-unknown --profile wasm-release
  wasm-bindgen --target web --out-dir "$work" \
    "$CARGO_TARGET_DIR/wasm32-unknown-unknown/wasm-release/$bin.wasm"
  wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-reference-types --enable-multivalue \
    "$work/${bin}_bg.wasm" -o "$work/$bin.wasm"
  echo "$bin: wasm $(stat -c%s "$work/$bin.wasm") B, gzip $(gzip -9c "$work/$bin.wasm" | wc -c) B," \
    "JS gzip $(gzip -9c "$work/$bin.js" | wc -c) B"
done
