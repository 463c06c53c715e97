// The Chat page in headless Chromium, against a server started with an access token. Over
// the page's socket the room is one Join call (history, live messages and posts on one
// stream); over gRPC-Web fetch (the tests that watch the HTTP exchange) it is Subscribe and
// Post. Posting without the token, with a wrong one, and with the right one (saved in the
// page, added by its interceptor); messages reaching another open page live; the token kept
// across reloads; a restart and a reconnect that resumes with exactly what was missed.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  inspectedCalls, launchBrowser, nextCall, openPage, startProxy, startServer,
} from './harness.mjs';

const TOKEN = 'e2e-chat-token-1234';
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

/** Sends `text` over gRPC-Web: the Post call, as the browser saw it. */
async function send(page, text) {
  await page.fill('#chat-text', text);
  const call = nextCall(page, '/chat.v1.ChatService/Post');
  await page.click('#chat-send');
  return call;
}

/** Sends `text` however the page does (on its Join, or as a Post). */
async function say(page, text) {
  await page.fill('#chat-text', text);
  await page.click('#chat-send');
}

async function saveToken(page, token) {
  await page.fill('#token-input', token);
  await page.click('#token-save');
  await page.waitForSelector('#token-status:has-text("A token is saved")');
}

const messageTexts = (page) =>
  page.$$eval('#chat-messages .message', (items) => items.map((li) =>
    `${li.querySelector('.author').textContent}: ${li.querySelector('.text').textContent}`));

