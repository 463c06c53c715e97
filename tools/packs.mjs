// The shared chunks wasm-split makes, packed into a few files (tools/split.mjs).
//
// wasm-split gives each set of split points that share code a chunk of its own: 87 for the
// app's nine split points, most of them under 1 KB gzipped, some a single 4-byte string.
// Weather's first visit was 49 requests; on a slow network their round trips, not their
// bytes, were most of the wait (BENCHMARKS.md, "Shared chunks in packs"). Every shared chunk
// imports the same three things (the memory, the function table, the stack pointer) and
// only writes its code and data to places reserved for it, so chunks can be instantiated in
// any order, and loading one a page does not use costs bytes, never correctness. A pack is
// chunks' bytes one after another in one file; the loader fetches the pack once and
// instantiates each chunk from its slice.
//
// Which chunks share a pack: a page fetches every pack holding a chunk it needs, so a pack
// costs each page that needs it the pack's gzipped size plus a request. Starting from one
// pack per chunk, the two packs whose merge lowers the sum of those costs over the pages
// most are merged, until no merge lowers it. A request counts as REQUEST_BYTES.
//
// Written by hand: wasm-split has no such step, and binaryen's wasm-merge turns modules
// that import the same memory into a module with several memories.
import { gzipSync } from 'node:zlib';

// What a request is worth in bytes. On Chromium's "Fast 3G" (150 ms round trips, 1.6
// Mbit/s, six connections) a request's round trip is about 25 ms of a page's wait, the time
// of 5 KB; on a fast network it is worth less. 2 KB sits between. Measured against 0, 512,
// 1,024, 3,072 and 4,096 (BENCHMARKS.md, "Shared chunks in packs"), it gave the largest
// page, Weather, its smallest cost (113.2 KB in 6 files; 122.7 KB in 49 unpacked) and the
// chunks 345.4 KB gzipped together (375.8 KB unpacked); a page may fetch a few KB it does
// not use (the status details decoder 23.3 KB instead of 12.1), and none waits on more than
// six files.
const REQUEST_BYTES = 2048;

const gzSize = (buffers) => gzipSync(Buffer.concat(buffers), { level: 9 }).length;

// One shared chunk's loader as wasm-split 0.2 writes it (debug builds wrap the instantiation
// in `debugWrap`, which names a chunk from another build).
const SHARED = /\/\* ([^*\n]+) \*\/\nconst (__chunk_\d+) = makeLoad\(\(\) => \{\n {4}const src = fetch\(new URL\("\.\/([^"]+)", import\.meta\.url\)\);\n {4}src\.catch\(\(\) => \{\}\);\n {4}return async \(imports\) => (debugWrap)?\(WebAssembly\.instantiateStreaming\(src, imports\)\);\n\}\n, \[\]\);\n/g;

// The loader's shared chunks: the split points that need each (`pages`), its file and
// bytes (`read(file)`), and its entry in the loader.
export function sharedChunks(loader, read) {
  const shared = [...loader.matchAll(SHARED)].map(([text, sets, id, file, wrap]) => ({
    text,
    id,
    file,
    wrap: wrap ?? '',
    pages: new Set(sets.split(', ')),
    data: read(file),
  }));
  if (shared.length === 0) throw new Error('the loader has no shared chunk in the form tools/packs.mjs knows');
  return shared;
}

// Groups chunks (`{ pages: Set, data: Buffer }`) into packs, as said at the top.
export function group(chunks, requestBytes = REQUEST_BYTES) {
  const cost = (pack) => pack.pages.size * (pack.size + requestBytes);
  let packs = chunks.map((chunk) => ({
    chunks: [chunk],
    pages: new Set(chunk.pages),
    size: gzSize([chunk.data]),
  }));
  // The gzipped size of two packs merged, kept while both are: each step then compresses
  // only the merges with the pack it made (debug builds' chunks took 22 s without).
  const mergedSizes = new WeakMap();
  const mergedSize = (a, b, chunks) => {
    if (!mergedSizes.has(a)) mergedSizes.set(a, new WeakMap());
    let size = mergedSizes.get(a).get(b);
    if (size === undefined) {
      size = gzSize(chunks.map((chunk) => chunk.data));
      mergedSizes.get(a).set(b, size);
    }
    return size;
  };
  for (;;) {
    let best;
    for (let i = 0; i < packs.length; i += 1) {
      for (let j = i + 1; j < packs.length; j += 1) {
        const [a, b] = [packs[i], packs[j]];
        const pages = new Set([...a.pages, ...b.pages]);
        const before = cost(a) + cost(b);
        // The merged pack is at least as big as the bigger one: skip what cannot win.
        if (pages.size * (Math.max(a.size, b.size) + requestBytes) - before >= (best?.gain ?? 0)) continue;
        const merged = { chunks: [...a.chunks, ...b.chunks], pages };
        merged.size = mergedSize(a, b, merged.chunks);
        const gain = cost(merged) - before;
        if (gain < (best?.gain ?? 0)) best = { i, j, merged, gain };
      }
    }
    if (!best) return packs;
    packs = packs.filter((_, index) => index !== best.i && index !== best.j);
    packs.splice(best.i, 0, best.merged);
  }
}

// The loader's fetch of a pack: once, remembered only when it succeeds (as wasm-split's own
// makeLoad does), so a failed fetch is tried again by the next load.
const PACK_OF = `function packOf(url) {
    let loading = undefined;
    return () => {
        if (loading === undefined) {
            const thisLoad = fetch(url).then((response) => {
                if (!response.ok) throw new Error(\`\${url}: HTTP \${response.status}\`);
                return response.arrayBuffer();
            });
            thisLoad.catch(() => {
                if (loading === thisLoad) loading = undefined;
            });
            loading = thisLoad;
        }
        return loading;
    };
}
`;

// Packs the loader's shared chunks. `read(file)` gives a chunk's bytes; `name(data)` the
// file name a pack is written under. Returns the new loader and the packs to write
// (`{ name, data, chunks }`, the chunks' files it holds); chunks left alone stay as they are,
// and their files with them.
export function packSharedChunks(loader, read, name) {
  const shared = sharedChunks(loader, read);
  // Where the chunks' entries start: the packs' fetches are defined just before them (the
  // entries are rewritten from there on, so this place stays).
  const at = loader.indexOf(shared[0].text);
  const files = [];
  const definitions = [];
  for (const pack of group(shared)) {
    if (pack.chunks.length === 1) continue;
    const data = Buffer.concat(pack.chunks.map((chunk) => chunk.data));
    const packName = name(data);
    const packId = `__pack_${files.length}`;
    files.push({ name: packName, data, chunks: pack.chunks.map((chunk) => chunk.file) });
    definitions.push(`const ${packId} = packOf(new URL("./${packName}", import.meta.url));\n`);
    let offset = 0;
    for (const chunk of pack.chunks) {
      const own = `/* ${[...chunk.pages].join(', ')} (in ${packName}) */
const ${chunk.id} = makeLoad(() => {
    const src = ${packId}();
    return async (imports) => ${chunk.wrap}(WebAssembly.instantiate(new Uint8Array(await src, ${offset}, ${chunk.data.length}), imports));
}
, []);
`;
      loader = loader.replace(chunk.text, () => own);
      offset += chunk.data.length;
    }
  }
  if (files.length > 0) {
    loader = `${loader.slice(0, at)}${PACK_OF}${definitions.join('')}${loader.slice(at)}`;
  }
  return { loader, packs: files };
}
