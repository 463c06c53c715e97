// The browser's side of grpc-ws, measured in headless Chromium against the release server
// (one run, figures for BENCHMARKS.md): the Interop page's Measure (500 sequential round
// trips: one bidi call over the socket, unary calls over the socket and over gRPC-Web
// fetch; client streams of 20,000 small messages and of 100 MiB in 128 KiB messages), then
// a 100 MiB upload from the Files page against the CLI's upload of the same file.
//
// The page is driven over the DevTools protocol without its Network domain (bench/cdp.mjs):
// with it on, as Playwright has it, Chromium copies every socket frame to the driver.
// `DRIVER=playwright` measures the same through Playwright, to show that cost.
//
//   cargo xtask frontend && cargo build --release -p server -p cli --features server/embed-frontend
//   node --experimental-websocket bench/browser.mjs
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchBrowser, openPage, startServer } from '../e2e/harness.mjs';
import { launchBare } from './cdp.mjs';

/** The few page actions this script needs, through either driver. */
async function driver() {
  const KEEP_EXPORTS = `addEventListener('TrunkApplicationStarted', (event) => { window.wasmExports = event.detail.wasm; });`;
  if (process.env.DRIVER === 'playwright') {
    const browser = await launchBrowser();
    return {
      name: 'Playwright (Network domain on)',
      async open(url) {
        const page = await openPage(browser, url);
        return {
          click: (selector) => page.click(selector),
          // As functions: the page's CSP refuses strings evaluated as code.
          waitFor: (expression, timeout) => page.waitForFunction(new Function(`return ${expression}`), null, { timeout }),
          evaluate: (expression) => page.evaluate(new Function(`return ${expression}`)),
          setInputFiles: (selector, files) => page.setInputFiles(selector, files),
        };
      },
      close: () => browser.close(),
    };
  }
  const browser = await launchBare();
  return {
    name: 'bare DevTools protocol (Runtime, DOM, Page)',
    open: (url) => browser.open(url, { before: KEEP_EXPORTS }),
    close: () => browser.close(),
  };
}

const MIB = 100;
const dir = mkdtempSync(join(tmpdir(), 'bench-browser-'));
const server = await startServer({ args: ['--upload-max-mib', '256'] });
const browser = await driver();
console.log(`driver: ${browser.name}`);
try {
  const page = await browser.open(`${server.url}/interop`);
  await page.waitFor(`document.querySelector('#measure-run')`);
  await page.click('#measure-run');
  await page.waitFor(`document.querySelector('#measure-state')?.textContent.includes('Done')`, 600_000);
  const rows = await page.evaluate(`[...document.querySelectorAll('#measure-results tr')].map((r) => r.textContent)`);
  for (const row of rows) {
    console.log(row.replace(/(\))p50/, '$1: p50').replace(/(\))(\d)/, '$1: $2'));
  }

  const file = join(dir, 'upload.bin');
  const block = Buffer.alloc(1024 * 1024);
  const blocks = [];
  for (let i = 0; i < MIB; i += 1) { block.fill(i % 251); blocks.push(Buffer.from(block)); }
  writeFileSync(file, Buffer.concat(blocks));
  const files = await browser.open(`${server.url}/files`);
  await files.waitFor(`document.querySelector('#file-list, #no-files')`);
  const memory = () => files.evaluate('window.wasmExports.memory.buffer.byteLength');
  const before = await memory();
  await files.setInputFiles('#file-input', [file]);
  let started = Date.now();
  await files.click('#file-upload');
  await files.waitFor(`document.querySelector('#upload-sha256')`, 600_000);
  const page_seconds = (Date.now() - started) / 1000;
  console.log(`upload ${MIB} MiB from the page (socket): ${(MIB / page_seconds).toFixed(1)} MiB/s; wasm memory ${(before / 2 ** 20).toFixed(1)} -> ${(await memory() / 2 ** 20).toFixed(1)} MiB`);

  const renamed = join(dir, 'cli.bin');
  writeFileSync(renamed, Buffer.concat(blocks));
  started = Date.now();
  execFileSync(process.env.CLIENT_BIN ?? 'target/release/client',
    ['--server', server.url, 'files', 'upload', renamed], { stdio: 'ignore' });
  const cli_seconds = (Date.now() - started) / 1000;
  console.log(`upload ${MIB} MiB from the CLI (HTTP/2): ${(MIB / cli_seconds).toFixed(1)} MiB/s`);
} finally {
  await browser.close();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
