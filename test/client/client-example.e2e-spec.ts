import { afterAll, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { serverRows, useProxy, useTestServer } from './client-devices.js';

const run = promisify(execFile);

const cliDirs: string[] = [];
/** A folder for one CLI device file, removed after the suite. */
function cliDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'oversqlite-cli-'));
  cliDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of cliDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('client README example and CLI against the reference app', () => {
  const server = useTestServer();
  const recording = useProxy(server);

  it('runs examples/two-devices.mjs: a phone and a laptop converge', async () => {
    const { stdout } = await run(process.execPath, ['apps/client-node/examples/two-devices.mjs'], {
      env: { ...process.env, OVERSYNC_URL: server.t.baseUrl, OVERSYNC_USER: 'example-user' },
    });
    expect(stdout).toBe(
      [
        'phone attach: seeded_from_local',
        'phone push: committed',
        'laptop attach: used_remote_state (1 rows from the snapshot)',
        'phone sees: Ada, Countess of Lovelace',
        '',
      ].join('\n'),
    );
  });

  it('drives a device with the oversqlite CLI: signs in, syncs, pushes, pulls, reports status, hydrates (plain output, no TTY)', async () => {
    const { proxy } = recording;
    const db = join(cliDir(), 'device.sqlite');
    // The user comes from $OVERSYNC_USER; every request goes through the recording proxy.
    const cli = (...args: string[]) =>
      run(
        process.execPath,
        ['apps/client-node/dist/cli.js', ...args, '--db', db, '--server', proxy.baseUrl, '--example-schema'],
        {
          env: { ...process.env, OVERSYNC_USER: 'cli-user' },
        },
      );
    expect((await cli('status')).stdout).toMatch(
      /^source: {3}[0-9a-f-]{36}\nuser: {5}\(anonymous\)\npending: {2}0 rows\n$/,
    );
    expect(proxy.requests).toHaveLength(0);

    // A row written offline, before the first sync.
    const file = new Database(db);
    const id = randomUUID();
    file.prepare("INSERT INTO users(id, name, email) VALUES (?, 'offline', 'o@x.test')").run(id);
    file.close();

    const sync = await cli('sync');
    expect(sync.stderr).toBe('');
    expect(sync.stdout).toContain('attached cli-user: seeded_from_local');
    expect(sync.stdout).toContain('sync: push committed, pull already_at_target; last bundle 1, pending 0 rows');
    expect(proxy.requestsTo('POST', /^\/dummy-signin$/).length).toBeGreaterThan(0);
    expect(await serverRows(server.pg, 'cli-user', 'users', 'id::text AS id, name')).toEqual([{ id, name: 'offline' }]);
    expect((await cli('push')).stdout).toBe('push: no_change; last bundle 1, pending 0 rows\n');
    expect((await cli('pull')).stdout).toBe('pull: already_at_target; last bundle 1, pending 0 rows\n');
    expect((await cli('status')).stdout).toMatch(/^source: {3}[0-9a-f-]{36}\nuser: {5}cli-user\npending: {2}0 rows\n$/);
    const json = JSON.parse((await cli('push', '--json')).stdout) as { push: { outcome: string } };
    expect(json.push.outcome).toBe('no_change');
    expect((await cli('hydrate')).stdout).toContain('hydrate: applied_snapshot (snapshot at bundle 1, 1 rows)');
    const hydrate = JSON.parse((await cli('hydrate', '--json')).stdout) as unknown;
    expect(hydrate).toMatchObject({ rebuild: { outcome: 'applied_snapshot', restore: { bundleSeq: 1, rowCount: 1 } } });
  });

  it('exits 1 with the server answer when sign-in fails', async () => {
    const db = join(cliDir(), 'device.sqlite');
    // A wrong base path: the reference app itself answers the sign-in with 404.
    const failed = await run(process.execPath, [
      'apps/client-node/dist/cli.js',
      'push',
      '--db',
      db,
      '--server',
      `${server.t.baseUrl}/wrong-prefix`,
      '--user',
      'bob',
      '--example-schema',
    ]).catch((e: unknown) => e as { code: number; stdout: string; stderr: string });
    expect(failed).toMatchObject({ code: 1, stdout: '' });
    expect((failed as { stderr: string }).stderr).toBe(
      'oversqlite push: failed to obtain auth token: sign-in failed with status 404: {"message":"Cannot POST ' +
        '/wrong-prefix/dummy-signin","error":"Not Found","statusCode":404}\n',
    );
  });

  it("exits 1 with the server's reason when the token is refused", async () => {
    const db = join(cliDir(), 'device.sqlite');
    const failed = await run(process.execPath, [
      'apps/client-node/dist/cli.js',
      'sync',
      '--db',
      db,
      '--server',
      server.t.baseUrl,
      '--user',
      'bob',
      '--token',
      'not-a-token',
      '--example-schema',
    ]).catch((e: unknown) => e as { code: number; stdout: string; stderr: string });
    expect(failed).toMatchObject({ code: 1, stdout: '' });
    expect((failed as { stderr: string }).stderr).toMatch(
      /^oversqlite sync: server returned status 401 while fetching capabilities: .*Invalid token/,
    );
  });
});