test('over fetch: posting needs the token; with it the message reaches every open page', async () => {
  const context = await browser.newContext();
  const alice = await openPage(context, `${server.url}/chat?room=e2e-auth`, { transport: 'fetch' });
  await alice.waitForSelector('#room-status:has-text("connected")');
  await alice.fill('#chat-author', 'alice');

  // No token: the server refuses, the page says which code and what to do.
  await send(alice, 'first try');
  await alice.waitForSelector('#post-result .error');
  assert.equal(await alice.textContent('#post-result .error-code'), 'UNAUTHENTICATED');
  assert.match(await alice.textContent('#post-result'), /Save the server's access token/);

  // A wrong token: refused differently.
  await saveToken(alice, 'not-the-token');
  const refused = await send(alice, 'second try');
  assert.equal((await refused).request().headers().authorization, 'Bearer not-the-token',
    'the interceptor sent the saved token');
  await alice.waitForSelector('#post-result .error-code:has-text("PERMISSION_DENIED")');

  // Another reader of the room, in a separate browser context (no token: reading is open).
  const bob = await openPage(browser, `${server.url}/chat?room=e2e-auth`, { transport: 'fetch' });
  await bob.waitForSelector('#room-status:has-text("connected")');

  await saveToken(alice, TOKEN);
  await send(alice, 'hello, room');
  await alice.waitForSelector('#chat-messages .message');
  await bob.waitForSelector('#chat-messages .message');
  assert.deepEqual(await messageTexts(alice), ['alice: hello, room']);
  assert.deepEqual(await messageTexts(bob), ['alice: hello, room'], 'only the accepted post');
  assert.equal(await alice.$('#post-result .error'), null, 'the earlier error is gone');
  assert.equal(await alice.inputValue('#chat-text'), '', 'the box is cleared for the next one');

  // Reloaded: the token and the name are remembered, the room's history comes back.
  await alice.reload();
  await alice.waitForSelector('#chat-messages .message');
  assert.match(await alice.textContent('#token-status'), /A token is saved/);
  assert.equal(await alice.inputValue('#chat-author'), 'alice');
  await send(alice, 'still here');
  await bob.waitForFunction(() => document.querySelectorAll('#chat-messages .message').length === 2);
  assert.deepEqual(await messageTexts(bob), ['alice: hello, room', 'alice: still here']);

  // Forgotten: refused again.
  await alice.click('#token-forget');
  await send(alice, 'after forgetting');
  await alice.waitForSelector('#post-result .error-code:has-text("UNAUTHENTICATED")');
  assert.deepEqual(alice.pageErrors, []);
  assert.deepEqual(bob.pageErrors, []);
  await context.close();
});

test('over fetch: bad input and rooms: the server names the field; another room is another stream', async () => {
  const context = await browser.newContext();
  const page = await openPage(context, `${server.url}/chat?room=e2e-rooms`, { transport: 'fetch' });
  await saveToken(page, TOKEN);
  await send(page, '   ');
  await page.waitForSelector('#post-result .error');
  assert.equal(await page.textContent('#post-result .error-code'), 'INVALID_ARGUMENT');
  assert.equal(await page.textContent('#post-result .error-message'), 'text: must not be empty');

  await send(page, 'in the first room');
  await page.waitForSelector('#chat-messages .message');

  // Entering a room changes the URL and the subscription.
  const subscribed = nextCall(page, '/chat.v1.ChatService/Subscribe');
  await page.fill('#room-input', 'e2e-other');
  await page.click('#room-go');
  await subscribed;
  await page.waitForSelector('.empty-room');
  assert.equal(new URL(page.url()).searchParams.get('room'), 'e2e-other');
  assert.equal(await page.$$eval('#chat-messages .message', (items) => items.length), 0);

  // A room name the server refuses shows its error where the room would be.
  await page.fill('#room-input', 'Not A Room');
  await page.click('#room-go');
  await page.waitForSelector('.chat .error');
  assert.equal(await page.textContent('.chat .error-code'), 'INVALID_ARGUMENT');
  assert.match(await page.textContent('.chat .error-message'), /^room: /);
  assert.deepEqual(page.pageErrors, []);
  await context.close();
});

test('over the socket the room is one Join call: history, live messages and posts', async () => {
  const context = await browser.newContext();
  const alice = await openPage(context, `${server.url}/chat?room=e2e-join`);
  // No token yet: the server refuses Join (it posts), and the page reads over Subscribe.
  await alice.waitForSelector('#room-status:has-text("connected")');
  assert.match(await alice.textContent('#room-way'), /Reading only/);
  await saveToken(alice, TOKEN);
  await alice.fill('#chat-author', 'alice');
  await say(alice, 'first on the join');
  await alice.waitForSelector('#chat-messages .message:has-text("first on the join")');
  assert.match(await alice.textContent('#room-way'), /Joined/);

  // A second member, joined too (same browser context: the token is saved there).
  const bob = await openPage(context, `${server.url}/chat?room=e2e-join`);
  await bob.waitForSelector('#chat-messages .message:has-text("first on the join")');
  assert.match(await bob.textContent('#room-way'), /Joined/);
  await bob.fill('#chat-author', 'bob');
  await say(bob, 'hello alice');
  await say(alice, 'hello bob');
  for (const page of [alice, bob]) {
    await page.waitForFunction(() => document.querySelectorAll('#chat-messages .message').length === 3);
    assert.deepEqual(await messageTexts(page),
      ['alice: first on the join', 'bob: hello alice', 'alice: hello bob']);
  }
  // Bob's page made no Post: it joined (as the name saved in this browser, alice), joined
  // again as bob when he changed the name, and that Join carried his text; one socket.
  const calls = (await inspectedCalls(bob)).filter((call) => call.method.startsWith('/chat.'));
  assert.deepEqual(calls.map((call) => [call.method, call.transport, call.mode, call.status]), [
    ['/chat.v1.ChatService/Join', 'socket', 'bidi', 'open'],
    ['/chat.v1.ChatService/Join', 'socket', 'bidi', 'CANCELLED'],
  ]);
  assert.match(calls[0].counts, /^↑2 /);

  // A text the room refuses: said by the box, given back, and the room goes on.
  await say(alice, ' '.repeat(3));
  await alice.waitForSelector('#post-result .error');
  assert.equal(await alice.textContent('#post-result .error-code'), 'INVALID_ARGUMENT');
  assert.match(await alice.textContent('#post-result .error-message'), /^text: must not be empty/);
  await alice.waitForSelector('#room-status:has-text("connected")');
  await say(alice, 'still here');
  await bob.waitForSelector('#chat-messages .message:has-text("still here")');
  assert.equal(await alice.$('#post-result .error'), null, 'the error goes with the next post');
  await alice.waitForFunction(() => document.querySelectorAll('#chat-messages .message').length === 4);

  // Forgetting the token ends the Join (it carried the token): reading only, posting refused.
  await alice.click('#token-forget');
  await alice.waitForSelector('#room-way:has-text("Reading only")');
  await say(alice, 'after forgetting');
  await alice.waitForSelector('#post-result .error-code:has-text("UNAUTHENTICATED")');
  assert.deepEqual(alice.pageErrors, []);
  assert.deepEqual(bob.pageErrors, []);
  await context.close();
});

for (const transport of ['fetch', 'socket']) test(`over ${transport}: history survives a server restart, and a reconnect resumes with exactly what was missed`, async () => {
  // Its own server behind a proxy, so the page keeps its origin when the server is replaced,
  // and its own data directory, kept across the restart.
  const data = await mkdtemp(join(tmpdir(), 'e2e-chat-data-'));
  let own = await startServer({ args: ['--auth-token', TOKEN], dataDir: data });
  const proxy = await startProxy(own.url);
  const context = await browser.newContext();
  try {
    const page = await openPage(context, `${proxy.url}/chat?room=e2e-reconnect`, { transport });
    await page.waitForSelector('#room-status:has-text("connected")');
    await page.fill('#chat-author', 'alice');
    await saveToken(page, TOKEN);
    await say(page, 'before the restart');
    await page.waitForSelector('#chat-messages .message:has-text("before the restart")');

    // The server drains: the room's stream ends with UNAVAILABLE, shown with a way back.
    await own.stop();
    await page.waitForSelector('#room-reconnect');
    assert.equal(await page.textContent('.chat .error-code'), 'UNAVAILABLE');

    own = await startServer({ args: ['--auth-token', TOKEN], dataDir: data });
    proxy.retarget(own.url);
    // A new visitor sees the history the restarted server kept, and posts while the first
    // page is still disconnected.
    const other = await openPage(context, `${proxy.url}/chat?room=e2e-reconnect`, { transport });
    await other.waitForSelector('#chat-messages .message:has-text("before the restart")');
    await other.fill('#chat-author', 'bob');
    await say(other, 'while you were away');
    await other.waitForSelector('#chat-messages .message:has-text("while you were away")');

    const resumed = transport === 'fetch' ? nextCall(page, '/chat.v1.ChatService/Subscribe') : null;
    await page.click('#room-reconnect');
    await page.waitForSelector('#room-status:has-text("connected")');
    await resumed;
    if (transport === 'socket') assert.match(await page.textContent('#room-way'), /Joined/);
    await page.waitForSelector('#chat-messages .message:has-text("while you were away")');
    assert.equal(await page.$('.chat .error'), null, 'the error is gone');
    // Each message once, in order: what was shown stayed, what was missed came.
    assert.deepEqual(await messageTexts(page),
      ['alice: before the restart', 'bob: while you were away']);
    assert.deepEqual(await page.$$eval('#chat-messages .message', (items) =>
      items.map((li) => li.dataset.id)), ['1', '2']);
    assert.deepEqual(page.pageErrors, []);
    assert.deepEqual(other.pageErrors, []);
  } finally {
    await context.close();
    await proxy.close();
    await own.stop();
    await rm(data, { recursive: true, force: true });
  }
});
