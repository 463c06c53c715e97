// The release binary carries the web app: started with no --static-dir, from a directory
// with no dist/, it serves the page, and the page works.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchBrowser, openPage, startServer } from './harness.mjs';

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
