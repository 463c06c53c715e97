// The Greeter page in headless Chromium: the four call modes through the one generated
// client, over the page's grpc-ws socket (and over gRPC-Web fetch where a test watches the
// HTTP exchange): unary, a server stream arriving message by message, stopping it, a client
// stream sent name by name, bidi; server errors shown in the page; the call inspector; and
// the fallback when a proxy refuses the socket.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  inspectedCalls, launchBrowser, nextCall, openPage, recordArrivals, startHttpProxy, startProxy,
  startServer,
} from './harness.mjs';

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

test('SayHello over gRPC-Web fetch shows the reply, decoded from a gzipped answer', async () => {
  const page = await openPage(browser, `${server.url}/`, { transport: 'fetch' });
  await page.fill('#hello-name', 'Ada Lovelace');
  const call = nextCall(page, '/Greeter/SayHello');
  await page.click('#hello-send');
  await page.waitForSelector('#hello-reply');
  assert.equal(await page.textContent('#hello-reply'), 'Hello, Ada Lovelace!');
  const headers = (await call).headers();
  assert.equal(headers['grpc-encoding'], 'gzip', 'the server compressed the reply');
  assert.ok((await call).request().headers()['grpc-timeout'], 'the page sent its deadline');
  assert.deepEqual(page.pageErrors, []);
});

test('an empty name shows INVALID_ARGUMENT from the server', async () => {
  const page = await openPage(browser, `${server.url}/`);
  await page.fill('#hello-name', '');
  await page.click('#hello-send');
  await page.waitForSelector('.error');
  assert.equal(await page.textContent('.error .error-code'), 'INVALID_ARGUMENT');
  assert.equal(await page.textContent('.error .error-message'), 'name: must not be empty');
});

test('the greeting stream over fetch shows replies one after another', async () => {
  const page = await openPage(browser, `${server.url}/`, { transport: 'fetch' });
  await page.fill('#stream-name', 'Ada');
  await page.fill('#stream-count', '4');
  await page.fill('#stream-interval', '400');
  await recordArrivals(page);
  const call = nextCall(page, '/Greeter/SayHelloStream');
  await page.click('#stream-start');

  await page.waitForFunction(() => document.querySelector('#stream-status').textContent.includes('Finished'));
  assert.equal((await call).headers()['grpc-encoding'], 'gzip', 'each message gzipped');
  const replies = await page.$$eval('#stream-replies li', (items) => items.map((li) => li.textContent));
  assert.deepEqual(replies, [1, 2, 3, 4].map((i) => `Hello, Ada! (${i}/4)`));
  assert.equal(await page.textContent('#stream-status'), 'Finished: 4 greetings.');

  // Sent 400 ms apart, so they must not have arrived together.
  const arrivals = await page.evaluate(() => window.arrivals);
  assert.equal(arrivals.length, 4);
  for (let i = 1; i < arrivals.length; i += 1) {
    assert.ok(arrivals[i] - arrivals[i - 1] > 200, `reply ${i + 1} came ${arrivals[i] - arrivals[i - 1]} ms after the one before`);
  }
});

test('Stop cancels the stream', async () => {
  const page = await openPage(browser, `${server.url}/`);
  await page.fill('#stream-count', '100');
  await page.fill('#stream-interval', '200');
  await page.click('#stream-start');
  await page.waitForFunction(() => document.querySelectorAll('#stream-replies li').length >= 2);
  await page.click('#stream-stop');

  const status = await page.textContent('#stream-status');
  const match = status.match(/^Stopped after (\d+) greetings\.$/);
  assert.ok(match, status);
  const shown = await page.$$eval('#stream-replies li', (items) => items.length);
  assert.equal(shown, Number(match[1]));
  // Nothing more arrives once stopped (the stream had 98 more to send).
  await page.waitForTimeout(1000);
  assert.equal(await page.$$eval('#stream-replies li', (items) => items.length), shown);
  assert.ok(await page.isEnabled('#stream-start'));
});

test('an out-of-bounds count shows the server error with the field', async () => {
  const page = await openPage(browser, `${server.url}/`);
  await page.fill('#stream-count', '500');
  await page.click('#stream-start');
  await page.waitForSelector('#stream-status .error');
  assert.equal(await page.textContent('#stream-status .error-code'), 'INVALID_ARGUMENT');
  assert.equal(
    await page.textContent('#stream-status .error-message'),
    'count: must be between 1 and 100, got 500',
  );
  // The google.rpc.BadRequest detail names the field (decoded once its chunk is there).
  await page.waitForSelector('#stream-status .error-details li');
  assert.deepEqual(
    await page.$$eval('#stream-status .error-details li', (items) => items.map((li) => li.textContent)),
    ['field count: must be between 1 and 100, got 500'],
  );
});

