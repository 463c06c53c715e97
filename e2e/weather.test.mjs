// The Weather page in headless Chromium: autocomplete by mouse and keyboard, the current
// conditions card, the 48-hour chart and 7-day strip, units remembered across visits, live
// updates arriving in place (and stopping on the server when switched off), an unknown
// city's error, the dashboard's one stream recovering by itself when the server
// restarts, and a continental city in its winter showing winter.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { launchBrowser, openPage, startProxy, startServer } from './harness.mjs';

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

test('search, select a city, see its conditions, chart and days', async () => {
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

  // The chart is drawn: 48 hours of temperature line, labelled every 6 hours.
  await page.waitForSelector('#forecast-chart polyline');
  const points = await page.$eval('#forecast-chart polyline', (line) => line.getAttribute('points').trim().split(' '));
  assert.equal(points.length, 48);
  assert.ok(points.every((point) => /^\d+(\.\d)?,\d+(\.\d)?$/.test(point)), points.join(' '));
  const ticks = await page.$$eval('#forecast-chart text.tick', (texts) => texts.map((t) => t.textContent));
  assert.ok(ticks.filter((tick) => /^\d\d:00$/.test(tick)).length >= 7, ticks.join(' '));
  const days = await page.$$eval('#daily .day-name', (names) => names.map((n) => n.textContent));
  assert.equal(days.length, 7);
  assert.equal(days[0], 'Today');
  assert.deepEqual(page.pageErrors, []);
});

test('the keyboard picks a suggestion', async () => {
  const page = await openPage(browser, `${server.url}/weather`);
  await page.focus('#city-search');
  await page.keyboard.type('são p');
  await page.waitForSelector('#city-results [role="option"]');
  assert.equal(await page.getAttribute('#city-search', 'aria-expanded'), 'true');
  await page.keyboard.press('ArrowDown');
  assert.equal(await page.getAttribute('#city-search', 'aria-activedescendant'), 'city-option-0');
  assert.equal(await page.getAttribute('#city-option-0', 'aria-selected'), 'true');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#city-name');
  assert.equal(await page.textContent('#city-name'), 'São Paulo');
  assert.match(page.url(), /\?city=sao-paulo-br$/);
});

test('units switch and are remembered across visits', async () => {
  const context = await browser.newContext();
  const page = await openPage(context, `${server.url}/weather?city=oslo-no`);
  await page.waitForSelector('#temperature');
  await page.click('#units-imperial');
  assert.match(await page.textContent('#temperature'), /^-?\d+\.\d°F$/);
  assert.match(await page.textContent('#wind'), / mph /);
  await page.reload();
  await page.waitForSelector('#temperature');
  assert.match(await page.textContent('#temperature'), /°F$/, 'still °F after a reload');
  assert.equal(await page.getAttribute('#units-imperial', 'aria-pressed'), 'true');
  await page.click('#units-metric');
  assert.match(await page.textContent('#temperature'), /°C$/);
  await context.close();
});

