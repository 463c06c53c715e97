#!/usr/bin/env bash
# The web app's wasm as shipped (wasm-bindgen, then `wasm-opt -Oz` as Trunk runs it), with
# the function names kept (`-g`) so twiggy can name what is left, summed by the crate that
# leads each function's name. A function monomorphised from another crate's generic counts
# for the crate whose impl it is (a primitive's, for `core`); `<T as …>` impls count as
# "generic". Code only: the data segments (strings) are one line.
#
# With `main`, the main module only (what a visitor loads first): the wasm cut into its
# pages' chunks as tools/split.mjs cuts it, then the same steps on the main module.
#
#   cargo xtask frontend            # builds target/wasm32-unknown-unknown/wasm-release
#   cargo install twiggy --version 0.8.0 --locked
#   bench/wasm-by-crate.sh [ROWS] [main]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/tools/node_modules/.bin:$PATH"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
linked=target/wasm32-unknown-unknown/wasm-release/frontend.wasm
if [ "${2:-}" = main ]; then
  wasm-split-cli "$linked" "$work/split" --out-name frontend --target web
  wasm-bindgen --target web --keep-debug --keep-lld-exports --out-dir "$work" \
    "$work/split/frontend.wasm"
else
  wasm-bindgen --target web --keep-debug --out-dir "$work" "$linked"
fi
wasm-opt -Oz -g --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
  --enable-mutable-globals --enable-reference-types --enable-multivalue \
  "$work/frontend_bg.wasm" -o "$work/named.wasm"
twiggy top -n 1000000 -f csv "$work/named.wasm" >"$work/top.csv"
[ -n "${KEEP:-}" ] && cp "$work/named.wasm" "$KEEP"
python3 - "$work/top.csv" "${1:-25}" <<'PY'
import collections, csv, re, sys
rows = list(csv.reader(open(sys.argv[1])))[1:]
code, data = collections.Counter(), 0
for name, size, *_ in rows:
    size = int(size)
    if name.startswith("data segment"):
        data += size
        continue
    if name.startswith(('"', "custom section", "type[", "import", "export", "table",
                        "elem", "global", "memory", "code section", "start")):
        continue
    lead = re.match(r"[<&* ]*(?:dyn |mut |const )*([A-Za-z_][A-Za-z0-9_]*)", name)
    crate = lead.group(1) if lead else "generic"
    if crate in ("f32", "f64", "str", "char", "bool", "u8", "u16", "u32", "u64", "u128",
                 "usize", "i8", "i16", "i32", "i64", "i128", "isize"):
        crate = "core"
    elif not crate[0].islower() or crate == "code":
        crate = "generic"
    code[crate] += size
total = sum(code.values())
print(f"code {total} B, data {data} B")
for crate, size in code.most_common(int(sys.argv[2])):
    print(f"{size:9d} {100 * size / total:5.1f} %  {crate}")
PY
