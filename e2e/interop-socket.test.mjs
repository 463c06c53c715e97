// The official interop cases from headless Chromium through the web app's own generated
// client over its grpc-ws socket (the Interop page): the ones gRPC-Web cannot make
// (client_streaming, ping_pong, empty_stream, cancel_after_begin,
// cancel_after_first_response, timeout_on_sleeping_server, custom_metadata and
// status_code_and_message on FullDuplexCall), and the unary and server-streaming ones.
// Each case checks what the spec says (ping_pong: each reply before the next request); the
// server's access log confirms the cancels from its side.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { inspectedCalls, launchBrowser, openPage, startServer } from './harness.mjs';

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('every interop case passes from the browser over the socket', async () => {
  const page = await openPage(browser, `${server.url}/interop`);
  await page.click('#interop-run');
  await page.waitForFunction(() => [...document.querySelectorAll('#interop-cases .case')]
    .every((row) => ['passed', 'failed'].includes(row.dataset.outcome)), null, { timeout: 60_000 });
  const outcomes = await page.$$eval('#interop-cases .case', (rows) =>
    rows.map((row) => [row.dataset.case, row.dataset.outcome, row.querySelector('.case-detail').textContent]));
  for (const [name, outcome, detail] of outcomes) assert.equal(outcome, 'passed', `${name}: ${detail}`);
  assert.deepEqual(outcomes.map(([name]) => name), [
    'empty_unary', 'large_unary', 'client_streaming', 'server_streaming', 'ping_pong', 'empty_stream',
    'cancel_after_begin', 'cancel_after_first_response', 'timeout_on_sleeping_server',
    'custom_metadata', 'status_code_and_message',
  ]);
  // The cancels, as the server saw them: over the socket, CANCELLED.
  await server.waitForLog(/method=\/grpc\.testing\.TestService\/StreamingInputCall code=CANCELLED .*transport=grpc-ws/);
  await server.waitForLog(/method=\/grpc\.testing\.TestService\/FullDuplexCall code=CANCELLED .*transport=grpc-ws/);
  // Every call on the socket, in its mode.
  const calls = await inspectedCalls(page);
  assert.ok(calls.every((call) => call.transport === 'socket'), JSON.stringify(calls));
  assert.ok(calls.some((call) => call.method.endsWith('/FullDuplexCall') && call.mode === 'bidi'));
  assert.ok(calls.some((call) => call.method.endsWith('/StreamingInputCall') && call.mode === 'client streaming'));
  assert.deepEqual(page.pageErrors, []);
});

test('a page that reads slowly holds the server back to one window', async () => {
  const page = await openPage(browser, `${server.url}/interop`);
  // What reaches the browser, counted by the browser itself (DevTools): every DATA frame's
  // bytes on the page's socket, whether or not the page has read them.
  let received = 0;
  page.on('websocket', (socket) => socket.on('framereceived', ({ payload }) => {
    received += typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
  }));
  await page.click('#slow-run');
  const samples = [];
  const deadline = Date.now() + 60_000;
  for (;;) {
    const read = Number(await page.getAttribute('#slow-state', 'data-read'));
    samples.push({ read, received });
    if (read >= 32 || Date.now() > deadline) break;
    await new Promise((done) => setTimeout(done, 20));
  }
  assert.equal(samples.at(-1).read, 32, `every message read: ${await page.textContent('#slow-state')}`);
  // The page reads a 64 KiB message every 100 ms; the server could send all 2 MiB at once.
  // It is never more than the window (256 KiB) and a message in flight ahead of the page
  // (a little more for the frames' own headers).
  const message = 64 * 1024 + 16;
  const most = Math.max(...samples.map(({ read, received: bytes }) => bytes - read * message));
  assert.ok(most <= 256 * 1024 + 2 * message, `the browser held ${most} bytes beyond what the page read`);
  assert.ok(most >= 128 * 1024, `the window was used: ${most}`);
  // The page's own view says the same.
  const pageMost = Number(await page.getAttribute('#slow-state', 'data-most-ahead'));
  assert.ok(pageMost <= 256 * 1024, `the page counted ${pageMost} ahead`);
  assert.match(await page.textContent('#slow-state'), /read 32 of 32/);
  assert.deepEqual(page.pageErrors, []);
  await page.close();
});

test('Measure gives every figure from the browser', async () => {
  const page = await openPage(browser, `${server.url}/interop`);
  await page.click('#measure-run');
  await page.waitForSelector('#measure-state:has-text("Done")', { timeout: 300_000 });
  const rows = await page.$$eval('#measure-results tr', (rows) => rows.map((row) =>
    [...row.querySelectorAll('td')].map((cell) => cell.textContent)));
  assert.deepEqual(rows.map(([what]) => what), [
    'bidi round trip (socket)', 'unary call (socket)', 'unary call (gRPC-Web fetch)',
    'client stream, 20,000 messages of 100 B (socket)', 'client stream, 100 MiB in 128 KiB messages (socket)',
  ]);
  // Figures, not their size: timing is measured in bench/, never asserted.
  for (const [what, figure] of rows) {
    assert.match(figure, /^(p50 [\d.]+ ms · p99 [\d.]+ ms|\d+ messages\/s|[\d.]+ MiB\/s)$/, what);
  }
  await server.waitForLog(/method=\/grpc\.testing\.TestService\/StreamingInputCall code=OK .*transport=grpc-ws/);
  assert.deepEqual(page.pageErrors, []);
  await page.close();
});
