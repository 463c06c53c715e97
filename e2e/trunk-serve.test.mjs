// Development mode: `trunk serve` (a debug build, rebuilt on save) in front of a running
// server, with the proxies of the real Trunk.toml. The page must call every service through
// them, streams included, replies arriving one by one.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { launchBrowser, openPage, recordArrivals, startServer } from './harness.mjs';

const TRUNK = process.env.TRUNK ?? 'trunk';

let server;
let browser;
let trunk;
let url;

/** A port that was free a moment ago (Trunk takes a port number, not a listener). */
function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/** Trunk.toml, pointed at this test's server and port, building into target/. */
function trunkConfig(serverAddress, port) {
  const config = readFileSync('Trunk.toml', 'utf8')
    .replaceAll('http://127.0.0.1:50051/', `${serverAddress}/`)
    .replaceAll('ws://127.0.0.1:50051/', `${serverAddress.replace('http://', 'ws://')}/`)
    .replace('target = "index.html"', 'target = "../index.html"')
    .replace('"tools/post-build.mjs"', '"../tools/post-build.mjs"')
    .replace('dist = "dist"', 'dist = "e2e-trunk-dist"')
    .replace('port = 8080', `port = ${port}`);
  assert.ok(config.includes(`${serverAddress}/Greeter/`), 'Trunk.toml proxies the Greeter');
  assert.ok(config.includes('"../tools/post-build.mjs"'), 'hooks run from the config\'s directory');
  const path = 'target/Trunk.e2e.toml';
  writeFileSync(path, config);
  return path;
}

async function waitUntilServed(pageUrl, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (trunk.exitCode !== null) throw new Error(`trunk serve exited (${trunk.exitCode})`);
    try {
      const response = await fetch(pageUrl);
      if (response.ok && (await response.text()).includes('.wasm')) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`trunk serve did not serve the app within ${timeoutMs} ms`);
}

before(async () => {
  // trunk's page is another origin to the server: its WebSocket (grpc-ws) needs the server
  // to accept it, as the README's development command does.
  const port = await freePort();
  server = await startServer({ liveInterval: '300ms', args: ['--cors-origins', `http://127.0.0.1:${port}`] });
  const config = trunkConfig(server.url, port);
  // Its own process group, so stopping it stops the cargo build it may be running.
  trunk = spawn(TRUNK, ['serve', '--config', config, '--no-autoreload'], {
    stdio: ['ignore', 'inherit', 'inherit'],
    detached: true,
  });
  process.on('exit', () => { try { process.kill(-trunk.pid, 'SIGKILL'); } catch {} });
  url = `http://127.0.0.1:${port}`;
  // The first debug build of the frontend compiles every dependency for wasm32.
  await waitUntilServed(`${url}/`, 10 * 60_000);
  browser = await launchBrowser();
}, { timeout: 11 * 60_000 });

after(async () => {
  await browser?.close();
  if (trunk && trunk.exitCode === null) {
    const exited = new Promise((resolve) => trunk.once('exit', resolve));
    process.kill(-trunk.pid, 'SIGTERM');
    await exited;
  }
  await server?.stop();
});

test('through trunk serve: unary, a stream arriving one by one, live weather', async () => {
  const page = await openPage(browser, `${url}/`);
  await page.fill('#hello-name', 'Trunk');
  await page.click('#hello-send');
  await page.waitForSelector('#hello-reply');
  assert.equal(await page.textContent('#hello-reply'), 'Hello, Trunk!');

  await recordArrivals(page);
  await page.fill('#stream-count', '3');
  await page.fill('#stream-interval', '400');
  await page.click('#stream-start');
  await page.waitForFunction(() => document.querySelector('#stream-status').textContent.includes('Finished'));
  const arrivals = await page.evaluate(() => window.arrivals);
  assert.equal(arrivals.length, 3);
  assert.ok(arrivals[2] - arrivals[0] > 400, `the proxy passed replies on as they came: ${arrivals}`);

  await page.goto(`${url}/weather?city=tokyo-jp`);
  await page.waitForSelector('#city-name');
  await page.check('#live-toggle');
  await page.waitForFunction(() => Number(document.querySelector('#live-count')?.textContent) >= 2);

  // The chat room and the file list go through their proxies too.
  await page.goto(`${url}/chat?room=trunk`);
  await page.waitForSelector('#room-status:has-text("connected")');
  await page.fill('#chat-text', 'via trunk');
  await page.click('#chat-send');
  await page.waitForSelector('#chat-messages .message:has-text("via trunk")');
  await page.goto(`${url}/files`);
  await page.waitForSelector('#no-files, #file-list');
  assert.equal(await page.$('.error'), null, 'no call failed');

  // The blog (gRPC-Web), the API page (REST and the document) and grpc-ws (its WebSocket).
  await page.goto(`${url}/blog`);
  await page.waitForSelector('#posts-end');
  await page.goto(`${url}/api`);
  await page.waitForSelector('#api-operations .operation');
  await page.goto(`${url}/`);
  await page.fill('#converse-name', 'Trunk');
  await page.click('#converse-send');
  await page.waitForSelector('#converse-replies li:has-text("Trunk")');
  assert.equal(await page.$('.error'), null, 'no call failed');
  assert.deepEqual(page.pageErrors, []);
});
