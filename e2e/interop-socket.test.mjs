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
