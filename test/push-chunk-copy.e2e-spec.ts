import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { startTestApp, type TestApp } from './support/test-app.js';
import { SyncHttp, userInsertRow } from './support/sync-http.js';
import { countRoundTrips } from './support/round-trips.js';
import { COPY_STAGING_MIN_BODY_CHARS } from '../libs/oversync/src/push/push-session.service.js';

/** Text whose JSON escapes, backslashes and characters beyond ASCII a COPY line must carry unchanged. */
const PIECES = [
  'a',
  '"',
  '\\',
  '\\\\',
  '/',
  '\n',
  '\t',
  '\r',
  '\b',
  '\u0001',
  '\u007f',
  'é',
  '\u2028',
  '😀',
  '\\N',
  '{}',
];
const text = (i: number) =>
  Array.from({ length: 1 + (i % 7) }, (_, j) => PIECES[(i * 7 + j * 3) % PIECES.length]!).join('');

/** A typed_rows row of every op: INSERT, UPDATE (with a base version) and DELETE (no payload). */
function typedRow(i: number): string {
  const id = randomUUID();
  const key = `"schema":"business","table":"typed_rows","key":{"id":"${id}"}`;
  if (i % 5 === 4) return `{${key},"op":"DELETE","base_row_version":${i}}`;
  const payload =
    `{"rating":${i % 3 === 0 ? '1.5e-5' : '12345678901234.5'},"name":${JSON.stringify(text(i))},"id":"${id}",` +
    `"count_value":${i % 2 === 0 ? '9223372036854775807' : 'null'},` +
    `"note":${i % 4 === 0 ? 'null' : JSON.stringify(text(i + 1))},` +
    `"enabled_flag":${i % 2},"data":"${randomBytes(i % 9).toString('base64')}"}`;
  const update = i % 5 === 3;
  return `{${key},"op":"${update ? 'UPDATE' : 'INSERT'}","base_row_version":${update ? i : 0},"payload":${payload}}`;
}

const userRow = (id: string) => JSON.stringify(userInsertRow(id));

