// tools/packs.mjs: which shared chunks share a pack, and the loader it writes for them.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';

import { group, packSharedChunks } from './packs.mjs';

const chunk = (pages, data) => ({ pages: new Set(pages), data: Buffer.from(data) });

test('small chunks the same pages need go in one pack', () => {
  const packs = group([chunk(['chat', 'blog'], 'name'), chunk(['chat', 'blog'], 'KiBMiB'), chunk(['chat'], 'room')]);
  assert.equal(packs.length, 1);
  assert.deepEqual([...packs[0].pages].sort(), ['blog', 'chat']);
});

test('a big chunk is not packed with one a page that does not need it would then fetch', () => {
  // Random bytes do not compress: merged, each page would fetch the other's 20 KB.
  const packs = group([chunk(['weather'], randomBytes(20_000)), chunk(['blog'], randomBytes(20_000))]);
  assert.equal(packs.length, 2);
});

// The loader's entries for shared chunks, as wasm-split 0.2 writes them.
const entry = (sets, n, wrap = '') => `/* ${sets} */
const __chunk_${n} = makeLoad(() => {
    const src = fetch(new URL("./chunk_${n}.wasm", import.meta.url));
    src.catch(() => {});
    return async (imports) => ${wrap}(WebAssembly.instantiateStreaming(src, imports));
}
, []);
`;

for (const wrap of ['', 'debugWrap']) {
  test(`packed chunks are instantiated from their slices of the pack${wrap ? ' (debug builds)' : ''}`, () => {
    const files = { 'chunk_1.wasm': Buffer.from('abc'), 'chunk_2.wasm': Buffer.from('defgh'), 'chunk_3.wasm': randomBytes(30_000) };
    const loader = `function makeLoad() {}\n${entry('api, blog', 1, wrap)}${entry('api, blog', 2, wrap)}${entry('weather', 3, wrap)}export const __wasm_split_load_api = 1;\n`;
    const { loader: packed, packs } = packSharedChunks(loader, (file) => files[file], () => 'chunks-0123456789abcdef.bin');

    assert.equal(packs.length, 1);
    assert.deepEqual(packs[0].chunks, ['chunk_1.wasm', 'chunk_2.wasm']);
    assert.deepEqual(packs[0].data, Buffer.from('abcdefgh'));
    assert.match(packed, /const __pack_0 = packOf\(new URL\("\.\/chunks-0123456789abcdef\.bin", import\.meta\.url\)\);/);
    const slice = (n, offset, length) => new RegExp(
      `const __chunk_${n} = makeLoad\\(\\(\\) => \\{\\n {4}const src = __pack_0\\(\\);\\n {4}return async \\(imports\\) => ${wrap}\\(WebAssembly\\.instantiate\\(new Uint8Array\\(await src, ${offset}, ${length}\\), imports\\)\\);`,
    );
    assert.match(packed, slice(1, 0, 3));
    assert.match(packed, slice(2, 3, 5));
    // The big chunk alone keeps its own file.
    assert.ok(packed.includes(entry('weather', 3, wrap)));
    assert.ok(!packed.includes('chunk_1.wasm') && !packed.includes('chunk_2.wasm'));
  });
}

test('a loader in a form it does not know is refused, not passed on unpacked', () => {
  assert.throws(() => packSharedChunks('const __chunk_1 = somethingElse();\n', () => Buffer.alloc(0), () => 'x'), /no shared chunk/);
});
