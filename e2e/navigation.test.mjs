// The app's own router (frontend/src/route.rs) in headless Chromium: links to the app's
// pages change the page without reloading the app, the nav marks the current page, back
// and forward follow the history, the query and the post's id come from the address, a new
// page starts at the top, and links that are not the app's pages (`/openapi.json`) and
// unknown paths go where the browser would take them.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, openPage, startServer } from './harness.mjs';

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

const heading = (page) => page.textContent('main h1');
const current = (page) => page.$$eval('nav a[aria-current="page"]', (links) => links.map((a) => a.textContent));
/** Marks this load of the app: a full reload forgets the mark, an in-app change keeps it. */
const mark = (page) => page.evaluate(() => { window.sameLoad = true; });
const sameLoad = (page) => page.evaluate(() => window.sameLoad === true);

async function showsHeading(page, text) {
  await page.waitForFunction((text) => document.querySelector('main h1')?.textContent === text, text);
}

test('the nav changes the page in place, marks the current one, and back and forward follow', async () => {
  const page = await openPage(browser, `${server.url}/`);
  await showsHeading(page, 'Greeter');
  assert.deepEqual(await current(page), ['Greeter']);
  await mark(page);

  await page.click('nav a[href="/weather"]');
  await showsHeading(page, 'Weather');
  assert.equal(new URL(page.url()).pathname, '/weather');
  assert.deepEqual(await current(page), ['Weather']);

  await page.click('nav a[href="/blog"]');
  await showsHeading(page, 'Blog');
  assert.deepEqual(await current(page), ['Blog']);

  await page.goBack();
  await showsHeading(page, 'Weather');
  assert.deepEqual(await current(page), ['Weather']);
  await page.goForward();
  await showsHeading(page, 'Blog');
  await page.goBack();
  await page.goBack();
  await showsHeading(page, 'Greeter');
  assert.deepEqual(await current(page), ['Greeter']);
  assert.ok(await sameLoad(page), 'no page change reloaded the app');
  assert.deepEqual(page.pageErrors, []);
});

test('a new page starts at the top', async () => {
  const page = await openPage(browser, `${server.url}/`);
  await showsHeading(page, 'Greeter');
  await page.setViewportSize({ width: 800, height: 300 });
  await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
  assert.ok(await page.evaluate(() => window.scrollY) > 0, 'the Greeter page scrolls');
  await page.click('nav a[href="/files"]');
  await showsHeading(page, 'Files');
  assert.equal(await page.evaluate(() => window.scrollY), 0);
});

test('a room in the query is the chat room; choosing another changes the address', async () => {
  const page = await openPage(browser, `${server.url}/chat?room=${'e2e-nav'}`);
  await showsHeading(page, 'Chat');
  assert.deepEqual(await current(page), ['Chat']);
  await page.waitForFunction(() => document.querySelector('#room-input')?.value === 'e2e-nav');
  await mark(page);
  await page.fill('#room-input', 'e2e-elsewhere');
  await page.press('#room-input', 'Enter');
  await page.waitForURL((url) => url.search === '?room=e2e-elsewhere');
  await page.goBack();
  await page.waitForFunction(() => document.querySelector('#room-input')?.value === 'e2e-nav');
  assert.ok(await sameLoad(page));
});

test('an unknown path shows the not-found page, whose links stay in the app', async () => {
  const page = await openPage(browser, `${server.url}/no/such/page`);
  await showsHeading(page, 'Page not found');
  assert.deepEqual(await current(page), []);
  await mark(page);
  await page.click('main a[href="/weather"]');
  await showsHeading(page, 'Weather');
  assert.ok(await sameLoad(page));
});

test('a link to something that is not a page of the app is a real load', async () => {
  const page = await openPage(browser, `${server.url}/api`);
  await showsHeading(page, 'API');
  await mark(page);
  await Promise.all([page.waitForURL(`${server.url}/openapi.json`), page.click('a[href="/openapi.json"]')]);
  const document = JSON.parse(await page.textContent('body'));
  assert.ok(document.openapi, 'the server sent its OpenAPI document');
  assert.equal(await sameLoad(page), false);
});

