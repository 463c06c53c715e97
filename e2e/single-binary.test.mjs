// The release binary carries the web app: started with no --static-dir, from a directory
// with no dist/, it serves the page, and the page works.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliDecompressSync } from 'node:zlib';
import { DIST_DIR, launchBrowser, openPage, startServer } from './harness.mjs';

let empty;
let server;
let browser;

before(async () => {
  empty = await mkdtemp(join(tmpdir(), 'e2e-single-binary-'));
  server = await startServer({ staticDir: null, cwd: empty });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (empty) await rm(empty, { recursive: true, force: true });
});

test('the one file serves the whole app', async () => {
  await server.waitForLog(/serving the web app built into this binary/);
  const page = await openPage(browser, `${server.url}/weather?city=lima-pe`);
  await page.waitForSelector('#city-name');
  assert.equal(await page.textContent('#city-name'), 'Lima');
  const response = await page.request.get(`${server.url}/`);
  assert.match(response.headers()['content-security-policy'], /wasm-unsafe-eval/);
  assert.deepEqual(page.pageErrors, []);
});

/** One GET with this Accept-Encoding, the body as it came (node:http decodes nothing). */
function rawGet(url, acceptEncoding) {
  return new Promise((resolve, reject) => {
    http.get(url, { headers: { 'accept-encoding': acceptEncoding } }, (response) => {
      const chunks = [];
      response.on('data', (chunk) => chunks.push(chunk));
      response.on('end', () => resolve({ headers: response.headers, body: Buffer.concat(chunks) }));
      response.on('error', reject);
    }).on('error', reject);
  });
}

test('the built-in files go out as the build compressed them', async () => {
  const wasm = (await readdir(DIST_DIR)).find((name) => name.endsWith('_bg.wasm'));
  const brotli = await rawGet(`${server.url}/${wasm}`, 'gzip, deflate, br, zstd');
  assert.equal(brotli.headers['content-encoding'], 'br');
  assert.equal(brotli.headers['content-type'], 'application/wasm');
  assert.match(brotli.headers['cache-control'], /immutable/);
  assert.ok(brotli.body.equals(await readFile(join(DIST_DIR, `${wasm}.br`))), 'the brotli copy, byte for byte');
  const plain = await readFile(join(DIST_DIR, wasm));
  assert.ok(brotliDecompressSync(brotli.body).equals(plain));
  const gzip = await rawGet(`${server.url}/${wasm}`, 'gzip');
  assert.equal(gzip.headers['content-encoding'], 'gzip');
  assert.ok(gzip.body.equals(await readFile(join(DIST_DIR, `${wasm}.gz`))), 'the gzip copy, byte for byte');
  const identity = await rawGet(`${server.url}/${wasm}`, 'identity');
  assert.equal(identity.headers['content-encoding'], undefined);
  assert.ok(identity.body.equals(plain));
});