// Issue 22: chunk bodies from COPY_STAGING_MIN_BODY_CHARS on are staged by COPY while they are parsed, in one
// transaction with the session's checks and watermark; the answers and the staged rows are sync.push_chunk's.
describe('push chunks staged by COPY', () => {
  let t: TestApp;
  let a: SyncHttp;
  let db: pg.Client;
  let next = 1;

  beforeAll(async () => {
    t = await startTestApp({ env: { OVERSYNC_WATCH: 'false', OVERSYNC_USER_LOCK_TIMEOUT_MS: '300' } });
    a = new SyncHttp(t.baseUrl, await t.signIn('carol'), 'c-1');
    await a.connect(false);
    db = new pg.Client({ connectionString: t.db.url });
    await db.connect();
  });
  afterAll(async () => {
    await db.end();
    await t.close();
  });

  async function create(plannedRowCount: number): Promise<string> {
    const created = await a
      .post('/sync/push-sessions', { source_bundle_id: next, planned_row_count: plannedRowCount })
      .expect(200);
    return created.body.push_id as string;
  }

  /** The session's staged rows and watermark, as text. */
  async function staging(pushId: string) {
    const rows = await db.query<Record<string, string | number | null>>(
      `SELECT row_ordinal::text, table_id, encode(key_bytes, 'hex') AS key_hex, op_code, base_bundle_seq::text,
              payload_apply::text AS payload
         FROM sync.push_session_rows WHERE push_id = $1 ORDER BY row_ordinal`,
      [pushId],
    );
    const [session] = (
      await db.query<{ next_expected_row_ordinal: string; staged_insert_shape: string | null }>(
        'SELECT next_expected_row_ordinal::text, staged_insert_shape FROM sync.push_sessions WHERE push_id = $1',
        [pushId],
      )
    ).rows;
    return { rows: rows.rows, session };
  }

  /** Posts a chunk, expecting it staged by COPY in three round trips (open, COPY, close + COMMIT). */
  async function postCopied(pushId: string, body: string) {
    const sent = await countRoundTrips(() => a.post(`/sync/push-sessions/${pushId}/chunks`, body).expect(200));
    expect(sent.statements).toEqual([
      expect.stringMatching(/^BEGIN; SELECT \* FROM sync\.push_chunk_open\(/),
      expect.stringMatching(/^COPY sync\.push_session_rows /),
      expect.stringMatching(/^SELECT sync\.push_chunk_close\(.*; COMMIT$/),
    ]);
    return sent.result;
  }

  const chunk = (start: number, rows: string[]) => `{"start_row_ordinal":${start},"rows":[${rows.join(',')}]}`;

  it('stages exactly what sync.push_chunk stages for the same rows in small chunks', async () => {
    const rows = Array.from({ length: 900 }, (_, i) => typedRow(i));
    const large = chunk(0, rows);
    expect(large.length).toBeGreaterThanOrEqual(COPY_STAGING_MIN_BODY_CHARS);
    const copied = await create(rows.length);
    const answer = await postCopied(copied, large);
    expect(answer.text).toBe(`{"push_id":"${copied}","next_expected_row_ordinal":900}\n`);
    const byCopy = await staging(copied);
    await a.delete(`/sync/push-sessions/${copied}`).expect(204);

    const small = await create(rows.length);
    for (let start = 0; start < rows.length; start += 100) {
      const body = chunk(start, rows.slice(start, start + 100));
      expect(body.length).toBeLessThan(COPY_STAGING_MIN_BODY_CHARS);
      await a.post(`/sync/push-sessions/${small}/chunks`, body).expect(200);
    }
    const byArrays = await staging(small);
    await a.delete(`/sync/push-sessions/${small}`).expect(204);
    expect(byCopy.rows).toHaveLength(900);
    expect(byCopy).toEqual(byArrays);
  });

  it('stages rows longer than a COPY block (64 KiB) as sync.push_chunk stages them', async () => {
    // notes of 40,000 pieces: up to 4 UTF-8 bytes and a COPY escape each, the longest far beyond one block
    const long = (i: number) => {
      const row = JSON.parse(typedRow(i)) as { payload: Record<string, unknown> };
      row.payload.note = Array.from({ length: 40_000 }, (_, j) => PIECES[(i + j) % PIECES.length]!).join('');
      return JSON.stringify(row);
    };
    const rows = Array.from({ length: 600 }, (_, i) => (i === 0 || i === 301 || i === 302 ? long(i) : typedRow(i)));
    const copied = await create(rows.length);
    await postCopied(copied, chunk(0, rows));
    const byCopy = await staging(copied);
    await a.delete(`/sync/push-sessions/${copied}`).expect(204);

    const small = await create(rows.length);
    for (let start = 0; start < rows.length;) {
      let end = start + 1;
      while (end < rows.length && chunk(start, rows.slice(start, end + 1)).length < COPY_STAGING_MIN_BODY_CHARS) end++;
      const body = chunk(start, rows.slice(start, end));
      expect(body.length).toBeLessThan(COPY_STAGING_MIN_BODY_CHARS);
      await a.post(`/sync/push-sessions/${small}/chunks`, body).expect(200);
      start = end;
    }
    const byArrays = await staging(small);
    await a.delete(`/sync/push-sessions/${small}`).expect(204);
    expect(byCopy.rows).toHaveLength(600);
    const longest = Math.max(...byCopy.rows.map((row) => Buffer.byteLength(String(row.payload ?? ''))));
    expect(longest).toBeGreaterThan(64 * 1024);
    expect(byCopy).toEqual(byArrays);
  });

  it('records the insert shape across chunks staged either way, and the bundle commits', async () => {
    const ids = Array.from({ length: 2100 }, () => randomUUID());
    const pushId = await create(ids.length);
    await postCopied(pushId, chunk(0, ids.slice(0, 1000).map(userRow)));
    await a.post(`/sync/push-sessions/${pushId}/chunks`, chunk(1000, ids.slice(1000, 1100).map(userRow))).expect(200);
    await postCopied(pushId, chunk(1100, ids.slice(1100).map(userRow)));
    const { session } = await staging(pushId);
    expect(session!.next_expected_row_ordinal).toBe('2100');
    expect(session!.staged_insert_shape).toMatch(/^\d+ email,id,name:2100$/);
    const commit = await a.post(`/sync/push-sessions/${pushId}/commit`).expect(200);
    next++;
    expect(commit.body.row_count).toBe(2100);
  });

  it('answers a large chunk that fails as a small one is answered, staging nothing', async () => {
    const ids = Array.from({ length: 1200 }, () => randomUUID());
    const rows = ids.map(userRow);
    const pushId = await create(1500);
    const nothingStaged = async () =>
      expect(await staging(pushId)).toEqual({
        rows: [],
        session: { next_expected_row_ordinal: '0', staged_insert_shape: null },
      });
    // the last row is bad: every row before it went into the COPY
    const bad = rows.slice(0, -1).concat(userRow(ids[0]!));
    const duplicate = await a.post(`/sync/push-sessions/${pushId}/chunks`, chunk(0, bad)).expect(400);
    expect(duplicate.body).toEqual({
      error: 'push_chunk_invalid',
      message: `duplicate target row in push request: business.users ${ids[0]}`,
    });
    await nothingStaged();
    const syntax = await a.post(`/sync/push-sessions/${pushId}/chunks`, chunk(0, rows).slice(0, -1)).expect(400);
    expect(syntax.body).toEqual({ error: 'invalid_request', message: 'Failed to parse push chunk request' });
    await nothingStaged();
    const outOfOrder = await a.post(`/sync/push-sessions/${pushId}/chunks`, chunk(5, rows)).expect(409);
    expect(outOfOrder.body).toEqual({
      error: 'push_chunk_out_of_order',
      message: `push session ${pushId} expected start_row_ordinal 0, got 5`,
    });
    await nothingStaged();
    const tooMany = Array.from({ length: 1600 }, () => userRow(randomUUID()));
    const beyond = await a.post(`/sync/push-sessions/${pushId}/chunks`, chunk(0, tooMany)).expect(400);
    expect(beyond.body).toEqual({ error: 'push_chunk_invalid', message: 'chunk exceeds planned_row_count' });
    await nothingStaged();
    // a parse error comes before the session's refusal, as on the single-call path
    const missing = randomUUID();
    await a.post(`/sync/push-sessions/${missing}/chunks`, chunk(0, bad)).expect(400);
    const notFound = await a.post(`/sync/push-sessions/${missing}/chunks`, chunk(0, rows)).expect(404);
    expect(notFound.body).toEqual({
      error: 'push_session_not_found',
      message: `push session ${missing} was not found`,
    });
    // the connections went back to the pool clean: the chunk stages now
    await postCopied(pushId, chunk(0, rows));
    expect((await staging(pushId)).rows).toHaveLength(1200);
    await a.delete(`/sync/push-sessions/${pushId}`).expect(204);
  });

  it('answers an expired session, and a COPY the backend fails goes the sync.push_chunk way', async () => {
    const rows = Array.from({ length: 1000 }, () => userRow(randomUUID()));
    const pushId = await create(1000);
    await db.query(`UPDATE sync.push_sessions SET expires_at = now() - interval '1 second' WHERE push_id = $1`, [
      pushId,
    ]);
    const expired = await a.post(`/sync/push-sessions/${pushId}/chunks`, chunk(0, rows)).expect(410);
    expect(expired.body).toEqual({
      error: 'push_session_expired',
      message: `push session ${pushId} has expired; start a new push session`,
    });
    await db.query(`UPDATE sync.push_sessions SET expires_at = now() + interval '1 hour' WHERE push_id = $1`, [pushId]);
    // the backend refuses row 600 in the middle of the COPY; push_chunk's INSERT then fails as it always did
    await db.query('ALTER TABLE sync.push_session_rows ADD CONSTRAINT copy_probe CHECK (row_ordinal < 600) NOT VALID');
    try {
      const failed = await countRoundTrips(() => a.post(`/sync/push-sessions/${pushId}/chunks`, chunk(0, rows)));
      expect(failed.result.status).toBe(500);
      expect(failed.statements.slice(1)).toEqual([
        expect.stringMatching(/^COPY sync\.push_session_rows /),
        'ROLLBACK',
        expect.stringMatching(/^SELECT \* FROM sync\.push_chunk\(/),
      ]);
    } finally {
      await db.query('ALTER TABLE sync.push_session_rows DROP CONSTRAINT copy_probe');
    }
    expect((await staging(pushId)).rows).toEqual([]);
    // the connections went back to the pool fit for use
    await postCopied(pushId, chunk(0, rows));
    expect((await staging(pushId)).rows).toHaveLength(1000);
    await a.delete(`/sync/push-sessions/${pushId}`).expect(204);
  });

  it('declines a chunk that states a start the session has moved past before the COPY stages a row', async () => {
    const rows = Array.from({ length: 1000 }, () => userRow(randomUUID()));
    const pushId = await create(2000);
    await postCopied(pushId, chunk(0, rows));
    // the same chunk again (its answer was lost): no COPY whose rows are rolled back, push_chunk words the 409
    const retried = await countRoundTrips(() => a.post(`/sync/push-sessions/${pushId}/chunks`, chunk(0, rows)));
    expect(retried.result.status).toBe(409);
    expect(retried.result.body).toEqual({
      error: 'push_chunk_out_of_order',
      message: `push session ${pushId} expected start_row_ordinal 1000, got 0`,
    });
    expect(retried.statements).toEqual([
      expect.stringMatching(/^BEGIN; SELECT \* FROM sync\.push_chunk_open\(/),
      'ROLLBACK',
      expect.stringMatching(/^SELECT \* FROM sync\.push_chunk\(/),
    ]);
    // a start restated after the rows is the one that counts: the hint only declines, the parse decides
    const more = rows.map(() => userRow(randomUUID()));
    const restated = `{"start_row_ordinal":0,"rows":[${more.join(',')}],"start_row_ordinal":1000}`;
    const staged = await countRoundTrips(() => a.post(`/sync/push-sessions/${pushId}/chunks`, restated));
    expect(staged.result.status).toBe(200);
    expect(staged.result.body.next_expected_row_ordinal).toBe(2000);
    expect((await staging(pushId)).rows).toHaveLength(2000);
    await a.delete(`/sync/push-sessions/${pushId}`).expect(204);
  });

  it('answers a held user lock with the retryable 503 before the COPY, staging nothing', async () => {
    const rows = Array.from({ length: 1000 }, () => userRow(randomUUID()));
    const pushId = await create(1000);
    const holder = new pg.Client({ connectionString: t.db.url });
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', ['carol']);
      const refused = await countRoundTrips(() => a.post(`/sync/push-sessions/${pushId}/chunks`, chunk(0, rows)));
      expect(refused.result.status).toBe(503);
      expect(refused.result.body.error).toBe('service_unavailable');
      // refused by push_chunk_open's lock wait: no COPY, and no second wait on the sync.push_chunk path
      expect(refused.statements).toEqual([
        expect.stringMatching(/^BEGIN; SELECT \* FROM sync\.push_chunk_open\(/),
        'ROLLBACK',
      ]);
    } finally {
      await holder.end();
    }
    expect(await staging(pushId)).toEqual({
      rows: [],
      session: { next_expected_row_ordinal: '0', staged_insert_shape: null },
    });
    await postCopied(pushId, chunk(0, rows));
    expect((await staging(pushId)).rows).toHaveLength(1000);
    await a.delete(`/sync/push-sessions/${pushId}`).expect(204);
  });

  it('stages the last "rows" member of a body that repeats it, as Go binds it', async () => {
    const first = Array.from({ length: 1000 }, () => userRow(randomUUID()));
    const last = Array.from({ length: 10 }, () => userRow(randomUUID()));
    const pushId = await create(1000);
    const body = `{"start_row_ordinal":0,"rows":[${first.join(',')}],"rows":[${last.join(',')}]}`;
    await a.post(`/sync/push-sessions/${pushId}/chunks`, body).expect(200);
    expect((await staging(pushId)).rows).toHaveLength(10);
    await a.delete(`/sync/push-sessions/${pushId}`).expect(204);
  });
});
