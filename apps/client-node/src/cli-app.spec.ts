import { describe, expect, it } from '@jest/globals';
import { fakeServer, fileDatabase } from '../test-support/client-fixtures.js';
import { runCli } from './cli-app.js';
import { ProgressReporter } from './progress-reporter.js';

function capture(isTTY = false) {
  let text = '';
  return { stream: { isTTY, write: (chunk: string) => ((text += chunk), true) }, text: () => text };
}

describe('oversqlite CLI', () => {
  it('signs in, syncs, pushes, pulls and reports status on a SQLite file', async () => {
    const server = fakeServer();
    const file = fileDatabase();
    file.db.exec("INSERT INTO users(id, name) VALUES ('u1', 'offline')");
    file.db.close();
    const run = async (...args: string[]) => {
      const out = capture();
      const err = capture();
      const code = await runCli([...args, '--db', file.path, '--server', server.baseUrl, '--tables', 'users,posts,files,file_reviews,typed_rows'], {
        stdout: out.stream,
        stderr: err.stream,
        env: { OVERSYNC_USER: 'alice' },
        fetch: server.fetch,
      });
      return { code, out: out.text(), err: err.text() };
    };
    const sync = await run('sync');
    expect(sync).toMatchObject({ code: 0, err: '' });
    expect(sync.out).toContain('attached alice: seeded_from_local');
    expect(sync.out).toContain('sync: push committed, pull already_at_target; last bundle 1, pending 0 rows');
    expect(server.requests.some((r) => r.path === '/dummy-signin')).toBe(true);
    expect((await run('push')).out).toBe('push: no_change; last bundle 1, pending 0 rows\n');
    expect((await run('pull')).out).toBe('pull: already_at_target; last bundle 1, pending 0 rows\n');
    const status = await run('status');
    expect(status.out).toMatch(/^source: {3}[0-9a-f-]{36}\nuser: {5}alice\npending: {2}0 rows\n$/);
    const json = JSON.parse((await run('push', '--json')).out) as { push: { outcome: string } };
    expect(json.push.outcome).toBe('no_change');
    const hydrate = await run('hydrate');
    expect(hydrate.out).toContain('hydrate: applied_snapshot (snapshot at bundle 1, 1 rows)');
  });

  it('exits 2 on usage errors and 1 on failures', async () => {
    const out = capture();
    const err = capture();
    expect(await runCli(['push'], { stdout: out.stream, stderr: err.stream, env: {} })).toBe(2);
    expect(err.text()).toContain('--db <file> is required');
    expect(await runCli(['explode', '--db', 'x'], { stdout: out.stream, stderr: err.stream, env: {} })).toBe(2);
    const server = fakeServer();
    server.failNext('POST', /^\/dummy-signin$/, 500, { error: 'token_error', message: 'nope' });
    const file = fileDatabase();
    file.db.close();
    const failing = capture();
    const code = await runCli(['push', '--db', file.path, '--user', 'bob', '--server', server.baseUrl, '--tables', 'users'], {
      stdout: capture().stream,
      stderr: failing.stream,
      env: {},
      fetch: server.fetch,
    });
    expect(code).toBe(1);
    expect(failing.text()).toContain('sign-in failed with status 500');
  });
});

describe('progress reporter', () => {
  it('redraws a bar on a TTY and prints rate-limited lines otherwise', () => {
    let now = 0;
    const tty = capture(true);
    const bar = new ProgressReporter(tty.stream, () => now);
    bar.update({ phase: 'snapshot_download', done: 0, total: 1000 });
    now = 1000;
    bar.update({ phase: 'snapshot_download', done: 500, total: 1000 });
    bar.finish();
    expect(tty.text().split('\r').at(-1)).toBe(`download [############............] 500/1000 rows  500 rows/s\x1b[K\n`);

    const plain = capture(false);
    const lines = new ProgressReporter(plain.stream, () => now);
    now = 0;
    lines.update({ phase: 'push_upload', done: 10, total: 30 });
    now = 100;
    lines.update({ phase: 'push_upload', done: 20, total: 30 });
    now = 200;
    lines.update({ phase: 'push_upload', done: 30, total: 30 });
    expect(plain.text()).toBe('upload: 30/30 rows (150 rows/s)\n');
  });
});
