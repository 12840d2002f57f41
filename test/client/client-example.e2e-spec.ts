import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { useTestServer } from './client-devices.js';

const run = promisify(execFile);

describe('client README example and CLI against the reference app', () => {
  const server = useTestServer();

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

  it('drives a device with the oversqlite CLI (plain output, no TTY)', async () => {
    const db = `${process.env.TMPDIR ?? '/tmp'}/oversqlite-cli-${Date.now()}.sqlite`;
    const cli = (...args: string[]) =>
      run(process.execPath, ['apps/client-node/dist/cli.js', ...args, '--db', db, '--server', server.t.baseUrl, '--user', 'cli-user', '--example-schema']);
    expect((await cli('status')).stdout).toMatch(/^source: {3}[0-9a-f-]{36}\nuser: {5}\(anonymous\)\npending: {2}0 rows\n$/);
    const sync = await cli('sync');
    expect(sync.stdout).toContain('attached cli-user: started_empty');
    expect(sync.stdout).toContain('sync: push no_change, pull already_at_target; last bundle 0, pending 0 rows');
    const hydrate = await cli('hydrate', '--json');
    expect(JSON.parse(hydrate.stdout)).toMatchObject({ rebuild: { outcome: 'applied_snapshot', restore: { bundleSeq: 0, rowCount: 0 } } });
  });
});
