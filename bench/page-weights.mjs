// What each part of the web app costs a visitor, gzipped (-9) as the server sends it: the
// first load (index.html, the main wasm, its glue, the chunks' loader, the CSS), then for
// each split point (frontend/src/lazy.rs) the chunks its first use fetches, shared chunks
// included, and the whole app: every file a visit to every page fetches.
//
// Reads the built app and the loader tools/split.mjs wrote (which chunk each split point
// needs); builds nothing.
//
//   cargo xtask frontend        # or trunk build --release
//   node bench/page-weights.mjs [dist]
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const dist = process.argv[2] ?? 'dist';
const files = readdirSync(dist).filter((name) => !/\.(gz|br)$/.test(name));
const gz = (name) => gzipSync(readFileSync(join(dist, name)), { level: 9 }).length;
const find = (pattern) => {
  const name = files.find((file) => pattern.test(file));
  if (!name) throw new Error(`no file like ${pattern} in ${dist}`);
  return name;
};

const loaderName = find(/^split-[0-9a-f]{16}\.js$/);
const loader = readFileSync(join(dist, loaderName), 'utf8');
// Each loadable unit: `const __chunk_N = makeLoad(() => { … "./FILE" … }, [deps])` or
// `export const __wasm_split_load_NAME = wrapAsyncCb(makeLoad(() => { … }, [deps]))`; a
// shared chunk in a pack (tools/packs.mjs) reads `__pack_K()`, defined as
// `const __pack_K = packOf(new URL("./FILE", …))`.
const packs = new Map(
  [...loader.matchAll(/const (__pack_\d+) = packOf\(new URL\("\.\/([^"]+)"/g)].map(([, pack, file]) => [pack, file]),
);
const units = new Map();
const unit = /(?:const (__chunk_\d+)|export const __wasm_split_load_(\w+)) = (?:wrapAsyncCb\()?makeLoad\(\(\) => \{\s*const src = (?:fetch\(new URL\("\.\/([^"]+)"|(__pack_\d+)\(\))[\s\S]*?\n\}\s*,\s*\[([^\]]*)\]/g;
for (const [, chunk, split, file, pack, deps] of loader.matchAll(unit)) {
  const from = file ?? packs.get(pack);
  if (!from) throw new Error(`${loaderName}: ${pack} is not defined`);
  units.set(chunk ?? split, { file: from, deps: deps.split(',').map((dep) => dep.trim()).filter(Boolean), split: !chunk });
}
if (units.size === 0) throw new Error(`${loaderName}: no chunks found (has wasm-split's loader changed?)`);

const closure = (name, seen = new Set()) => {
  if (seen.has(name)) return seen;
  seen.add(name);
  for (const dep of units.get(name).deps) closure(dep, seen);
  return seen;
};
// The files the units come from: a pack is fetched once for all of its chunks.
const filesOf = (names) => new Set([...names].map((name) => units.get(name).file));
const sum = (names) => [...filesOf(names)].reduce((total, file) => total + gz(file), 0);

const first = [
  'index.html',
  find(/^frontend-[0-9a-f]{16}_bg\.wasm$/),
  find(/^frontend-[0-9a-f]{16}\.js$/),
  loaderName,
];
const css = find(/^style-[0-9a-f]{16}\.css$/);
const firstWasmJs = first.slice(1).reduce((total, name) => total + gz(name), 0);
const kb = (bytes) => `${(bytes / 1000).toFixed(1)} KB`;
console.log('first load (gzip -9):');
for (const name of [...first, css]) console.log(`  ${name}: ${kb(gz(name))}`);
console.log(`  wasm + JS: ${kb(firstWasmJs)} (${firstWasmJs} B)`);

console.log('each split point\'s first use, beyond the first load: own chunk + the shared ones it needs');
const splits = [...units].filter(([, info]) => info.split).map(([name]) => name).sort();
for (const name of splits) {
  const needs = closure(name);
  console.log(`  ${name}: ${kb(sum(needs))} in ${filesOf(needs).size} files`);
}
const everything = new Set(units.keys());
const all = firstWasmJs + sum(everything);
console.log(`the whole app, wasm + JS: ${kb(all)} (${all} B) in ${filesOf(everything).size + 3} files`);
