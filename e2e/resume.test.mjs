// The command-line client's resumable upload against a server killed with -9 in the middle
// of it: the client (`files upload --resume`, through a TCP proxy so the server's address
// stays the same) asks the restarted server where the upload stands, sends the rest, and
// the stored file has the right digest and downloads byte for byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startProxy, startServer } from './harness.mjs';

const CLIENT_BIN = resolve(process.env.CLIENT_BIN ?? 'target/release/client');

function client(url, args) {
  const child = spawn(CLIENT_BIN, ['--server', url, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => { stdout += chunk; });
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  const done = new Promise((settle) => child.once('exit', (code) => settle({ code, stdout, stderr })));
  return { child, done, stderr: () => stderr };
}

test('an upload resumes after the server is killed mid-upload', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'e2e-resume-'));
  const data = join(dir, 'data');
  // 200 MiB: long enough (a second or two here) to be cut part-way.
  const bytes = Buffer.alloc(200 * 1024 * 1024);
  for (let i = 0; i < bytes.length; i += 4096) bytes[i] = (i / 4096) % 251;
  const file = join(dir, 'big.bin');
  await writeFile(file, bytes);
  const digest = createHash('sha256').update(bytes).digest('hex');
  const args = ['--upload-max-mib', '256'];
  let server = await startServer({ dataDir: data, args, staticDir: null });
  const proxy = await startProxy(server.url);
  try {
    const upload = client(proxy.url, ['files', 'upload', '--resume', file]);
    // Killed once the server has committed part of it (its log shows nothing until the
    // call ends, so wait until the database has grown past a few MiB).
    const { statSync } = await import('node:fs');
    const size = () => ['app.db', 'app.db-wal'].reduce((sum, name) => {
      try { return sum + statSync(join(data, name)).size; } catch { return sum; }
    }, 0);
    for (let i = 0; i < 500 && size() < 8 * 1024 * 1024; i += 1) {
      await new Promise((done) => setTimeout(done, 10));
    }
    assert.ok(size() >= 8 * 1024 * 1024, 'the upload was under way');
    await server.kill();
    server = await startServer({ dataDir: data, args, staticDir: null });
    proxy.retarget(server.url);

    const { code, stdout, stderr } = await upload.done;
    assert.equal(code, 0, stderr);
    assert.match(stderr, /resuming big\.bin at byte [1-9]\d*/);
    assert.equal(stdout.trim(), `stored big.bin (${bytes.length} bytes, sha256 ${digest})`);

    const copy = join(dir, 'copy.bin');
    const download = await client(server.url, ['files', 'download', 'big.bin', '--to', copy]).done;
    assert.equal(download.code, 0, download.stderr);
    assert.ok((await readFile(copy)).equals(bytes), 'byte for byte');
  } finally {
    await proxy.close();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
