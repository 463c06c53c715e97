// The page over HTTPS with the server's development certificate: Chromium trusts exactly
// that certificate (by its public key), loads the app over HTTP/2 (ALPN), and its gRPC-Web
// calls and streams share that HTTP/2 connection; its grpc-ws socket rides on that
// connection too (RFC 8441 extended CONNECT), no second TCP connection.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchBrowser, openPage, startServer } from './harness.mjs';

let dir;
let server;
let browser;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'e2e-tls-'));
  server = await startServer({ args: ['--tls-self-signed', '--tls-dir', dir], tls: true });
  const certificate = new X509Certificate(await readFile(join(dir, 'localhost.pem')));
  const spki = certificate.publicKey.export({ type: 'spki', format: 'der' });
  const pin = createHash('sha256').update(spki).digest('base64');
  browser = await launchBrowser({ args: [`--ignore-certificate-errors-spki-list=${pin}`] });
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('the app and its gRPC-Web calls over HTTPS and HTTP/2', async () => {
  const page = await openPage(browser, `${server.url}/`, { transport: 'fetch' });
  const protocol = await page.evaluate(() => performance.getEntriesByType('navigation')[0].nextHopProtocol);
  assert.equal(protocol, 'h2');

  await page.fill('#hello-name', 'TLS');
  await page.click('#hello-send');
  await page.waitForSelector('#hello-reply');
  assert.equal(await page.textContent('#hello-reply'), 'Hello, TLS!');

  // Several streams at once, more than HTTP/1.1's six connections would carry.
  await page.goto(`${server.url}/weather?city=oslo-no`);
  for (const city of ['lima-pe', 'paris-fr', 'tokyo-jp', 'cairo-eg', 'delhi-in', 'rome-it', 'oslo-no']) {
    await page.goto(`${server.url}/weather?city=${city}`);
    await page.click('#dashboard-toggle');
  }
  await page.check('#live-toggle');
  await page.waitForSelector('#dashboard-status:has-text("live")');
  await page.waitForFunction(() => Number(document.querySelector('#live-count')?.textContent) >= 1);
  const calls = await page.evaluate(() => performance.getEntriesByType('resource')
    .filter((entry) => entry.name.includes('WeatherService'))
    .map((entry) => entry.nextHopProtocol));
  assert.ok(calls.length >= 2, `gRPC-Web calls seen: ${calls}`);
  assert.ok(calls.every((protocol) => protocol === 'h2'), `every call on HTTP/2: ${calls}`);
  assert.deepEqual(page.pageErrors, []);
});

test('the socket over HTTPS rides the page\'s HTTP/2 connection (extended CONNECT)', async () => {
  const page = await openPage(browser, `${server.url}/`);
  for (const [n, name] of ['Ada', 'Grace'].entries()) {
    await page.fill('#converse-name', name);
    await page.click('#converse-send');
    await page.waitForFunction((count) => document.querySelectorAll('#converse-replies li').length === count, n + 1);
  }
  await page.click('#converse-end');
  await page.waitForSelector('#converse-status:has-text("Finished")');
  await server.waitForLog(/grpc-ws socket opened .*version=HTTP\/2\.0/);
  assert.equal(server.countLogs(/grpc-ws socket opened .*version=HTTP\/1\.1/), 0, 'never over HTTP/1.1');
  assert.deepEqual(page.pageErrors, []);
});
