// Shared by the browser tests: start the release server on 127.0.0.1:0 serving the built
// web app, and a headless Debian Chromium. Everything started here is stopped by `stop()`,
// and the server is also killed if the test process exits early.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer as createHttpServer, request as httpRequest } from 'node:http';
import { createConnection, createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

import { join, resolve as resolvePath } from 'node:path';

const SERVER_BIN = resolvePath(process.env.SERVER_BIN ?? 'target/release/server');
export const DIST_DIR = process.env.DIST_DIR ?? 'dist';
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

/**
 * Starts the server; `args` are extra flags, e.g. `['--auth-token', 'x']`. With `tls`, the
 * flags must set up TLS and `url` is https://. `drainDelay` is 0 unless a test is about
 * draining, so stopping a server does not wait for balancers that are not there. Its
 * database (SQLite) is in `dataDir`: a new temporary directory, removed when the server
 * stops, unless the test names one (to restart a server on the same data, say).
 */
export async function startServer({
  liveInterval = '300ms', drainDelay = '0s', args = [], tls = false, staticDir = DIST_DIR,
  cwd = undefined, dataDir = undefined, listen = '127.0.0.1:0',
} = {}) {
  const ownDataDir = dataDir === undefined ? mkdtempSync(join(tmpdir(), 'e2e-data-')) : undefined;
  const removeOwnData = () => {
    if (ownDataDir) rmSync(ownDataDir, { recursive: true, force: true });
  };
  const child = spawn(
    SERVER_BIN,
    ['--listen', listen, '--data-dir', dataDir ?? ownDataDir,
      ...(staticDir ? ['--static-dir', staticDir] : []),
      '--live-interval', liveInterval, '--drain-delay', drainDelay, '--log', 'info,server=debug',
      ...args],
    { stdio: ['ignore', 'pipe', 'pipe'], cwd },
  );
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);

  const logs = [];
  const waiters = [];
  createInterface({ input: child.stderr }).on('line', (line) => {
    logs.push(line);
    for (const waiter of [...waiters]) {
      if (waiter.pattern.test(line)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  });

  const url = await new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`server exited early (${code}): ${logs.join('\n')}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const match = line.match(/^listening on (\S+)$/);
      if (match) resolve(`${tls ? 'https' : 'http'}://${match[1]}`);
    });
  });

  return {
    url,
    /** Resolves with the first log line (already seen or still to come) matching `pattern`. */
    waitForLog(pattern, timeoutMs = 10_000) {
      const seen = logs.find((line) => pattern.test(line));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const waiter = { pattern, resolve };
        waiters.push(waiter);
        setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error(`no server log line matched ${pattern} in ${timeoutMs} ms`));
        }, timeoutMs).unref();
      });
    },
    /** Every log line so far, for a failing test to show. */
    logText() {
      return logs.join('\n');
    },
    /** Log lines (so far) matching `pattern`. */
    countLogs(pattern) {
      return logs.filter((line) => pattern.test(line)).length;
    },
    /** Kills the process at once (no drain), as a crash would. */
    async kill() {
      process.off('exit', killOnExit);
      if (child.exitCode !== null || child.signalCode !== null) { removeOwnData(); return; }
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      removeOwnData();
    },
    /** Drains it (SIGTERM) and waits for it to exit. */
    async stop() {
      process.off('exit', killOnExit);
      if (child.exitCode !== null || child.signalCode !== null) { removeOwnData(); return; }
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
      removeOwnData();
    },
  };
}

/** Headless Chromium; `args` are extra command-line switches. */
/** Chromium's flags for this machine (its closed network refuses background connections). */
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

export async function launchBrowser({ args = [] } = {}) {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [...CHROMIUM_ARGS, ...args],
  });
}

/**
 * A fresh page that fails the test on any uncaught page error. `transport: 'fetch'` makes
 * the page use gRPC-Web over fetch (as the Calls panel's switch does) for the tests that
 * watch its HTTP requests; by default it calls over its grpc-ws socket. The page's wasm
 * exports are kept in `window.wasmExports` (for its memory size).
 */
export async function openPage(browser, url, { transport = undefined } = {}) {
  const page = await browser.newPage();
  await page.addInitScript((transport) => {
    if (transport) localStorage.setItem('transport', transport);
    addEventListener('TrunkApplicationStarted', (event) => { window.wasmExports = event.detail.wasm; });
  }, transport);
  const errors = [];
  page.on('pageerror', (error) => errors.push(error));
  // The server's Content-Security-Policy must allow everything the app does.
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy/i.test(message.text())) {
      errors.push(new Error(message.text()));
    }
  });
  page.pageErrors = errors;
  await page.goto(url);
  return page;
}

/** The next response to a gRPC call of `method` (e.g. `/Greeter/SayHello`), as the browser saw it. */
export function nextCall(page, method) {
  return page.waitForResponse((response) => new URL(response.url()).pathname === method);
}

/** Records, in the page, when each new reply appears in the stream list (`window.arrivals`). */
export async function recordArrivals(page) {
  await page.evaluate(() => {
    const list = document.querySelector('#stream-replies');
    window.arrivals = [];
    new MutationObserver(() => {
      const count = list.querySelectorAll('li').length;
      while (window.arrivals.length < count) window.arrivals.push(performance.now());
    }).observe(list, { childList: true });
  });
}

