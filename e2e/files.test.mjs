// The Files page in headless Chromium: an upload refused without the token, stored with it
// (the digest shown matches the file's), listed, downloaded byte for byte through the
// server stream, and a second upload of the name refused.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { launchBrowser, nextCall, openPage, startServer } from './harness.mjs';

const TOKEN = 'e2e-files-token-5678';
let server;
let browser;

before(async () => {
  server = await startServer({ args: ['--auth-token', TOKEN] });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

// 600 KB: several upload chunks and download messages.
const content = Buffer.from(Array.from({ length: 600_000 }, (_, i) => (i * 31) % 256));
const file = { name: 'notes.bin', mimeType: 'application/octet-stream', buffer: content };

async function upload(page) {
  await page.setInputFiles('#file-input', file);
  const call = nextCall(page, '/files.v1.FileService/Upload');
  await page.click('#file-upload');
  return call;
}

test('upload needs the token, then the file is listed and downloads byte for byte', async () => {
  const context = await browser.newContext({ acceptDownloads: true });
  const page = await openPage(context, `${server.url}/files`);
  await page.waitForSelector('#no-files');

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
  assert.equal(call.status(), 200);
  await page.waitForSelector('#upload-sha256');
  assert.equal(await page.textContent('#upload-name'), 'notes.bin');
  assert.equal(await page.textContent('#upload-sha256'), createHash('sha256').update(content).digest('hex'));

  // Listed again after the upload.
  await page.waitForSelector('#file-list .file[data-name="notes.bin"]');
  assert.match(await page.textContent('#file-list'), /585\.9 KiB/);

  const download = page.waitForEvent('download');
  await page.click('#file-list .file[data-name="notes.bin"] button.download');
  const saved = await download;
  assert.equal(saved.suggestedFilename(), 'notes.bin');
  assert.deepEqual(await readFile(await saved.path()), content);
  await page.waitForSelector('#file-list .saved');

  // The name is taken now.
  await upload(page);
  await page.waitForSelector('#upload-result .error-code:has-text("ALREADY_EXISTS")');
  assert.deepEqual(page.pageErrors, []);
  await context.close();
});
