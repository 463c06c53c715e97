// The Files page in headless Chromium, over the page's socket (the upload streams as the
// file is read) and over gRPC-Web fetch (read whole, one request): an upload refused without
// the token, stored with it (the digest shown matches the file's), listed, downloaded byte
// for byte through the server stream, a second upload of the name refused; a 100 MiB upload
// with progress while the page's memory stays bounded; a cancelled upload leaves nothing.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspectedCalls, launchBrowser, nextCall, openPage, startServer } from './harness.mjs';

const TOKEN = 'e2e-files-token-5678';
let server;
let browser;

before(async () => {
  server = await startServer({ args: ['--auth-token', TOKEN, '--upload-max-mib', '128'] });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

// 600 KB: several upload chunks and download messages.
const content = Buffer.from(Array.from({ length: 600_000 }, (_, i) => (i * 31) % 256));

async function saveToken(page) {
  await page.fill('#token-input', TOKEN);
  await page.click('#token-save');
  await page.waitForSelector('#token-status:has-text("A token is saved")');
}

for (const transport of ['fetch', 'socket']) test(`over ${transport}: upload needs the token, then the file is listed and downloads byte for byte`, async () => {
  const name = `notes-${transport}.bin`;
  const file = { name, mimeType: 'application/octet-stream', buffer: content };
  // Over fetch, the browser's view of the Upload request; over the socket there is none.
  const upload = async (page) => {
    await page.setInputFiles('#file-input', file);
    const call = transport === 'fetch' ? nextCall(page, '/files.v1.FileService/Upload') : null;
    await page.click('#file-upload');
    return call;
  };
  const context = await browser.newContext({ acceptDownloads: true });
  const page = await openPage(context, `${server.url}/files`, { transport });
  await page.waitForSelector('#file-list, #no-files');

  await upload(page);
  await page.waitForSelector('#upload-result .error');
  assert.equal(await page.textContent('#upload-result .error-code'), 'UNAUTHENTICATED');
  assert.match(await page.textContent('#upload-result'), /Save the server's access token above/);

  // Saved on the Chat page: the token is the browser's, and the interceptor sends it from
  // every page.
  await page.goto(`${server.url}/chat`);
  await page.fill('#token-input', TOKEN);
  await page.click('#token-save');
  await page.waitForSelector('#token-status:has-text("A token is saved")');
  await page.goto(`${server.url}/files`);

  const call = await upload(page);
  if (call) assert.equal(call.status(), 200);
  await page.waitForSelector('#upload-sha256');
  assert.equal(await page.textContent('#upload-name'), name);
  assert.equal(await page.textContent('#upload-sha256'), createHash('sha256').update(content).digest('hex'));

  // Listed again after the upload.
  await page.waitForSelector(`#file-list .file[data-name="${name}"]`);
  assert.match(await page.textContent('#file-list'), /585\.9 KiB/);

  const download = page.waitForEvent('download');
  await page.click(`#file-list .file[data-name="${name}"] button.download`);
  const saved = await download;
  assert.equal(saved.suggestedFilename(), name);
  assert.deepEqual(await readFile(await saved.path()), content);
  await page.waitForSelector('#file-list .saved');

  // The name is taken now.
  await upload(page);
  await page.waitForSelector('#upload-result .error-code:has-text("ALREADY_EXISTS")');
  const uploads = (await inspectedCalls(page)).filter((c) => c.method === '/files.v1.FileService/Upload');
  // Since the page was loaded again (after the token): the stored one and the refused one.
  assert.deepEqual(uploads.map((c) => [c.transport, c.mode, c.status]), [
    [transport, 'client streaming', 'ALREADY_EXISTS'],
    [transport, 'client streaming', 'OK'],
  ]);
  assert.deepEqual(page.pageErrors, []);
  await context.close();
});

/** A file of `mib` MiB on disk (the browser reads it from there), with its SHA-256. */
async function bigFile(mib, name) {
  const dir = await mkdtemp(join(tmpdir(), 'e2e-big-'));
  const path = join(dir, name);
  const block = Buffer.alloc(1024 * 1024);
  const hash = createHash('sha256');
  const blocks = [];
  for (let i = 0; i < mib; i += 1) {
    block.fill(i % 251);
    block.writeUInt32BE(i, 0);
    hash.update(block);
    blocks.push(Buffer.from(block));
  }
  await writeFile(path, Buffer.concat(blocks));
  return { path, dir, sha256: hash.digest('hex') };
}

const wasmMemory = (page) => page.evaluate(() => window.wasmExports.memory.buffer.byteLength);

test('100 MiB streams from the page with progress, and the page never holds the file', async () => {
  const big = await bigFile(100, 'big.bin');
  const page = await openPage(browser, `${server.url}/files`);
  try {
    await saveToken(page);
    await page.waitForSelector('#file-list, #no-files');
    const before = await wasmMemory(page);
    await page.setInputFiles('#file-input', big.path);
    const started = Date.now();
    await page.click('#file-upload');
    // Progress shows on the way: part sent, a speed.
    await page.waitForFunction(() => {
      const bar = document.querySelector('#upload-progress');
      return bar && bar.value > 0 && bar.value < bar.max;
    });
    assert.match(await page.textContent('#upload-speed'), /of 100\.0 MiB · .*\/s/);
    await page.waitForSelector('#upload-sha256', { timeout: 300_000 });
    const seconds = (Date.now() - started) / 1000;
    assert.equal(await page.textContent('#upload-sha256'), big.sha256);
    const after = await wasmMemory(page);
    // The page read it a slice at a time: its memory grew by far less than the file.
    assert.ok(after - before < 16 * 1024 * 1024,
      `wasm memory ${before} -> ${after} bytes for a 100 MiB upload`);
    console.log(`# 100 MiB upload from the page: ${(100 / seconds).toFixed(1)} MiB/s; wasm memory ${(before / 2 ** 20).toFixed(1)} -> ${(after / 2 ** 20).toFixed(1)} MiB`);
    assert.deepEqual(page.pageErrors, []);
  } finally {
    await page.close();
    await rm(big.dir, { recursive: true, force: true });
  }
});

test('a cancelled upload stops on the server and leaves nothing', async () => {
  const big = await bigFile(100, 'cancelled.bin');
  const page = await openPage(browser, `${server.url}/files`);
  try {
    await saveToken(page);
    await page.waitForSelector('#file-list, #no-files');
    await page.setInputFiles('#file-input', big.path);
    await page.click('#file-upload');
    await page.waitForFunction(() => document.querySelector('#upload-progress')?.value > 4 * 2 ** 20);
    await page.click('#upload-cancel');
    await page.waitForSelector('#upload-cancelled');
    await server.waitForLog(/access: call method=\/files\.v1\.FileService\/Upload code=CANCELLED .*transport=grpc-ws/)
      .catch((error) => { console.log(server.logText().split('\n').filter((l) => /Upload|upload/.test(l)).slice(-8).join('\n')); throw error; });
    // Listed again from the server: no such file.
    await page.reload();
    await page.waitForSelector('#file-list, #no-files');
    assert.equal(await page.$('#file-list .file[data-name="cancelled.bin"]'), null);
    assert.deepEqual(page.pageErrors, []);
  } finally {
    await page.close();
    await rm(big.dir, { recursive: true, force: true });
  }
});