test('metadata in and out: the request id the page sends comes back', async () => {
  const page = await openPage(browser, `${server.url}/`);
  await page.fill('#hello-request-id', 'page-42');
  await page.click('#hello-send');
  await page.waitForSelector('#hello-reply-id');
  assert.equal(await page.textContent('#hello-reply-id'), 'page-42');

  await page.fill('#hello-request-id', '');
  await page.click('#hello-send');
  await page.waitForFunction(() => document.querySelector('#hello-reply-id')?.textContent !== 'page-42');
  assert.match(await page.textContent('#hello-reply-id'), /^[0-9a-f-]{36}$/, 'the server made one');
  // The server logged the page's call under that id, with the page's user agent header.
  await server.waitForLog(
    /access: call method=\/Greeter\/SayHello code=OK .*request_id=page-42 agent=grpc-browser-web\//,
  );
});

test('SayHello over the socket: the inspector shows the call, its metadata and messages', async () => {
  const page = await openPage(browser, `${server.url}/`);
  const sockets = [];
  page.on('websocket', (socket) => sockets.push(socket.url()));
  await page.fill('#hello-name', 'Ada');
  await page.click('#hello-send');
  await page.waitForSelector('#hello-reply');
  assert.equal(await page.textContent('#hello-reply'), 'Hello, Ada!');
  const [call] = await inspectedCalls(page);
  assert.deepEqual([call.method, call.transport, call.mode, call.status],
    ['/Greeter/SayHello', 'socket', 'unary', 'OK']);
  assert.match(call.counts, /↑1 .*↓1 /);
  // Opened: the metadata both ways and each message with its size.
  await page.click('#inspector-calls .call summary');
  const details = await page.textContent('#inspector-calls .call');
  assert.match(details, /grpc-timeout: 10000000u|grpc-timeout: \d+[mSu]/, 'the deadline went out');
  assert.match(details, /x-user-agent: grpc-browser-web\//);
  assert.match(details, /x-request-id: [0-9a-f-]{36}/, 'the answer headers came back');
  assert.match(details, /grpc-encoding: gzip/);
  assert.equal(await page.$$eval('#inspector-calls .call .call-messages li', (items) => items.length), 2);
  assert.equal(sockets.length, 1);
  await server.waitForLog(/access: call method=\/Greeter\/SayHello code=OK .*transport=grpc-ws/);
  assert.deepEqual(page.pageErrors, []);
});

test('SayHelloToAll streams each name as it is sent; Finish brings the summary', async () => {
  const page = await openPage(browser, `${server.url}/`);
  for (const [n, name] of ['Ada', 'Grace'].entries()) {
    await page.fill('#all-name', name);
    await page.press('#all-name', 'Enter');
    await page.waitForSelector(`#all-sent:has-text("${n + 1} name")`);
  }
  await page.fill('#all-names', 'Ada\n\nAlan\nEdsger');
  await page.click('#all-send');
  await page.waitForSelector('#all-sent:has-text("5 names sent on the open stream")');
  // Still open, and the five messages have left the page: the inspector counts what the
  // transport took (5 names), nothing back yet.
  const [open] = await inspectedCalls(page);
  assert.deepEqual([open.method, open.transport, open.mode, open.status],
    ['/Greeter/SayHelloToAll', 'socket', 'client streaming', 'open']);
  await page.waitForFunction(() => /↑5 .*↓0 /.test(document.querySelector('#inspector-calls .call .call-counts').textContent));
  assert.equal(await page.$('#all-reply'), null, 'no summary before the end');
  await page.click('#all-finish');
  await page.waitForSelector('#all-reply');
  assert.equal(await page.textContent('#all-reply'), 'Hello, Ada, Grace and 2 others!');
  assert.equal(await page.textContent('#all-counts'), '5 names, 4 different');
  assert.equal((await inspectedCalls(page))[0].status, 'OK');
  assert.deepEqual(page.pageErrors, []);
});

test('behind a proxy that refuses WebSockets: unary and server streams go over fetch, streams say why', async () => {
  const proxy = await startHttpProxy(server.url, { upgrades: false });
  try {
    const page = await openPage(browser, `${proxy.url}/`);
    await page.fill('#hello-name', 'Ada');
    await page.click('#hello-send');
    await page.waitForSelector('#hello-reply');
    assert.equal(await page.textContent('#hello-reply'), 'Hello, Ada!');
    await page.fill('#stream-count', '2');
    await page.fill('#stream-interval', '0');
    await page.click('#stream-start');
    await page.waitForSelector('#stream-status:has-text("Finished: 2 greetings.")');
    const calls = await inspectedCalls(page);
    assert.deepEqual(calls.map((call) => [call.method, call.transport, call.status]), [
      ['/Greeter/SayHelloStream', 'fetch', 'OK'],
      ['/Greeter/SayHello', 'fetch', 'OK'],
    ]);
    // Bidi cannot go over fetch: refused at once, saying why.
    await page.fill('#converse-name', 'Grace');
    await page.click('#converse-send');
    await page.waitForSelector('#converse .error');
    assert.equal(await page.textContent('#converse .error-code'), 'UNAVAILABLE');
    assert.match(await page.textContent('#converse .error-message'), /needs the grpc-ws socket/);
    assert.ok(proxy.refusedUpgrades() >= 1, 'the proxy refused the socket');
    assert.deepEqual(page.pageErrors, []);
  } finally {
    await proxy.close();
  }
});

test('the page runs under a Content-Security-Policy that blocks injected scripts', async () => {
  const page = await openPage(browser, `${server.url}/`);
  await page.waitForSelector('#hello-send');
  // The app itself started (its bootstrap is allowed by hash, its wasm by 'wasm-unsafe-eval').
  assert.deepEqual(page.pageErrors, []);
  await page.addScriptTag({ content: 'window.injected = true;' }).catch(() => {});
  assert.equal(await page.evaluate(() => window.injected), undefined, 'an inline script was blocked');
  assert.ok(page.pageErrors.some((error) => /Content Security Policy/i.test(error.message)),
    'the browser reported the violation');
});

test('Converse over grpc-ws: each answer arrives before the next name is sent', async () => {
  const page = await openPage(browser, `${server.url}/`);
  const sockets = [];
  page.on('websocket', (socket) => sockets.push(socket.url()));
  for (const [n, name] of ['Ada', 'Grace', 'Linus'].entries()) {
    await page.fill('#converse-name', name);
    await page.click('#converse-send');
    // The answer to this name shows while the call is still open, before the next name.
    await page.waitForFunction((count) => document.querySelectorAll('#converse-replies li').length === count, n + 1);
    assert.match(await page.textContent(`#converse-replies li:nth-child(${n + 1})`), new RegExp(name));
    assert.match(await page.textContent('#converse-status'), /Open/);
  }
  await page.click('#converse-end');
  await page.waitForSelector('#converse-status:has-text("Finished")');
  assert.equal(sockets.length, 1, `one socket: ${sockets}`);
  assert.match(sockets[0], /\/grpc-ws$/);
  await server.waitForLog(/access: call method=\/Greeter\/Converse code=OK/);
  assert.deepEqual(page.pageErrors, []);
});

test('a socket killed mid-call fails that call with UNAVAILABLE; the next call opens a new socket', async () => {
  // Its own server behind a TCP proxy, so the page keeps its origin across the restart.
  let own = await startServer();
  const proxy = await startProxy(own.url);
  try {
    const page = await openPage(browser, `${proxy.url}/`);
    const sockets = [];
    page.on('websocket', (socket) => sockets.push(socket.url()));
    await page.fill('#converse-name', 'Ada');
    await page.click('#converse-send');
    await page.waitForSelector('#converse-replies li');
    assert.match(await page.textContent('#converse-status'), /Open/);
    await own.kill();
    await page.waitForSelector('#converse .error');
    assert.equal(await page.textContent('#converse .error-code'), 'UNAVAILABLE');

    own = await startServer();
    proxy.retarget(own.url);
    await page.fill('#converse-name', 'Grace');
    await page.click('#converse-send');
    await page.waitForSelector('#converse-replies li:has-text("Grace")');
    assert.equal(sockets.length, 2, `a new socket after the broken one: ${sockets}`);
    assert.deepEqual(page.pageErrors, []);
  } finally {
    await proxy.close();
    await own.stop();
  }
});
