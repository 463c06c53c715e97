// What packing the shared chunks (tools/packs.mjs) costs each split point, for several
// values of what a request is worth: the wasm cargo linked for the last release build is
// split again as tools/split.mjs splits it (wasm-split-cli, then wasm-opt -Oz on each
// chunk), the chunks are grouped with each value, and for every split point the gzipped
// bytes (-9) and files its first use fetches are printed: its own chunk and every pack
// holding a chunk it needs. "unpacked" is a file per chunk, as wasm-split leaves them.
//
//   cargo xtask frontend        # or trunk build --release
//   node bench/pack-weights.mjs [0,512,1024,2048,3072,4096]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

import { group, sharedChunks } from '../tools/packs.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const linked = join(root, 'target/wasm32-unknown-unknown/wasm-release/frontend.wasm');
const wasmOpt = join(root, 'tools/node_modules/.bin/wasm-opt');
const values = (process.argv[2] ?? '0,512,1024,2048,3072,4096').split(',').map(Number);

const work = mkdtempSync(join(tmpdir(), 'pack-weights-'));
try {
  execFileSync('wasm-split-cli', [linked, work, '--out-name', 'frontend', '--target', 'web'], { stdio: 'ignore' });
  const read = (file) => {
    execFileSync(wasmOpt, ['-Oz', '--output', join(work, `${file}.opt`), join(work, file)]);
    return readFileSync(join(work, `${file}.opt`));
  };
  const chunks = sharedChunks(readFileSync(join(work, '__wasm_split.js'), 'utf8'), read);
  const gz = (data) => gzipSync(data, { level: 9 }).length;
  const own = new Map(
    readdirSync(work)
      .filter((name) => /^split_\w+\.wasm$/.test(name))
      .map((name) => [name.slice('split_'.length, -'.wasm'.length), gz(read(name))])
      .sort(([a], [b]) => a.localeCompare(b)),
  );
  const kb = (bytes) => (bytes / 1000).toFixed(1);
  const report = (label, packs) => {
    const sizes = packs.map((pack) => pack.size);
    const total = [...own.values(), ...sizes].reduce((sum, size) => sum + size, 0);
    const pages = [...own].map(([page, bytes]) => {
      let files = 1;
      packs.forEach((pack, index) => {
        if (pack.pages.has(page)) {
          files += 1;
          bytes += sizes[index];
        }
      });
      return `${page} ${kb(bytes)} KB/${files}`;
    });
    console.log(`${label}: ${packs.length} files of shared chunks, all chunks ${kb(total)} KB | ${pages.join(' | ')}`);
  };
  console.log(`${chunks.length} shared chunks, ${own.size} split points (gzip -9, KB/files)`);
  report('unpacked', chunks.map((chunk) => ({ pages: chunk.pages, size: gz(chunk.data) })));
  for (const value of values) report(`a request as ${value} B`, group(chunks, value));
} finally {
  rmSync(work, { recursive: true, force: true });
}
