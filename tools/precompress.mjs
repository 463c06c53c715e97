// Trunk's post_build hook (Trunk.toml): beside each file of a release build, a gzip
// (level 9) and a brotli (quality 11) copy, made once here, so the server sends them as
// they are to browsers that accept them instead of compressing on every request (and at
// a level it could not afford per request). Node's own zlib makes both: nothing more to
// install. Debug builds (`trunk serve`) are left alone: compressing them would only slow
// the edit-reload loop.
//
// A copy is kept only where it is smaller than the file.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const dir = process.env.TRUNK_STAGING_DIR ?? process.argv[2];
if (!dir) throw new Error('usage: TRUNK_STAGING_DIR=dist node tools/precompress.mjs (or the directory as argument)');
if (process.env.TRUNK_PROFILE && process.env.TRUNK_PROFILE !== 'release') process.exit(0);

const COMPRESSIBLE = /\.(wasm|bin|js|css|html|svg|json|txt)$/;
for (const name of readdirSync(dir)) {
  const path = join(dir, name);
  if (!COMPRESSIBLE.test(name) || !statSync(path).isFile()) continue;
  const data = readFileSync(path);
  const copies = {
    gz: gzipSync(data, { level: 9 }),
    br: brotliCompressSync(data, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
        [constants.BROTLI_PARAM_SIZE_HINT]: data.length,
        [constants.BROTLI_PARAM_MODE]: name.endsWith('.wasm') ? constants.BROTLI_MODE_GENERIC : constants.BROTLI_MODE_TEXT,
      },
    }),
  };
  const sizes = [];
  for (const [suffix, copy] of Object.entries(copies)) {
    if (copy.length >= data.length) continue;
    writeFileSync(`${path}.${suffix}`, copy);
    sizes.push(`${suffix} ${copy.length}`);
  }
  console.log(`precompressed ${name} (${data.length} B): ${sizes.join(', ') || 'kept as is'}`);
}
