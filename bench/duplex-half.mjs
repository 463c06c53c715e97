// Client streaming from Chromium over TLS + HTTP/2, two ways (one run, figures for
// BENCHMARKS.md and the decision in docs/websocket-transport.md): the page's grpc-ws
// socket (RFC 8441, on the page's HTTP/2 connection) against gRPC-Web over `fetch` with a
// streamed request body (`duplex: 'half'`, which Chromium allows only over HTTP/2), both
// against the same `grpc.testing.TestService/StreamingInputCall`:
//   - 20,000 messages of 100 B, one chunk each;
//   - 100 MiB in 128 KiB messages.
// The socket's figures come from the page's own generated client (the Interop page's
// Measure); fetch's from a script in the same page writing gRPC-Web frames into a
// ReadableStream.
//
//   cargo xtask frontend && cargo build --release -p server -p cli --features server/embed-frontend
//   node bench/duplex-half.mjs
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchBrowser, openPage, startServer } from '../e2e/harness.mjs';

const dir = mkdtempSync(join(tmpdir(), 'bench-duplex-'));
const server = await startServer({ args: ['--tls-self-signed', '--tls-dir', dir], tls: true });
const certificate = new X509Certificate(readFileSync(join(dir, 'localhost.pem')));
const pin = createHash('sha256')
  .update(certificate.publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
const browser = await launchBrowser({ args: [`--ignore-certificate-errors-spki-list=${pin}`] });

/** In the page: one StreamingInputCall over fetch with a streamed body; seconds taken. */
async function fetchStream(page, count, size) {
  return page.evaluate(async ({ count, size }) => {
    // StreamingInputCallRequest { payload: Payload { body: size bytes } }, gRPC-framed.
    const varint = (n) => { const out = []; while (n > 127) { out.push((n & 127) | 128); n >>>= 7; } out.push(n); return out; };
    const body = [0x12, ...varint(size)];
    const inner = body.length + size;
    const head = [0x0a, ...varint(inner)];
    const length = head.length + inner;
    const message = new Uint8Array(5 + length);
    new DataView(message.buffer).setUint32(1, length);
    message.set(head, 5);
    message.set(body, 5 + head.length);
    let sent = 0;
    const stream = new ReadableStream({
      pull(controller) {
        if (sent === count) { controller.close(); return; }
        sent += 1;
        controller.enqueue(message.slice());
      },
    }, { highWaterMark: 4 });
    const started = performance.now();
    const response = await fetch('/grpc.testing.TestService/StreamingInputCall', {
      method: 'POST', body: stream, duplex: 'half',
      headers: { 'content-type': 'application/grpc-web+proto', 'x-grpc-web': '1' },
    });
    const answer = new Uint8Array(await response.arrayBuffer());
    const seconds = (performance.now() - started) / 1000;
    const text = new TextDecoder().decode(answer);
    if (!/grpc-status: ?0/.test(text)) throw new Error(`not OK: ${response.status} ${text}`);
    return { seconds, protocol: performance.getEntriesByType('resource').at(-1)?.nextHopProtocol };
  }, { count, size });
}

try {
  const page = await openPage(browser, `${server.url}/interop`);
  const protocol = await page.evaluate(() => performance.getEntriesByType('navigation')[0].nextHopProtocol);
  console.log(`page over ${protocol}`);

  const small = await fetchStream(page, 20_000, 100);
  console.log(`fetch duplex:'half' (${small.protocol}): 20,000 x 100 B client stream: ${(20_000 / small.seconds).toFixed(0)} msgs/s`);
  const large = await fetchStream(page, 800, 128 * 1024);
  console.log(`fetch duplex:'half' (${large.protocol}): 100 MiB in 128 KiB messages: ${(100 / large.seconds).toFixed(1)} MiB/s`);

  await page.click('#measure-run');
  await page.waitForSelector('#measure-state:has-text("Done")', { timeout: 300_000 });
  for (const row of await page.$$eval('#measure-results tr', (rows) => rows.map((r) => r.textContent))) {
    if (/client stream/.test(row)) console.log(`socket (RFC 8441 over h2): ${row.replace(/(\))(\d)/, '$1: $2')}`);
  }
  if (server.countLogs(/grpc-ws socket opened .*HTTP\/2/) === 0) throw new Error('the socket was not on HTTP/2');
} finally {
  await browser.close();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