/**
 * A TCP proxy on 127.0.0.1:0 in front of `target` (an http://host:port URL), which can be
 * pointed at another target later: a page served through it keeps its origin while the
 * server behind it is restarted on a new port.
 */
export async function startProxy(target) {
  let upstream = new URL(target);
  const sockets = new Set();
  const proxy = createServer((client) => {
    const server = createConnection({ host: upstream.hostname, port: Number(upstream.port) });
    for (const socket of [client, server]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {});
    }
    client.pipe(server).pipe(client);
    client.on('close', () => server.destroy());
    server.on('close', () => client.destroy());
  });
  await new Promise((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${proxy.address().port}`,
    retarget(url) {
      upstream = new URL(url);
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => proxy.close(resolve));
    },
  };
}

/**
 * An HTTP/1.1 reverse proxy on 127.0.0.1:0 in front of `target`, streaming both ways, that
 * refuses WebSocket upgrades (403) when `upgrades` is false: what a corporate proxy that
 * blocks sockets does to the page. `refusedUpgrades()` counts the refusals.
 */
export async function startHttpProxy(target, { upgrades = true } = {}) {
  const upstream = new URL(target);
  const sockets = new Set();
  let refused = 0;
  const proxy = createHttpServer((request, response) => {
    const forwarded = httpRequest({
      host: upstream.hostname, port: Number(upstream.port), method: request.method,
      path: request.url, headers: request.headers,
    }, (answer) => {
      response.writeHead(answer.statusCode, answer.headers);
      answer.pipe(response);
    });
    forwarded.on('error', () => response.destroy());
    request.pipe(forwarded);
  });
  proxy.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  proxy.on('upgrade', (request, socket, head) => {
    if (!upgrades) {
      refused += 1;
      socket.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
      return;
    }
    const server = createConnection({ host: upstream.hostname, port: Number(upstream.port) }, () => {
      const lines = [`${request.method} ${request.url} HTTP/1.1`];
      for (let i = 0; i < request.rawHeaders.length; i += 2) {
        lines.push(`${request.rawHeaders[i]}: ${request.rawHeaders[i + 1]}`);
      }
      server.write(`${lines.join('\r\n')}\r\n\r\n`);
      server.write(head);
      socket.pipe(server).pipe(socket);
    });
    for (const end of [socket, server]) {
      sockets.add(end);
      end.on('close', () => sockets.delete(end));
      end.on('error', () => {});
    }
    socket.on('close', () => server.destroy());
    server.on('close', () => socket.destroy());
  });
  await new Promise((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${proxy.address().port}`,
    refusedUpgrades: () => refused,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => proxy.close(resolve));
    },
  };
}

/**
 * A throw-away PostgreSQL, as testkit/src/postgres.rs makes one for the Rust tests:
 * Debian's binaries, `initdb` into a temporary directory, a free loopback port, run as the
 * `postgres` user when the tests run as root. `stop()` stops it (`immediate`) and removes
 * the directory; it is also stopped if the test process exits early.
 */
export async function startPostgres() {
  const { execFileSync } = await import('node:child_process');
  const { readdirSync, existsSync, chownSync } = await import('node:fs');
  const { userInfo } = await import('node:os');
  const root = '/usr/lib/postgresql';
  const version = (existsSync(root) ? readdirSync(root) : [])
    .filter((name) => existsSync(`${root}/${name}/bin/initdb`))
    .sort((a, b) => Number(b) - Number(a))[0];
  if (!version) throw new Error('PostgreSQL is not installed: `cargo xtask test` installs it');
  const bin = process.env.PG_BIN ?? `${root}/${version}/bin`;
  const dir = mkdtempSync(join(tmpdir(), 'e2e-postgres-'));
  const asRoot = userInfo().uid === 0;
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
    chownSync(dir, uid, gid);
  }
  const run = (program, args) => (asRoot
    ? execFileSync('runuser', ['-u', 'postgres', '--', `${bin}/${program}`, ...args], { stdio: 'pipe' })
    : execFileSync(`${bin}/${program}`, args, { stdio: 'pipe' }));
  const data = join(dir, 'data');
  run('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync']);
  const port = await new Promise((resolve) => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1', () => {
      const { port: free } = probe.address();
      probe.close(() => resolve(free));
    });
  });
  run('pg_ctl', ['-D', data, '-l', join(dir, 'postgres.log'), '-w', 'start',
    '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`]);
  const stopNow = () => {
    try { run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']); } catch { /* stopped */ }
  };
  process.on('exit', stopNow);
  run('createdb', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', 'app']);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/app`,
    async stop() {
      process.off('exit', stopNow);
      stopNow();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The calls the page's inspector recorded (its panel opened if closed): method, transport,
 * mode, status and the counts of messages sent and received, newest first. The panel's
 * list is a chunk of the app loaded when first opened: it is waited for.
 */
export async function inspectedCalls(page) {
  if (!(await page.$('#inspector'))) await page.click('#inspector-toggle');
  await page.waitForSelector('#inspector-calls');
  return page.$$eval('#inspector-calls .call', (rows) => rows.map((row) => ({
    method: row.dataset.method,
    transport: row.dataset.transport,
    mode: row.dataset.mode,
    status: row.dataset.status,
    counts: row.querySelector('.call-counts')?.textContent ?? '',
  })));
}
