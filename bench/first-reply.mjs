// How soon a new visitor sees the first SayHello reply: headless Chromium, cold cache (a
// new, empty browser profile each run; the cache on, as a visitor's is, so what the page
// fetched or prefetched during the visit is reused), the Greeter page loaded from the release
// server with its default flags; a script in the page clicks "Say hello" the moment the
// button is there and notes when the reply shows. Times are from navigation start
// (`performance.now()` in the page). Then the Weather link is clicked, and the time until
// that page shows is noted: its code is chunks of the app fetched then (frontend/src/lazy.rs),
// so this is what a visitor's first change of page costs. With READ_MS the script waits
// that long after the reply before the click, as a visitor who reads the page first does
// (the page fetches the chunks into the cache once it has been idle). With HOVER_MS the
// pointer rests on the link that long before the click (the page starts fetching that
// page's chunks when it does). Each network profile, five runs,
// medians printed.
//
// Profiles: loopback as is, and Chromium DevTools' "Fast 3G" as the issue gives it:
// 1.6 Mbit/s down, 750 kbit/s up, 150 ms round trip (Network.emulateNetworkConditions).
// The Network domain is on for that; no socket throughput is measured here.
//
//   cargo xtask frontend && cargo build --release -p server --features server/embed-frontend
//   node --experimental-websocket bench/first-reply.mjs
import { startServer } from '../e2e/harness.mjs';
import { launchBare } from './cdp.mjs';

const RUNS = Number(process.env.RUNS ?? 5);
const READ_MS = Number(process.env.READ_MS ?? 0);
const HOVER_MS = Number(process.env.HOVER_MS ?? 0);
const PROFILES = {
  loopback: null,
  'Fast 3G': {
    offline: false,
    latency: 150,
    downloadThroughput: (1.6 * 1024 * 1024) / 8,
    uploadThroughput: (750 * 1024) / 8,
  },
};

// In the page, before its own scripts: click as soon as the button can be clicked, note
// when the first render, the click and the reply happened.
const WATCH = `(() => {
  if (location.pathname !== '/') return;
  const marks = (window.firstReply = {});
  const observer = new MutationObserver(() => {
    if (!marks.render && document.querySelector('.topbar')) marks.render = performance.now();
    const button = document.querySelector('#hello-send');
    if (!marks.click && button && !button.disabled) { marks.click = performance.now(); button.click(); }
    if (!marks.reply && document.querySelector('#hello-reply')) {
      marks.reply = performance.now();
      observer.disconnect();
    }
  });
  observer.observe(document, { childList: true, subtree: true, attributes: true });
})();`;

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

const server = await startServer();
try {
  for (const [profile, conditions] of Object.entries(PROFILES)) {
    const runs = [];
    for (let run = 0; run < RUNS; run += 1) {
      const browser = await launchBare();
      try {
        const page = await browser.open(`${server.url}/`, {
          before: WATCH,
          async setup(tab) {
            await tab.send('Network.enable');
            if (conditions) await tab.send('Network.emulateNetworkConditions', conditions);
          },
        });
        await page.waitFor(`window.firstReply?.reply`, 60_000);
        const marks = await page.evaluate(`({
          ...window.firstReply,
          reply_text: document.querySelector('#hello-reply').textContent,
          transferred: performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))
            .reduce((sum, entry) => sum + entry.transferSize, 0),
        })`);
        if (marks.reply_text !== 'Hello, World!') throw new Error(`unexpected reply ${marks.reply_text}`);
        await new Promise((done) => setTimeout(done, READ_MS));
        await page.evaluate(`(() => {
          window.pageChange = { start: performance.now() };
          const observer = new MutationObserver(() => {
            if (document.querySelector('main h1')?.textContent === 'Weather' && document.querySelector('#city-search') && !window.pageChange.shown) {
              window.pageChange.shown = performance.now() - window.pageChange.start;
              observer.disconnect();
            }
          });
          observer.observe(document, { childList: true, subtree: true });
          const link = document.querySelector('nav a[href="/weather"]');
          link.dispatchEvent(new PointerEvent('pointerenter'));
          setTimeout(() => { window.pageChange.start = performance.now(); link.click(); }, ${HOVER_MS});
        })()`);
        await page.waitFor(`window.pageChange?.shown`, 60_000);
        marks.weather = await page.evaluate(`window.pageChange.shown`);
        runs.push(marks);
        console.log(`${profile} run ${run + 1}: render ${marks.render.toFixed(0)} ms, click ${marks.click.toFixed(0)} ms, reply ${marks.reply.toFixed(0)} ms, ${marks.transferred} B transferred; Weather shown ${marks.weather.toFixed(0)} ms after its click`);
      } finally {
        await browser.close();
      }
    }
    const of = (key) => median(runs.map((marks) => marks[key])).toFixed(0);
    console.log(`${profile}, median of ${RUNS}: first render ${of('render')} ms, button ${of('click')} ms, first reply ${of('reply')} ms, ${of('transferred')} B transferred; Weather shown ${of('weather')} ms after its click`);
  }
} finally {
  await server.stop();
}
