// The web app cut into its pages (frontend/src/lazy.rs): the Greeter and the shared code in
// the main wasm, every other page in chunks fetched when it is first shown. Trunk 0.21 has
// no step for this, so this post_build hook (tools/post-build.mjs) does it after Trunk's own
// build, on the wasm cargo linked (with `--emit-relocs`, .cargo/config.toml):
//
//   1. `wasm-split-cli` (crates.io `wasm_split_cli_support`, the tool behind cargo-leptos's
//      splitting) cuts it: the main module, one chunk per split point and one per set of
//      pages sharing code, and `__wasm_split.js`, which fetches and links them;
//   2. `wasm-bindgen` makes the main module's glue, as Trunk would, keeping the linker's
//      exports the chunks import;
//   3. release builds: `wasm-opt -Oz` on the main module and on every chunk (Trunk's own
//      wasm-opt is off, index.html: it cannot read a wasm that keeps its relocations);
//   4. the shared chunks go into a few packs, a file each (tools/packs.mjs: 87 requests
//      were too many for a slow network);
//   5. the chunks, the packs and the loader are named by their content's hash
//      (`name-<16 hex>`, which the server caches as immutable), the main glue and wasm take
//      the place of Trunk's under Trunk's names, and index.html gets their new integrity
//      hashes, a preload of the loader, which the glue imports, and a small script that
//      fetches every chunk and pack into the browser's cache once the page has loaded and
//      then been idle for a few seconds (never while the first load is on its way), so a
//      later page does not wait on its chunks.
//
// Written by hand: neither Trunk nor wasm-split has a step that puts the split app where
// Trunk put the whole one.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { packSharedChunks } from './packs.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const staging = process.env.TRUNK_STAGING_DIR;
if (!staging) throw new Error('tools/split.mjs runs as a Trunk hook (TRUNK_STAGING_DIR is not set)');
const release = process.env.TRUNK_PROFILE === 'release';
// index.html's `data-cargo-profile-release`, and cargo's name for a debug build.
const profile = release ? 'wasm-release' : 'debug';
const targetDir = process.env.CARGO_TARGET_DIR ?? join(root, 'target');
const linked = join(targetDir, 'wasm32-unknown-unknown', profile, 'frontend.wasm');

const localWasmOpt = join(root, 'tools/node_modules/.bin/wasm-opt');
const wasmOpt = existsSync(localWasmOpt) ? localWasmOpt : 'wasm-opt';

