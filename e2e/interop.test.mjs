// grpc.testing.TestService from headless Chromium over gRPC-Web, in binary and text modes:
// the interop cases a browser can make (no client or bidi streaming, no per-message
// compression control in fetch). Each call is a real fetch from the page, through the
// minimal client in grpc-web-client.js.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, openPage, startServer } from './harness.mjs';

let server;
let browser;
let page;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  // The test's own gRPC-Web client is injected into the page, which the app's CSP rightly
  // forbids: this context bypasses the CSP (the app's pages are tested under it elsewhere).
  const context = await browser.newContext({ bypassCSP: true });
  page = await openPage(context, `${server.url}/`);
  await page.addScriptTag({ path: new URL('./grpc-web-client.js', import.meta.url).pathname });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const SERVICE = '/grpc.testing.TestService';
const SPECIAL = '\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n';

/** Runs one call in the page; `build` names a message builder and its argument. */
function call(mode, method, build, arg, metadata = {}) {
  return page.evaluate(
    async ({ mode, path, build, arg, metadata }) => {
      const { call, messages } = window.grpcWeb;
      const result = await call(path, messages[build](arg), { mode, metadata });
      return { ...result, sizes: result.messages.map((m) => messages.payloadSize(m)), messages: result.messages.length };
    },
    { mode, path: `${SERVICE}/${method}`, build, arg, metadata },
  );
}

for (const mode of ['binary', 'text']) {
  test(`${mode}: empty_unary and large_unary`, async () => {
    const empty = await call(mode, 'EmptyCall', 'empty');
    assert.equal(empty.status, 0);
    assert.equal(empty.messages, 1);

    const large = await call(mode, 'UnaryCall', 'simpleRequest', { responseSize: 314159, payloadSize: 271828 });
    assert.equal(large.status, 0, large.message);
    assert.deepEqual(large.sizes, [314159]);
  });

  test(`${mode}: server_streaming`, async () => {
    const sizes = [31415, 9, 2653, 58979];
    const result = await call(mode, 'StreamingOutputCall', 'streamingOutputRequest', sizes.map((size) => ({ size })));
    assert.equal(result.status, 0, result.message);
    assert.deepEqual(result.sizes, sizes);
  });

  test(`${mode}: custom_metadata`, async () => {
    const result = await call(mode, 'UnaryCall', 'simpleRequest', { responseSize: 314159, payloadSize: 271828 }, {
      'x-grpc-test-echo-initial': 'test_initial_metadata_value',
      'x-grpc-test-echo-trailing-bin': 'q6ur', // base64 of 0xababab
    });
    assert.equal(result.status, 0, result.message);
    assert.equal(result.headers['x-grpc-test-echo-initial'], 'test_initial_metadata_value');
    assert.equal(result.trailers['x-grpc-test-echo-trailing-bin'], 'q6ur');
  });

  test(`${mode}: status_code_and_message and special_status_message`, async () => {
    for (const message of ['test status message', SPECIAL]) {
      const result = await call(mode, 'UnaryCall', 'simpleRequest', { status: { code: 2, message } });
      assert.equal(result.status, 2);
      assert.equal(result.message, message);
    }
  });

  test(`${mode}: unimplemented_method and unimplemented_service`, async () => {
    const method = await call(mode, 'UnimplementedCall', 'empty');
    assert.equal(method.status, 12);
    const service = await page.evaluate(async (mode) => {
      const { call, messages } = window.grpcWeb;
      const result = await call('/grpc.testing.UnimplementedService/UnimplementedCall', messages.empty(), { mode });
      return result.status;
    }, mode);
    assert.equal(service, 12);
  });

  test(`${mode}: a stream past its grpc-timeout ends with DEADLINE_EXCEEDED`, async () => {
    const result = await call(mode, 'StreamingOutputCall', 'streamingOutputRequest',
      [{ size: 1 }, { size: 1, intervalUs: 5_000_000 }], { 'grpc-timeout': '300m' });
    assert.equal(result.status, 4, result.message);
    assert.equal(result.messages, 1, 'the first response came before the deadline');
  });
}
