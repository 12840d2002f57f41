import { describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { freePort } from '../src/database/embedded-postgres.js';
import { userInsertRow } from './support/sync-http.js';
import { createTestDatabase } from './support/test-database.js';

// The reference app's JSON request logs as `npm start` writes them, on both platforms: the request id
// is a well-formed X-Request-Id or a UUID, on the module's access line (`request_id`, and `reqId` with
// or without the log context); never the Authorization header. With LOG_REQUEST_CONTEXT=true every line
// written in a request carries its `reqId` (here the module's stage timings of a push chunk, a POST whose
// body the module reads itself); with false only the access line does. (On Fastify no middleware runs.)

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

type Line = Record<string, unknown>;

async function requestLogs(adapter: 'express' | 'fastify', context: boolean): Promise<Line[]> {
  const db = await createTestDatabase();
  const port = await freePort();
  const child = spawn(process.execPath, ['dist/src/main.js'], {
    env: {
      PATH: process.env.PATH ?? '',
      DATABASE_URL: db.url,
      PORT: String(port),
      HOST: '127.0.0.1',
      HTTP_ADAPTER: adapter,
      LOG_BUFFER_BYTES: '0',
      LOG_REQUEST_CONTEXT: String(context),
      OVERSYNC_LOG_STAGE_TIMINGS: 'true',
      OVERSYNC_WATCH: 'false',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const base = `http://127.0.0.1:${port}`;
  try {
    for (let i = 0; ; i++) {
      const up = await fetch(`${base}/syncx/health`).then(
        (res) => res.ok,
        () => false,
      );
      if (up) break;
      if (i > 300 || child.exitCode !== null) throw new Error(`server did not start:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const signIn = await fetch(`${base}/dummy-signin`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'log-user' }),
    });
    const { token } = (await signIn.json()) as { token: string };
    const as = { authorization: `Bearer ${token}`, 'oversync-source-id': 'log-source' };
    const connect = await fetch(`${base}/sync/connect`, {
      method: 'POST',
      headers: { ...as, 'content-type': 'application/json', 'x-request-id': 'connect-1' },
      body: JSON.stringify({ has_local_pending_rows: false }),
    });
    expect(connect.status).toBe(200);
    expect((await fetch(`${base}/sync/capabilities`, { headers: { ...as, 'x-request-id': 'caps-7' } })).status).toBe(
      200,
    );
    expect((await fetch(`${base}/sync/capabilities`, { headers: as })).status).toBe(200);
    expect(
      (await fetch(`${base}/sync/pull?after_bundle_seq=0`, { headers: { ...as, 'x-request-id': 'bad id' } })).status,
    ).toBe(200);
    const created = await fetch(`${base}/sync/push-sessions`, {
      method: 'POST',
      headers: { ...as, 'content-type': 'application/json', 'x-request-id': 'create-1' },
      body: JSON.stringify({ source_bundle_id: 1, planned_row_count: 1 }),
    });
    const { push_id } = (await created.json()) as { push_id: string };
    const chunk = await fetch(`${base}/sync/push-sessions/${push_id}/chunks`, {
      method: 'POST',
      headers: { ...as, 'content-type': 'application/json', 'x-request-id': 'chunk-1' },
      body: JSON.stringify({ start_row_ordinal: 0, rows: [userInsertRow(randomUUID())] }),
    });
    expect(chunk.status).toBe(200);
  } finally {
    child.kill('SIGTERM');
    await exited;
    await db.drop();
  }
  expect(output).not.toContain('Bearer');
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Line)
    .filter((line) => line.msg === 'sync request' || line.msg === 'stage timings');
}

describe.each([
  ['fastify', true],
  ['fastify', false],
  ['express', true],
  ['express', false],
] as const)('request logs of the reference app on %s, LOG_REQUEST_CONTEXT=%s', (adapter, context) => {
  it('carry X-Request-Id when well-formed, else a UUID, and bind it to the request as the setting says', async () => {
    const all = await requestLogs(adapter, context);
    const lines = all.filter((line) => line.msg === 'sync request');
    expect(lines).toHaveLength(6);
    for (const line of lines) expect(line.reqId).toBe(line.request_id);
    const [connect, caps, capsWithout, pull, , chunk] = lines as [Line, Line, Line, Line, Line, Line];
    expect(connect).toMatchObject({
      request_id: 'connect-1',
      route: '/sync/connect',
      status: 200,
      user_id: 'log-user',
    });
    expect(caps).toMatchObject({ request_id: 'caps-7', reqId: 'caps-7', route: '/sync/capabilities', status: 200 });
    expect(capsWithout.request_id).toMatch(UUID);
    expect(capsWithout.reqId).toBe(capsWithout.request_id);
    expect(pull).toMatchObject({ route: '/sync/pull', status: 200 });
    expect(pull.request_id).toMatch(UUID);
    expect(caps).not.toHaveProperty('req');
    expect(chunk).toMatchObject({ request_id: 'chunk-1', route: '/sync/push-sessions/:id/chunks', status: 200 });
    const stages = all.find((line) => line.msg === 'stage timings' && line.operation === 'push_chunk');
    expect(stages).toBeDefined();
    if (context) expect(stages!.reqId).toBe('chunk-1');
    else expect(stages).not.toHaveProperty('reqId');
  }, 60_000);
});
