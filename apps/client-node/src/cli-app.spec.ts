import { describe, expect, it } from '@jest/globals';
import { runCli } from './cli-app.js';
import { ProgressReporter } from './progress-reporter.js';

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
    expect(tty.text().split('\r').at(-1)).toBe(`download [##########..............] 400/1000 rows  400 rows/s  ETA 2s\x1b[K\n`);

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
