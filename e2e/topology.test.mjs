// Behind a load balancer: Debian's nginx on loopback in front of three replicas of the
// release server, passing native gRPC (grpc_pass, HTTP/2 without TLS) on one port and the
// page with gRPC-Web (HTTP/1.1, unbuffered) on another, with deploy/nginx.conf. Calls
// spread across the replicas; once a replica is killed, or drained with SIGTERM while calls
// run through the balancer, every call still succeeds; uploads over 1 MiB and client
// streams pass; the page works through the balancer, and a page whose replica drains under
// an upload keeps the upload and goes on over a new socket to another replica.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { inspectedCalls, launchBrowser, openPage, startPostgres, startServer } from './harness.mjs';

const NGINX = process.env.NGINX ?? '/usr/sbin/nginx';
const CLIENT_BIN = resolve(process.env.CLIENT_BIN ?? 'target/release/client');
const TEMPLATE = new URL('../deploy/nginx.conf', import.meta.url);

let dir;
let replicas = [];
let comments;
let balancer;
let browser;
let database;

/** A port that was free a moment ago (nginx cannot listen on port 0 and report it). */
async function freePort() {
  const server = createServer();
  await new Promise((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address();
  await new Promise((done) => server.close(done));
  return port;
}

/** `upstream NAME { ... }` on `addresses`. */
function upstream(name, addresses) {
  return `upstream ${name} {\n${addresses
    .map((address) => `    server ${address} max_fails=1 fail_timeout=30s;`).join('\n')}\n  }`;
}

/** nginx with deploy/nginx.conf's servers, on loopback ports, retried if one was taken. */
async function startNginx(upstreams, comments) {
  const template = await readFile(TEMPLATE, 'utf8');
  for (let attempt = 1; ; attempt += 1) {
    const [grpcPort, webPort] = [await freePort(), await freePort()];
    const config = template
      .replace(/upstream replicas \{[^}]*\}/, upstream('replicas', upstreams))
      .replace(/upstream comments \{[^}]*\}/, upstream('comments', [comments]))
      .replaceAll('listen 8443', `listen 127.0.0.1:${grpcPort}`)
      .replaceAll('listen 8080', `listen 127.0.0.1:${webPort}`);
    const prefix = join(dir, `nginx-${attempt}`);
    const file = `${prefix}.conf`;
    await writeFile(file, `daemon off;\nmaster_process off;\nerror_log ${prefix}.log info;\npid ${prefix}.pid;\n`
      + config.replaceAll(' /tmp/', ` ${dir}/`));
    const child = spawn(NGINX, ['-e', `${prefix}.log`, '-c', file, '-p', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
    const killOnExit = () => child.kill('SIGKILL');
    process.on('exit', killOnExit);
    const exited = new Promise((done) => child.once('exit', (code) => done(code)));
    const outcome = await Promise.race([exited, waitForPort(webPort).then(() => 'listening')]);
    if (outcome === 'listening') {
      return {
        grpc: `http://127.0.0.1:${grpcPort}`,
        web: `http://127.0.0.1:${webPort}`,
        async stop() {
          process.off('exit', killOnExit);
          child.kill('SIGTERM');
          await exited;
        },
      };
    }
    process.off('exit', killOnExit);
    const log = await readFile(`${prefix}.log`, 'utf8').catch(() => '');
    if (attempt >= 5 || !/Address already in use/.test(log)) throw new Error(`nginx did not start: ${log}`);
  }
}

async function waitForPort(port) {
  for (let i = 0; i < 100; i += 1) {
    const open = await new Promise((done) => {
      const socket = createConnection({ host: '127.0.0.1', port });
      socket.once('connect', () => { socket.destroy(); done(true); });
      socket.once('error', () => done(false));
    });
    if (open) return;
    await new Promise((done) => setTimeout(done, 50));
  }
  throw new Error(`nothing listened on ${port}`);
}

/** `client ARGS` through the balancer's native gRPC port, with `stdin`. */
async function client(args, stdin = '') {
  const child = spawn(CLIENT_BIN, ['--server', balancer.grpc, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => { stdout += chunk; });
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  child.stdin.end(stdin);
  const code = await new Promise((done) => child.once('exit', done));
  return { code, stdout, lines: stdout.trim().split('\n').filter(Boolean), stderr };
}

/** `client shell` through the balancer: `count` SayHello calls on one connection. */
function callThrough(count) {
  return client(['shell'], Array.from({ length: count }, (_, n) => `greeter say-hello caller-${n}\n`).join(''));
}

/** A replica (on `listen`, to take a stopped one's place behind nginx). Its grace period
 * lets an upload under way finish while it drains. */
function startReplica(listen = undefined) {
  return startServer({
    listen,
    drainDelay: '500ms',
    args: ['--shutdown-grace', '15s', '--trusted-proxies', '127.0.0.1',
      '--database-url', database.url, '--services', 'authors,posts'],
  });
}

const served = (replica) => replica.countLogs(/access: call method=\/Greeter\/SayHello code=OK/);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'e2e-topology-'));
  // Every server on one PostgreSQL; nginx on loopback is the trusted proxy; the drain
  // delay is what a balancer needs. The blog is split as in compose.yaml: the replicas run
  // authors and posts, one more server the comments, calling posts back through nginx.
  database = await startPostgres();
  for (let n = 0; n < 3; n += 1) replicas.push(await startReplica());
  const commentsAddress = `127.0.0.1:${await freePort()}`;
  balancer = await startNginx(replicas.map((replica) => new URL(replica.url).host), commentsAddress);
  comments = await startServer({
    listen: commentsAddress,
    args: ['--trusted-proxies', '127.0.0.1', '--database-url', database.url,
      '--services', 'comments', '--blog-peer', balancer.grpc],
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await balancer?.stop();
  await comments?.stop();
  for (const replica of replicas) await replica.stop();
  await database?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('the page works through the balancer, streams included', async () => {
  const page = await openPage(browser, `${balancer.web}/`);
  await page.fill('#hello-name', 'Balancer');
  await page.click('#hello-send');
  await page.waitForSelector('#hello-reply');
  assert.equal(await page.textContent('#hello-reply'), 'Hello, Balancer!');
  await page.fill('#stream-count', '3');
  await page.fill('#stream-interval', '100');
  await page.click('#stream-start');
  await page.waitForFunction(() => document.querySelector('#stream-status').textContent.includes('Finished'));
  assert.equal(await page.$$eval('#stream-replies li', (items) => items.length), 3);
  // Bidi over grpc-ws, its WebSocket upgraded by nginx.
  await page.fill('#converse-name', 'Balancer');
  await page.click('#converse-send');
  await page.waitForSelector('#converse-replies li:has-text("Balancer")');
  assert.deepEqual(page.pageErrors, []);
});

test('a message posted on one replica appears live in a page on another, and through the balancer', async () => {
  const context = await browser.newContext();
  try {
    // Each page straight on its own replica: the message must cross between them.
    const onFirst = await openPage(context, `${replicas[0].url}/chat?room=e2e-replicas`);
    const onSecond = await openPage(context, `${replicas[1].url}/chat?room=e2e-replicas`);
    const viaBalancer = await openPage(context, `${balancer.web}/chat?room=e2e-replicas`);
    for (const page of [onFirst, onSecond, viaBalancer]) {
      await page.waitForSelector('#room-status:has-text("connected")');
    }
    await onFirst.fill('#chat-author', 'alice');
    await onFirst.fill('#chat-text', 'posted on the first replica');
    await onFirst.click('#chat-send');
    await onSecond.waitForSelector('#chat-messages .message:has-text("posted on the first replica")');
    await viaBalancer.fill('#chat-author', 'bob');
    await viaBalancer.fill('#chat-text', 'posted through the balancer');
    await viaBalancer.click('#chat-send');
    for (const page of [onFirst, onSecond, viaBalancer]) {
      await page.waitForSelector('#chat-messages .message:has-text("posted through the balancer")');
      assert.deepEqual(await page.$$eval('#chat-messages .message .text', (items) =>
        items.map((item) => item.textContent)),
      ['posted on the first replica', 'posted through the balancer']);
      assert.deepEqual(page.pageErrors, []);
    }
  } finally {
    await context.close();
  }
});

test('uploads over 1 MiB and client streams pass through the balancer', async () => {
  const file = join(dir, 'three-mib.bin');
  const bytes = Buffer.alloc(3 * 1024 * 1024, 7);
  await writeFile(file, bytes);
  const upload = await client(['files', 'upload', file, '-o', 'json']);
  assert.equal(upload.code, 0, upload.stderr);
  assert.equal(JSON.parse(upload.lines.at(-1)).size, String(bytes.length));
  // Right after the upload, every replica has it: three downloads through the balancer
  // (round robin, so each from another replica) are byte-equal.
  for (let n = 0; n < 3; n += 1) {
    const copy = join(dir, `copy-${n}.bin`);
    const download = await client(['files', 'download', 'three-mib.bin', '--to', copy]);
    assert.equal(download.code, 0, download.stderr);
    assert.ok((await readFile(copy)).equals(bytes), `download ${n} byte-equal`);
  }
  const names = await client(['greeter', 'to-all'], 'Ada\nGrace\nAda\n');
  assert.equal(names.code, 0, names.stderr);
  assert.match(names.stdout, /Ada/);
  assert.match(names.stdout, /3/);
});

test('the blog runs split: comments on a server of their own, posts on the replicas, one address', async () => {
  const rest = async (method, path, body) => {
    const response = await fetch(`${balancer.web}${path}`, {
      method, headers: { 'content-type': 'application/json' }, body: body && JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, json: text ? JSON.parse(text) : null };
  };
  const author = await rest('POST', '/v1/authors', { displayName: 'Split' });
  assert.equal(author.status, 200, JSON.stringify(author.json));
  const draft = await rest('POST', '/v1/posts', { authorId: author.json.id, title: 'Split deployment' });
  const post = await rest('POST', `/v1/posts/${draft.json.id}:publish`, { etag: draft.json.etag });
  assert.equal(post.status, 200, JSON.stringify(post.json));
  const added = await rest('POST', `/v1/posts/${post.json.id}/comments`, { author: 'Ada', text: 'through nginx' });
  assert.equal(added.status, 200, JSON.stringify(added.json));
  assert.equal(added.json.id, '1', 'int64 as a string');
  const listed = await rest('GET', `/v1/posts/${post.json.id}/comments`);
  assert.deepEqual(listed.json.comments.map((comment) => comment.text), ['through nginx']);
  // The comments server answered, having asked a replica for the post through nginx.
  assert.equal(comments.countLogs(/access: call method=\/blog.v1.CommentService\/AddComment code=OK/), 1);
  assert.ok(replicas.some((replica) => replica.countLogs(/method=\/blog.v1.PostService\/GetPost code=OK/) > 0));
  const direct = await fetch(`${replicas[0].url}/v1/posts/${post.json.id}/comments`);
  assert.equal(direct.status, 404, 'the replicas do not run the comment service');
});

test('a page keeps its upload while its replica drains, and goes on over a new socket to another', async () => {
  const opened = (replica) => replica.countLogs(/grpc-ws socket opened/);
  const file = join(dir, 'drained.bin');
  const bytes = Buffer.alloc(48 * 1024 * 1024);
  for (let at = 0; at < bytes.length; at += 4096) bytes.writeUInt32BE(at, at);
  await writeFile(file, bytes);
  const before = replicas.map(opened);
  const page = await openPage(browser, `${balancer.web}/files`);
  try {
    // The page's first call (the list) opened its one socket, on one replica.
    await page.waitForSelector('#file-list, #no-files');
    const grown = replicas.map((replica, n) => opened(replica) - before[n]);
    assert.deepEqual(grown.filter((count) => count > 0), [1], `sockets opened: ${grown}`);
    const onto = grown.findIndex((count) => count > 0);
    const drained = replicas[onto];
    const listed = (replica) => replica.countLogs(/method=\/files\.v1\.FileService\/ListFiles code=OK .*transport=grpc-ws/);
    const listedBefore = replicas.map(listed);

    await page.setInputFiles('#file-input', file);
    await page.click('#file-upload');
    await page.waitForFunction(() => document.querySelector('#upload-progress')?.value > 2 * 2 ** 20);
    // SIGTERM while the upload runs: after the drain delay the replica sends GOAWAY.
    const draining = drained.stop();
    await drained.waitForLog(/shutting down: finishing running calls/);
    await page.waitForSelector('#upload-sha256, #upload-result .error', { timeout: 60_000 });
    assert.equal(await page.$('#upload-result .error'), null, await page.textContent('#upload-result'));
    assert.equal(await page.textContent('#upload-sha256'), createHash('sha256').update(bytes).digest('hex'));
    await draining;
    assert.equal(drained.countLogs(/method=\/files\.v1\.FileService\/Upload code=OK .*transport=grpc-ws/), 1,
      'the upload finished on the drained replica, on the socket it began on');

    // The list that follows the upload went over a new socket, to a replica still up.
    await page.waitForSelector('#file-list .file[data-name="drained.bin"]');
    const others = replicas.filter((replica) => replica !== drained);
    assert.ok(others.some((replica, n) => opened(replica) > before[replicas.indexOf(replica)]), 'a new socket on another replica');
    assert.ok(others.some((replica) => listed(replica) > listedBefore[replicas.indexOf(replica)]), 'listed by another replica');
    const uploads = (await inspectedCalls(page)).filter((call) => call.method === '/files.v1.FileService/Upload');
    assert.deepEqual(uploads.map((call) => [call.transport, call.status]), [['socket', 'OK']]);
    assert.deepEqual(page.pageErrors, []);
    // Back to three replicas for what follows: a new one where the drained one was.
    replicas[onto] = await startReplica(new URL(drained.url).host);
  } finally {
    await page.close();
  }
});

test('calls spread across the replicas, and none is lost when one dies or drains', async () => {
  // A replica nginx saw fail (the one drained above, whose place a new one took) stays out
  // of its rotation for `fail_timeout` (30 s), then is tried again: until then, ask again.
  let spread;
  for (const deadline = Date.now() + 45_000; ;) {
    const before = replicas.map(served);
    const first = await callThrough(30);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.lines.length, 30);
    spread = replicas.map((replica, n) => served(replica) - before[n]);
    if (spread.every((calls) => calls >= 5) || Date.now() > deadline) break;
    await new Promise((done) => setTimeout(done, 1000));
  }
  assert.ok(spread.every((calls) => calls >= 5), `every replica took a share: ${spread}`);

  // One replica crashes.
  await replicas[0].kill();
  const afterCrash = await callThrough(30);
  assert.equal(afterCrash.code, 0, afterCrash.stderr);
  assert.equal(afterCrash.lines.length, 30, 'no call lost');

  // Another is drained (SIGTERM) while calls run through the balancer: it finishes what it
  // has, stops accepting after its drain delay, and the balancer goes elsewhere.
  const base = served(replicas[1]);
  const during = callThrough(1000);
  for (let i = 0; i < 500 && served(replicas[1]) === base; i += 1) {
    await new Promise((done) => setTimeout(done, 10));
  }
  assert.ok(served(replicas[1]) > base, 'the replica was taking calls when it was drained');
  const draining = replicas[1].stop();
  const whileDraining = await during;
  await draining;
  assert.equal(whileDraining.code, 0, whileDraining.stderr);
  assert.equal(whileDraining.lines.length, 1000, 'no call lost while a replica drained');
  const lastOne = served(replicas[2]);
  const afterDrain = await callThrough(30);
  assert.equal(afterDrain.code, 0, afterDrain.stderr);
  assert.equal(afterDrain.lines.length, 30, 'no call lost');
  assert.equal(served(replicas[2]) - lastOne, 30, 'all on the replica still up');
});
