// A page in headless Chromium driven over the DevTools protocol with nothing but the
// Runtime, DOM and Page domains. Written by hand, for benchmarks only: Playwright enables the
// Network domain on every page it drives, and Chromium then copies every WebSocket frame
// to the driver, which slowed a page's socket uploads about 7x (BENCHMARKS.md,
// "The driver's cost"). The tests keep Playwright; what a page's socket moves is measured
// here.
//
// Needs a WebSocket in Node: Node 22 has one, Node 20 with `--experimental-websocket`.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHROMIUM, CHROMIUM_ARGS } from '../e2e/harness.mjs';

/** Starts Chromium; `open(url)` gives a page driven over its own DevTools socket. */
export async function launchBare({ args = [] } = {}) {
  if (typeof WebSocket === 'undefined') {
    throw new Error('this Node has no WebSocket: run it with node --experimental-websocket');
  }
  const profile = mkdtempSync(join(tmpdir(), 'bench-chromium-'));
  const chrome = spawn(CHROMIUM, [
    ...CHROMIUM_ARGS,
    // A tab opened over the protocol is a background tab: not throttled here.
    '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
    '--disable-backgrounding-occluded-windows',
    `--user-data-dir=${profile}`, '--remote-debugging-port=0', ...args, 'about:blank',
  ], { stdio: 'ignore' });
  const portFile = join(profile, 'DevToolsActivePort');
  const deadline = Date.now() + 30_000;
  while (!existsSync(portFile) || !readFileSync(portFile, 'utf8').includes('\n')) {
    if (Date.now() > deadline) throw new Error('Chromium did not start its DevTools server');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const port = readFileSync(portFile, 'utf8').split('\n')[0];
  return {
    /**
     * A new tab at `url`; `before` runs in every document it loads, before the page's;
     * `setup(page)` runs on the blank tab before it navigates (network conditions, say).
     */
    async open(url, { before, setup } = {}) {
      const target = await (await fetch(`http://127.0.0.1:${port}/json/new?about:blank`, { method: 'PUT' })).json();
      const page = await connect(target.webSocketDebuggerUrl);
      await page.send('Page.enable');
      if (before) await page.send('Page.addScriptToEvaluateOnNewDocument', { source: before });
      if (setup) await setup(page);
      await page.send('Page.bringToFront');
      await page.send('Page.navigate', { url });
      await page.waitFor(`location.href !== 'about:blank' && document.readyState === 'complete'`);
      return page;
    },
    async close() {
      chrome.kill();
      await new Promise((resolve) => chrome.once('exit', resolve));
      // Its helper processes may still be writing there for a moment after it exits.
      for (let attempt = 1; ; attempt += 1) {
        try {
          rmSync(profile, { recursive: true, force: true });
          break;
        } catch (error) {
          if (attempt === 50) throw error;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    },
  };
}

async function connect(address) {
  const socket = new WebSocket(address);
  await new Promise((resolve, reject) => { socket.onopen = resolve; socket.onerror = reject; });
  let next = 0;
  const pending = new Map();
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    const waiting = pending.get(message.id);
    if (!waiting) return;
    pending.delete(message.id);
    if (message.error) waiting.reject(new Error(message.error.message));
    else waiting.resolve(message.result);
  };
  const send = (method, params = {}) => new Promise((resolve, reject) => {
    next += 1;
    pending.set(next, { resolve, reject });
    socket.send(JSON.stringify({ id: next, method, params }));
  });
  const page = {
    send,
    /** The value of `expression` (awaited when it is a promise). */
    async evaluate(expression) {
      const { result, exceptionDetails } = await send('Runtime.evaluate',
        { expression, awaitPromise: true, returnByValue: true });
      if (exceptionDetails) throw new Error(exceptionDetails.exception?.description ?? exceptionDetails.text);
      return result.value;
    },
    /** Polls `expression` until it is truthy. */
    async waitFor(expression, timeout = 60_000) {
      const deadline = Date.now() + timeout;
      for (;;) {
        if (await page.evaluate(`Boolean(${expression})`)) return;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${expression}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    click: (selector) => page.evaluate(`document.querySelector(${JSON.stringify(selector)}).click()`),
    /** Gives a file input these files, as a user choosing them would. */
    async setInputFiles(selector, files) {
      const { root } = await send('DOM.getDocument');
      const { nodeId } = await send('DOM.querySelector', { nodeId: root.nodeId, selector });
      await send('DOM.setFileInputFiles', { nodeId, files });
    },
    close: () => socket.close(),
  };
  return page;
}
