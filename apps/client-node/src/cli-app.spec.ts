import { describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import { closeSync, existsSync, openSync, statSync, writeSync } from 'node:fs';
import { runCli } from './cli-app.js';
import { ProgressReporter } from './progress-reporter.js';
import { sqliteFiles } from './sqlite-file.spec-support.js';

const files = sqliteFiles();
/** Nothing listens on port 9: a command that reached the network would fail differently. */
const OFFLINE = ['--server', 'http://127.0.0.1:9'];

async function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = capture();
  const err = capture();
  const code = await runCli(argv, { stdout: out.stream, stderr: err.stream, env: {} });
  return { code, stdout: out.text(), stderr: err.text() };
}

function syncTables(path: string): string[] {
  if (!existsSync(path)) return [];
  const db = new Database(path, { readonly: true });
  try {
    return (
      db.prepare("SELECT name FROM sqlite_master WHERE name LIKE '\\_sync\\_%' ESCAPE '\\'").all() as { name: string }[]
    ).map((r) => r.name);
  } finally {
    db.close();
  }
}

/** A JWT-shaped token (header.payload.signature); the CLI reads `sub` without verifying it. */
function tokenFor(sub: string): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ sub, exp: 4102444800 })}.signature`;
}

function capture(isTTY = false) {
  let text = '';
  return { stream: { isTTY, write: (chunk: string) => ((text += chunk), true) }, text: () => text };
}

// Commands against a server (and exit code 1 on failures) are in test/client/client-example.e2e-spec.ts.
describe('oversqlite CLI', () => {
  it('exits 2 on usage errors, before any network access', async () => {
    const out = capture();
    const err = capture();
    expect(await runCli(['push'], { stdout: out.stream, stderr: err.stream, env: {} })).toBe(2);
    expect(err.text()).toContain('--db <file> is required');
    expect(await runCli(['explode', '--db', 'x'], { stdout: out.stream, stderr: err.stream, env: {} })).toBe(2);
  });

  it('creates no _sync_* tables when a command fails on a missing argument', async () => {
    const { path, db } = files.open();
    db.exec('CREATE TABLE users (id TEXT PRIMARY KEY NOT NULL, name TEXT)');
    db.close();
    const result = await cli('push', '--db', path, ...OFFLINE);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--user <id> is required');
    expect(syncTables(path)).toEqual([]);
  });

  it('says a configured table is missing, exits 1 and leaves the file without _sync_* tables', async () => {
    const { path, db } = files.open();
    db.exec('CREATE TABLE notes (id TEXT PRIMARY KEY NOT NULL)');
    db.close();
    const result = await cli('status', '--db', path, '--tables', 'users', ...OFFLINE);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('oversqlite status: table users does not exist in the database\n');
    expect(syncTables(path)).toEqual([]);
  });

  it('refuses --user that differs from the token subject, before touching the database', async () => {
    const { path, db } = files.open();
    db.close();
    const result = await cli(
      'sync',
      '--db',
      path,
      '--user',
      'alice',
      '--token',
      tokenFor('bob'),
      '--example-schema',
      ...OFFLINE,
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--user alice does not match the token, which is for user bob');
    expect(syncTables(path)).toEqual([]);
  });

  it('detects a device file with random bytes in its middle: status, pull, sync and verify fail with exit 1', async () => {
    const { path, db } = files.open();
    db.close();
    expect((await cli('status', '--db', path, '--example-schema', ...OFFLINE)).code).toBe(0);
    const device = new Database(path);
    const insert = device.prepare("INSERT INTO users(id, name, email) VALUES (?, 'n', 'e@x.test')");
    device.transaction(() => {
      for (let i = 0; i < 5000; i++) insert.run(`user-${String(i).padStart(6, '0')}`);
    })();
    device.pragma('wal_checkpoint(TRUNCATE)');
    device.close();
    expect((await cli('verify', '--db', path)).stdout).toBe(`ok: ${path} passed SQLite's quick_check\n`);

    // 16 KiB of (seeded) random bytes over the middle pages
    const size = statSync(path).size;
    let seed = 42;
    const noise = Buffer.alloc(16_384, 0).map(() => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed & 0xff));
    const fd = openSync(path, 'r+');
    writeSync(fd, noise, 0, noise.length, Math.floor(size / 2 / 4096) * 4096);
    closeSync(fd);

    for (const argv of [['status'], ['pull', '--user', 'alice'], ['sync', '--user', 'alice'], ['verify']]) {
      const result = await cli(...argv, '--db', path, ...OFFLINE);
      expect({ argv, code: result.code }).toEqual({ argv, code: 1 });
      expect(result.stderr).toMatch(
        new RegExp(`^oversqlite ${argv[0]}: the database file .* is corrupt \\(.+\\); restore it from a backup`),
      );
    }
  });
});

describe('progress reporter', () => {
  it('redraws a bar on a TTY and prints rate-limited lines otherwise', () => {
    let now = 0;
    const tty = capture(true);
    const bar = new ProgressReporter(tty.stream, () => now);
    bar.update({ phase: 'snapshot_download', done: 0, total: 1000 });
    // the first tick has no elapsed time yet: no invented rate
    expect(tty.text()).toBe(`\rdownload [........................] 0/1000 rows\x1b[K`);
    now = 1000;
    bar.update({ phase: 'snapshot_download', done: 400, total: 1000 });
    bar.finish();
    expect(tty.text().split('\r').at(-1)).toBe(
      `download [##########..............] 400/1000 rows  400 rows/s  ETA 2s\x1b[K\n`,
    );

    const plain = capture(false);
    const lines = new ProgressReporter(plain.stream, () => now);
    now = 0;
    lines.update({ phase: 'push_upload', done: 0, total: 30 });
    now = 100;
    lines.update({ phase: 'push_upload', done: 20, total: 30 });
    now = 200;
    lines.update({ phase: 'push_upload', done: 30, total: 30 });
    expect(plain.text()).toBe('upload: 30/30 rows (150 rows/s)\n');
  });
});