test('live updates arrive in place, and switching off ends the stream on the server', async () => {
  const page = await openPage(browser, `${server.url}/weather?city=paris-fr`);
  await page.waitForSelector('#city-name');
  await page.check('#live-toggle');

  await page.waitForFunction(() => Number(document.querySelector('#live-count')?.textContent) >= 1);
  const first = await page.textContent('#observed-at');
  // A reading comes whenever the conditions change; the clock shows seconds.
  await page.waitForFunction(
    (shown) => document.querySelector('#observed-at').textContent !== shown,
    first,
    { timeout: 15_000 },
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
  assert.equal(await page.$('#forecast-chart'), null, 'no forecast either');
});

test('the dashboard follows several cities on one stream and recovers from a server restart', async () => {
  // Its own server, behind a proxy, so the page keeps its origin across the restart.
  let own = await startServer({ liveInterval: '300ms' });
  const proxy = await startProxy(own.url);
  const context = await browser.newContext();
  try {
    const page = await openPage(context, `${proxy.url}/weather?city=lima-pe`, { transport: 'fetch' });
    const watches = [];
    page.on('request', (request) => {
      if (new URL(request.url()).pathname === '/weather.v1.WeatherService/Watch') watches.push(request);
    });
    await page.click('#dashboard-toggle');
    await page.goto(`${proxy.url}/weather?city=oslo-no`);
    await page.click('#dashboard-toggle');
    await page.waitForSelector('#dashboard-status:has-text("live")');
    await page.waitForSelector('.tile[data-city="oslo-no"] .tile-updated');
    await page.waitForSelector('.tile[data-city="lima-pe"] .tile-updated');
    assert.equal(await page.textContent('.tile[data-city="lima-pe"] .tile-name'), 'Lima');
    // One Watch call carries both cities.
    const body = watches.at(-1).postDataBuffer().toString('latin1');
    assert.ok(body.includes('lima-pe') && body.includes('oslo-no'), 'the last Watch names both');
    const before = await page.textContent('.tile[data-city="oslo-no"] .tile-updated');

    // Remembered across visits.
    await page.reload();
    await page.waitForSelector('.tile[data-city="lima-pe"]');

    // The server goes away (its drain ends the stream with UNAVAILABLE) and comes back.
    await own.stop();
    await page.waitForSelector('#dashboard-status:has-text("reconnecting")');
    assert.ok(await page.$('.tile.stale'), 'tiles show they are not live');
    own = await startServer({ liveInterval: '300ms' });
    proxy.retarget(own.url);

    await page.waitForSelector('#dashboard-status:has-text("live")', { timeout: 30_000 });
    await page.waitForFunction(
      (shown) => document.querySelector('.tile[data-city="oslo-no"] .tile-updated')?.textContent !== shown,
      before,
      { timeout: 15_000 },
    );
    assert.equal(await page.$('.tile.stale'), null);

    // A city taken off the dashboard stays off, and the stream follows the one left.
    const resubscribed = page.waitForRequest((request) => new URL(request.url()).pathname === '/weather.v1.WeatherService/Watch');
    await page.click('.tile[data-city="lima-pe"] .remove');
    await page.waitForSelector('.tile[data-city="lima-pe"]', { state: 'detached' });
    const oslo = (await resubscribed).postDataBuffer().toString('latin1');
    assert.ok(oslo.includes('oslo-no') && !oslo.includes('lima-pe'), 'the new Watch names Oslo only');
    await page.reload();
    await page.waitForSelector('.tile[data-city="oslo-no"]');
    assert.equal(await page.$('.tile[data-city="lima-pe"]'), null, 'remembered across visits');
    assert.deepEqual(page.pageErrors, []);
  } finally {
    await context.close();
    await proxy.close();
    await own.stop();
  }
});

/**
 * Each city's normal daily high on `date`, as the model interpolates them (between the
 * middles of the months), and its warmest month's, from server/data/climate.tsv.
 */
function normalHighs(date) {
  const monthDays = 365.25 / 12;
  const start = Date.UTC(date.getUTCFullYear(), 0, 1);
  const dayOfYear = (date.getTime() - start) / 86_400_000;
  const position = (((dayOfYear - monthDays / 2) / monthDays) % 12 + 12) % 12;
  const before = Math.floor(position);
  const frac = position - before;
  const cities = [];
  const file = new URL('../server/data/climate.tsv', import.meta.url);
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.startsWith('#') || line.startsWith('id\t') || !line.trim()) continue;
    const [id, tmax] = line.split('\t');
    const highs = tmax.split(',').map(Number);
    const today = highs[before] + (highs[(before + 1) % 12] - highs[before]) * frac;
    cities.push({ id, today, warmest: Math.max(...highs) });
  }
  return cities;
}

test('a continental city in its winter shows winter on the 7-day strip and the chart', async () => {
  // The city in the deepest winter today, by a rule: of every city, the one whose normal
  // high today is furthest below its warmest month's (on any day of the year that is at
  // least 13.9 °C). In December a city of northern China or Siberia; in July one of the
  // southern hemisphere's interior.
  const city = normalHighs(new Date())
    .reduce((best, c) => (c.warmest - c.today > best.warmest - best.today ? c : best));
  assert.ok(city.warmest - city.today >= 12, `a real winter: ${JSON.stringify(city)}`);

  const page = await openPage(browser, `${server.url}/weather?city=${city.id}`);
  await page.waitForSelector('#daily .day-temps strong');
  const degrees = (text) => Number(text.replace('°', '').replace('−', '-'));
  const highs = (await page.$$eval('#daily .day-temps strong', (s) => s.map((e) => e.textContent)))
    .map(degrees);
  const lows = (await page.$$eval('#daily .day-temps .muted', (s) => s.map((e) => e.textContent)))
    .map(degrees);
  assert.equal(highs.length, 7);
  const meanHigh = highs.reduce((a, b) => a + b, 0) / highs.length;
  // The week's highs are this time of year's, far below summer's.
  assert.ok(Math.abs(meanHigh - city.today) <= 4,
    `${city.id}: the week's mean high ${meanHigh} against today's normal ${city.today.toFixed(1)} (${highs})`);
  assert.ok(meanHigh <= city.warmest - 8, `${city.id}: ${highs} against summer's ${city.warmest}`);
  assert.ok(lows.every((low, i) => low <= highs[i]), `${lows} / ${highs}`);

  // The chart's 48 hours stay in winter too.
  const label = await page.getAttribute('#forecast-chart', 'aria-label');
  const [, from, to] = label.match(/temperatures from (\S+)°C to (\S+)°C/) ?? [];
  assert.ok(from !== undefined, label);
  assert.ok(Number(to) <= city.warmest - 6, `${city.id}: ${label} against summer's ${city.warmest}`);
  assert.deepEqual(page.pageErrors, []);
});
