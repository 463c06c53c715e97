// The Weather page in headless Chromium: search and select a city, its current
// conditions, live updates arriving in place (and stopping on the server when switched
// off), and an unknown city's error.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, openPage, startServer } from './harness.mjs';

let server;
let browser;

before(async () => {
  server = await startServer({ liveInterval: '300ms' });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('search, select a city, see its current conditions', async () => {
  const page = await openPage(browser, `${server.url}/weather`);
  await page.waitForSelector('text=Search for a city above');
  await page.fill('#city-search', 'zur');
  await page.click('a[data-city="zurich-ch"]');

  await page.waitForSelector('#city-name');
  assert.equal(await page.textContent('#city-name'), 'Zürich');
  assert.match(page.url(), /\/weather\?city=zurich-ch$/);
  assert.match(await page.textContent('#temperature'), /^-?\d+\.\d°C$/);
  assert.match(await page.textContent('#observed-at'), /^\d\d:\d\d:\d\d$/);
  assert.ok((await page.textContent('#sky')).length > 0);
  assert.deepEqual(page.pageErrors, []);
});

test('live updates arrive in place, and switching off ends the stream on the server', async () => {
  const page = await openPage(browser, `${server.url}/weather?city=paris-fr`);
  await page.waitForSelector('#city-name');
  await page.check('#live-toggle');

  await page.waitForFunction(() => Number(document.querySelector('#live-count')?.textContent) >= 1);
  const first = await page.textContent('#observed-at');
  // Updates come every 300 ms; the clock shows seconds, so it moves on within a second or two.
  await page.waitForFunction(
    (shown) => document.querySelector('#observed-at').textContent !== shown,
    first,
  );
  assert.ok(Number(await page.textContent('#live-count')) >= 2, 'at least two updates arrived');
  assert.equal(await page.$$eval('#weather-card .conditions', (cards) => cards.length), 1, 'updated in place');

  await page.uncheck('#live-toggle');
  assert.equal(await page.textContent('#live-status'), 'off');
  // The browser aborted the fetch: the server logs the call as cancelled by the client, and
  // its producer for Paris stops.
  await server.waitForLog(/access: call method=\/weather\.v1\.WeatherService\/WatchConditions code=CANCELLED/);
  await server.waitForLog(/live feed stopped.*paris-fr/);
});

test('an unknown city shows NOT_FOUND', async () => {
  const page = await openPage(browser, `${server.url}/weather?city=atlantis`);
  await page.waitForSelector('.error');
  assert.equal(await page.textContent('.error .error-code'), 'NOT_FOUND');
  assert.equal(await page.textContent('.error .error-message'), "no city with id 'atlantis'");
  assert.equal(await page.$('#live-toggle'), null, 'no live updates for an unknown city');
});