function run(program, args) {
  try {
    execFileSync(program, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  } catch (error) {
    const hint = error.code === 'ENOENT' ? ' (not installed: run `cargo xtask setup`)' : '';
    throw new Error(`${program} ${args.join(' ')} failed${hint}: ${error.message}`);
  }
}

// How long after the page's load the chunks start to come (see the comment at the top).
const PREFETCH_AFTER_MS = 3000;

const hash16 = (data) => createHash('sha256').update(data).digest('hex').slice(0, 16);
const integrity = (data) => `sha384-${createHash('sha384').update(data).digest('base64')}`;

// Trunk's output for the app: `frontend-<hash>.js` and `frontend-<hash>_bg.wasm`.
const glueName = readdirSync(staging).find((name) => /^frontend-[0-9a-f]{16}\.js$/.test(name));
if (!glueName) throw new Error(`no frontend-<hash>.js in ${staging}`);
const stem = glueName.slice(0, -'.js'.length);
const wasmName = `${stem}_bg.wasm`;

const work = mkdtempSync(join(tmpdir(), 'split-'));
try {
  const split = join(work, 'split');
  const bound = join(work, 'bound');
  run('wasm-split-cli', [linked, split, '--out-name', 'frontend', '--target', 'web']);
  run('wasm-bindgen', [
    '--target', 'web', '--out-dir', bound, '--out-name', 'frontend', '--no-typescript',
    '--keep-lld-exports', join(split, 'frontend.wasm'),
  ]);

  const optimised = (path) => {
    if (!release) return readFileSync(path);
    const out = `${path}.opt`;
    run(wasmOpt, ['-Oz', '--output', out, path]);
    return readFileSync(out);
  };

  const chunks = readdirSync(split).filter((name) => name.endsWith('.wasm') && name !== 'frontend.wasm');
  const chunkData = new Map(chunks.map((chunk) => [chunk, optimised(join(split, chunk))]));
  // The shared chunks in a few packs (tools/packs.mjs); the split points' own chunks and the
  // shared chunks left alone keep a file each.
  const { loader: packed, packs } = packSharedChunks(
    readFileSync(join(split, '__wasm_split.js'), 'utf8'),
    (chunk) => chunkData.get(chunk),
    (data) => `chunks-${hash16(data)}.bin`,
  );
  let loader = packed;
  const hashedFiles = [];
  for (const pack of packs) {
    writeFileSync(join(staging, pack.name), pack.data);
    hashedFiles.push(pack.name);
    for (const chunk of pack.chunks) chunkData.delete(chunk);
  }
  for (const [chunk, data] of chunkData) {
    const hashed = `${chunk.slice(0, -'.wasm'.length)}-${hash16(data)}.wasm`;
    writeFileSync(join(staging, hashed), data);
    hashedFiles.push(hashed);
    const reference = `"./${chunk}"`;
    if (!loader.includes(reference)) throw new Error(`__wasm_split.js does not load ${chunk}`);
    loader = loader.replaceAll(reference, `"./${hashed}"`);
  }
  loader = loader.replace('from "./frontend.js"', `from "./${glueName}"`);
  const loaderName = `split-${hash16(loader)}.js`;
  writeFileSync(join(staging, loaderName), loader);

  // The glue imports the loader under the name the main module's imports give it; the
  // imports object keeps that name as its key.
  const glue = readFileSync(join(bound, 'frontend.js'), 'utf8')
    .replaceAll('from "./__wasm_split.js"', `from "./${loaderName}"`);
  const wasm = optimised(join(bound, 'frontend_bg.wasm'));
  writeFileSync(join(staging, glueName), glue);
  writeFileSync(join(staging, wasmName), wasm);

  const indexPath = join(staging, 'index.html');
  const sri = (html, name, data) => {
    const pattern = new RegExp(`(href="[^"]*/${name}"[^>]*integrity=")[^"]*"`);
    if (!pattern.test(html)) throw new Error(`index.html has no integrity for ${name}`);
    return html.replace(pattern, `$1${integrity(data)}"`);
  };
  let html = readFileSync(indexPath, 'utf8');
  html = sri(html, glueName, glue);
  html = sri(html, wasmName, wasm);
  const publicUrl = process.env.TRUNK_PUBLIC_URL ?? '/';
  html = html.replace(
    '</head>',
    `<link rel="modulepreload" href="${publicUrl}${loaderName}" crossorigin="anonymous" integrity="${integrity(loader)}"></head>`,
  );
  // Four fetches at a time at the lowest priority; the same request as the loader's, so
  // its fetch finds the answer in the cache (the chunks are cached as immutable).
  const urls = JSON.stringify(hashedFiles.map((name) => `${publicUrl}${name}`));
  const prefetch = `<script type="module">
// The app's other parts, fetched into the cache when the page is idle (tools/split.mjs).
const queue = ${urls};
const idle = (run) => (window.requestIdleCallback ? requestIdleCallback(run, { timeout: 2000 }) : setTimeout(run, 0));
const worker = async () => {
  for (let url; (url = queue.shift()); ) {
    try { await (await fetch(url, { priority: 'low' })).arrayBuffer(); } catch { return; }
  }
};
const start = () => setTimeout(() => idle(() => { for (let n = 0; n < 4; n += 1) worker(); }), ${PREFETCH_AFTER_MS});
if (document.readyState === 'complete') start(); else addEventListener('load', start, { once: true });
</script>`;
  if (!html.includes('</body>')) throw new Error('index.html has no </body>');
  html = html.replace('</body>', `${prefetch}\n</body>`);
  writeFileSync(indexPath, html);
  console.log(`split the app: main ${wasm.length} B, ${chunks.length} chunks in ${hashedFiles.length} files, loader ${loaderName}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