// The Weather page's own chunk, and the packs of shared chunks it needs (tools/split.mjs
// names them split_weather-<hash>.wasm and chunks-<hash>.bin): either missing, the page
// says so; once they can be had, it comes, without a reload (a failed fetch is not kept).
for (const [what, blocked] of [
  ['its own chunk', /\/split_weather-[0-9a-f]{16}\.wasm$/],
  ['a pack of shared chunks', /\/chunks-[0-9a-f]{16}\.bin$/],
]) {
  test(`a page whose code (${what}) cannot be fetched says so; the app goes on, and the page comes when it can`, async () => {
    const page = await openPage(browser, `${server.url}/`);
    await showsHeading(page, 'Greeter');
    await mark(page);
    await page.route(blocked, (route) => route.abort('internetdisconnected'));
    await page.click('nav a[href="/weather"]');
    await page.waitForSelector('main .error[role="alert"]');
    assert.match(await page.textContent('main .error'), /This part of the app could not be loaded: failed to load split module/);
    assert.equal(await page.isVisible('main button:has-text("Reload")'), true);

    // The rest of the app still works.
    await page.click('nav a[href="/"]');
    await showsHeading(page, 'Greeter');
    await page.click('#hello-send');
    await page.waitForSelector('#hello-reply');

    // Once the code can be had, showing the page again fetches it: no reload needed.
    await page.unroute(blocked);
    await page.click('nav a[href="/weather"]');
    await showsHeading(page, 'Weather');
    await page.waitForSelector('#city-search');
    assert.ok(await sameLoad(page));
    assert.deepEqual(page.pageErrors, []);
  });
}

test('once the page has been idle, the other pages\' chunks are in the cache: Weather then fetches nothing', async () => {
  const page = await openPage(browser, `${server.url}/`);
  await showsHeading(page, 'Greeter');
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  const wasm = new Map();
  cdp.on('Network.requestWillBeSent', ({ requestId, request }) => {
    if (/\.(wasm|bin)$/.test(new URL(request.url).pathname)) wasm.set(requestId, { url: request.url, cached: false });
  });
  // From the memory cache (requestServedFromCache) or the disk cache (fromDiskCache).
  cdp.on('Network.requestServedFromCache', ({ requestId }) => {
    if (wasm.has(requestId)) wasm.get(requestId).cached = true;
  });
  cdp.on('Network.responseReceived', ({ requestId, response }) => {
    if (wasm.has(requestId) && response.fromDiskCache) wasm.get(requestId).cached = true;
  });
  // index.html lists every chunk for the idle fetch (tools/split.mjs); wait until each has come.
  const chunks = await page.evaluate(async () => {
    const html = await (await fetch('/', { cache: 'no-store' })).text();
    return [...html.matchAll(/"(\/[a-z_]+\d*-[0-9a-f]{16}\.(?:wasm|bin))"/g)].map((match) => match[1]);
  });
  assert.ok(chunks.some((chunk) => /^\/split_weather-/.test(chunk)), `index.html lists Weather's chunk: ${chunks}`);
  assert.ok(chunks.some((chunk) => /^\/chunks-.*\.bin$/.test(chunk)), `index.html lists the packs: ${chunks}`);
  await page.waitForFunction((chunks) => {
    const done = new Set(performance.getEntriesByType('resource')
      .filter((entry) => entry.responseEnd > 0).map((entry) => new URL(entry.name).pathname));
    return chunks.every((chunk) => done.has(chunk));
  }, chunks, { timeout: 30_000 });

  wasm.clear();
  await page.click('nav a[href="/weather"]');
  await showsHeading(page, 'Weather');
  await page.waitForSelector('#city-search');
  const fetched = [...wasm.values()];
  assert.ok(fetched.some(({ url }) => /\/split_weather-/.test(url)), 'the Weather page asked for its chunk');
  assert.deepEqual(fetched.filter(({ cached }) => !cached).map(({ url }) => url), [], 'every chunk came from the cache');
  assert.deepEqual(page.pageErrors, []);
});

test('pointing at a nav link starts fetching that page\'s code before the click', async () => {
  const page = await openPage(browser, `${server.url}/`);
  await showsHeading(page, 'Greeter');
  const requested = page.waitForRequest((request) => /\/split_chat-[0-9a-f]{16}\.wasm$/.test(request.url()), { timeout: 5_000 });
  await page.hover('nav a[href="/chat"]');
  await requested;
  assert.equal(await heading(page), 'Greeter', 'pointing at the link did not open the page');
  await page.click('nav a[href="/chat"]');
  await showsHeading(page, 'Chat');
  assert.deepEqual(page.pageErrors, []);
});
