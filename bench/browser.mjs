// The browser's side of grpc-ws, measured in headless Chromium against the release server
// (one run, figures for BENCHMARKS.md): the Interop page's Measure (500 sequential round
// trips: one bidi call over the socket, unary calls over the socket and over gRPC-Web
// fetch; a client stream of 20,000 small messages), then a 100 MiB upload from the Files
// page against the CLI's upload of the same file.
//
//   cargo xtask frontend && cargo build --release -p server -p cli --features server/embed-frontend
//   node bench/browser.mjs
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchBrowser, openPage, startServer } from '../e2e/harness.mjs';

const MIB = 100;
const dir = mkdtempSync(join(tmpdir(), 'bench-browser-'));
const server = await startServer({ args: ['--upload-max-mib', '256'] });
const browser = await launchBrowser();
try {
  const page = await openPage(browser, `${server.url}/interop`);
  await page.click('#measure-run');
  await page.waitForSelector('#measure-state:has-text("Done")', { timeout: 300_000 });
  for (const row of await page.$$eval('#measure-results tr', (rows) => rows.map((r) => r.textContent))) {
    console.log(row.replace(/(\))p50/, '$1: p50').replace(/(\))(\d)/, '$1: $2'));
  }

  const file = join(dir, 'upload.bin');
  const block = Buffer.alloc(1024 * 1024);
  const blocks = [];
  for (let i = 0; i < MIB; i += 1) { block.fill(i % 251); blocks.push(Buffer.from(block)); }
  writeFileSync(file, Buffer.concat(blocks));
  const files = await openPage(browser, `${server.url}/files`);
  await files.waitForSelector('#file-list, #no-files');
  const memory = () => files.evaluate(() => window.wasmExports.memory.buffer.byteLength);
  const before = await memory();
  await files.setInputFiles('#file-input', file);
  let started = Date.now();
  await files.click('#file-upload');
  await files.waitForSelector('#upload-sha256', { timeout: 600_000 });
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
