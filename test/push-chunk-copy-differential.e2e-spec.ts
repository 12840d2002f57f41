import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import pg from 'pg';
import { startTestApp, type TestApp } from './support/test-app.js';
import { SyncHttp } from './support/sync-http.js';
import { copyChunkCases, fuzzSeed } from './fuzz/fuzz-budget.js';
import { ODD_USERS, oddJsonValue } from './fuzz/http-input-arbitraries.js';
import { COPY_STAGING_MIN_BODY_CHARS } from '../libs/oversync/src/push/push-session.service.js';

// Issue 22, differentially: a large chunk body goes to two servers in the same state, one staging it by COPY
// (push-chunk-copy.ts), the other made to take sync.push_chunk (its push_chunk_open fails, which declines the
// COPY). Every answer, the staged rows, the session's watermark and insert shape, and the commit must agree;
// a bad body is a 4xx that stages nothing, never a 500.

const SEED = fuzzSeed(20261207);
const RUNS = copyChunkCases();

/** JSON string contents (raw JSON text between the quotes) a COPY line must carry unchanged, or that are refused. */
const STRING_PIECES = [
  'a',
  'plain text ',
  '\\"',
  '\\\\',
  '\\\\N',
  '\\\\.',
  '\\\\x00',
  '\\\\u0000',
  '\\/',
  '\\n',
  '\\r\\n',
  '\\t',
  '\\b\\f',
  '\\u0001',
  '\\u007f',
  '\\u2028',
  '\u2028\u2029',
  '\\ud800',
  '\\udc00\\ud800',
  '\\ud83d\\ude00',
  '😀',
  'é',
  '\\u00e9',
  '\\uFFFF',
  '{}\\t|',
  '%s',
];
/** Strings PostgreSQL's text refuses: a 400 on both paths. */
const NUL_PIECES = ['\\u0000', 'a\\u0000b', '\\\\\\u0000'];

const NUMBERS = [
  '0',
  '-0',
  '1',
  '-1',
  '7.0',
  '1E+2',
  '1.5',
  '4.9e-324',
  '1e-400',
  '9007199254740993',
  '-9007199254740993',
  '9223372036854775807',
  '-9223372036854775808',
  '12345678901234.5',
];

type Table = 'users' | 'typed_rows' | 'files' | 'posts';
type Op = 'INSERT' | 'UPDATE' | 'DELETE';

interface RowRecipe {
  table: Table;
  op: Op;
  name: string[];
  note: string[] | null;
  count: string;
  rating: string;
  bytes: string;
  /** member order of the payload: canonical or reversed */
  reversed: boolean;
}

type Padding = 'none' | 'spaces' | 'mixed' | 'huge-string';
type Mutation =
  | { kind: 'none' }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert-char'; at: number; char: string }
  | { kind: 'row-value'; row: number; member: 'op' | 'key' | 'payload' | 'table' | 'base'; value: string }
  | { kind: 'duplicate-row'; row: number }
  | { kind: 'nul'; row: number; piece: string }
  | { kind: 'start'; delta: number }
  | { kind: 'rows-twice'; keep: number }
  | { kind: 'unknown-column'; row: number };

interface Case {
  recipes: RowRecipe[];
  rowCount: number;
  prefixRows: number;
  padding: Padding;
  mutation: Mutation;
}

const pieces = fc.array(fc.constantFrom(...STRING_PIECES), { minLength: 0, maxLength: 6 });
const recipe: fc.Arbitrary<RowRecipe> = fc.record({
  table: fc.constantFrom<Table>('users', 'typed_rows', 'files', 'posts'),
  op: fc.constantFrom<Op>('INSERT', 'INSERT', 'INSERT', 'UPDATE', 'DELETE'),
  name: pieces,
  note: fc.option(pieces),
  count: fc.constantFrom(...NUMBERS.filter((n) => /^-?\d+$/.test(n)), 'null'),
  rating: fc.constantFrom(...NUMBERS, 'null'),
  bytes: fc.constantFrom('', 'AA==', 'AAEC/w==', 'aGVsbG8gXE4gXC4=', '////', '3q2+7w=='),
  reversed: fc.boolean(),
});
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.constant<Mutation>({ kind: 'none' }) },
  { weight: 1, arbitrary: fc.double({ min: 0, max: 1, noNaN: true }).map((at) => ({ kind: 'truncate', at }) as const) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom('"', '\\', ',', '}', ']', '\u0000', 'x', ' '))
      .map(([at, char]) => ({ kind: 'insert-char', at, char }) as const),
  },
  {
    weight: 3,
    arbitrary: fc
      .tuple(
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.constantFrom('op', 'key', 'payload', 'table', 'base'),
        oddJsonValue,
      )
      .map(([row, member, value]) => ({ kind: 'row-value', row, member, value }) as const),
  },
  {
    weight: 1,
    arbitrary: fc.double({ min: 0, max: 1, noNaN: true }).map((row) => ({ kind: 'duplicate-row', row }) as const),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(...NUL_PIECES))
      .map(([row, piece]) => ({ kind: 'nul', row, piece }) as const),
  },
  { weight: 1, arbitrary: fc.constantFrom(-1, 1, 5).map((delta) => ({ kind: 'start', delta }) as const) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 3 }).map((keep) => ({ kind: 'rows-twice', keep }) as const) },
  {
    weight: 1,
    arbitrary: fc.double({ min: 0, max: 1, noNaN: true }).map((row) => ({ kind: 'unknown-column', row }) as const),
  },
);
const chunkCase: fc.Arbitrary<Case> = fc.record({
  recipes: fc.array(recipe, { minLength: 1, maxLength: 6 }),
  rowCount: fc.integer({ min: 1, max: 1400 }),
  prefixRows: fc.constantFrom(0, 0, 2),
  padding: fc.constantFrom<Padding>('none', 'spaces', 'mixed', 'huge-string'),
  mutation,
});

/** A canonical uuid from two counters (fresh per case and row, the same on both servers). */
const uuidOf = (run: number, row: number) => {
  const hex = (run * 100000 + row).toString(16).padStart(20, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${'0'.repeat(12)}`;
};

/** Whitespace a body's tokens may be separated by. */
function padder(padding: Padding, rows: number): () => string {
  let turn = 0;
  if (padding === 'spaces') return () => ' '.repeat(Math.ceil(140_000 / rows / 8));
  if (padding === 'mixed') return () => [' ', '\n', '\t', '\r\n', '  \t\n'][turn++ % 5]!;
  return () => '';
}

function rowText(r: RowRecipe, id: string, i: number, pad: () => string, huge: boolean): string {
  const s = (parts: string[]) => `"${parts.join('')}${i}"`;
  const key = `"key":${pad()}{"id":"${id}"}`;
  const head = `"schema":"business",${pad()}"table":"${r.table}",${key}`;
  if (r.op === 'DELETE') return `{${head},"op":"DELETE",${pad()}"base_row_version":${i % 4}}`;
  let members: string[];
  switch (r.table) {
    case 'users':
      members = [`"id":"${id}"`, `"name":${s(r.name)}`, `"email":${s(r.note ?? [])}`, ...STAMPS];
      break;
    case 'posts':
      members = [`"title":${s(r.name)}`, `"content":${s(r.note ?? ['c'])}`, `"author_id":null`, ...STAMPS];
      break;
    case 'files':
      members = [`"name":${s(r.name)}`, `"data":"${r.bytes}"`, `"id":"${id}"`];
      break;
    default:
      members = [
        `"id":"${id}"`,
        `"name":${s(r.name)}`,
        `"note":${r.note === null ? 'null' : s(r.note)}`,
        `"count_value":${r.count}`,
        `"enabled_flag":${i % 2}`,
        `"rating":${r.rating}`,
        `"data":${r.bytes === '' ? 'null' : `"${r.bytes}"`}`,
      ];
  }
  if (huge) members.push(r.table === 'typed_rows' ? `"note":"${'w'.repeat(140_000)}"` : '');
  members = members.filter((m) => m !== '');
  if (r.reversed) members.reverse();
  const payload = `{${members.join(`,${pad()}`)}}`;
  return `{${head},${pad()}"op":"${r.op}","base_row_version":${r.op === 'UPDATE' ? i : 0},"payload":${payload}}`;
}

/** A users INSERT (the probe's rows). */
const STAMPED_USER: RowRecipe = {
  table: 'users',
  op: 'INSERT',
  name: ['n'],
  note: ['e'],
  count: 'null',
  rating: 'null',
  bytes: '',
  reversed: false,
};

/** Timestamps of the tables that default them to now(): a bundle's hash covers the rows as applied. */
const STAMPS = ['"created_at":"2026-12-07T00:00:00Z"', '"updated_at":"2026-12-07T00:00:01.5+01:00"'];

interface Built {
  body: string;
  prefix: string | undefined;
  plannedRowCount: number;
  /** valid throughout: must be staged by COPY and answered 200 */
  valid: boolean;
}

function build(run: number, c: Case): Built {
  const pad = padder(c.padding, c.rowCount);
  // huge-string: the first row carries a note longer than the COPY threshold
  const huge: RowRecipe | undefined =
    c.padding === 'huge-string' ? { ...c.recipes[0]!, table: 'typed_rows', op: 'INSERT' } : undefined;
  const rows: string[] = [];
  let size = 0;
  for (let i = 0; i < c.rowCount || size < COPY_STAGING_MIN_BODY_CHARS + 1000; i++) {
    const r = i === 0 && huge ? huge : c.recipes[i % c.recipes.length]!;
    const text = rowText(r, uuidOf(run, c.prefixRows + i), c.prefixRows + i, pad, i === 0 && huge !== undefined);
    rows.push(text);
    size += text.length + 1;
  }
  const m = c.mutation;
  const at = (fraction: number) => Math.min(rows.length - 1, Math.floor(fraction * rows.length));
  let start = c.prefixRows;
  let extraRows = '';
  switch (m.kind) {
    case 'row-value': {
      const i = at(m.row);
      const pattern =
        m.member === 'op'
          ? /"op":"[A-Z]+"/
          : m.member === 'key'
            ? /"key":\s*\{[^}]*\}/
            : m.member === 'table'
              ? /"table":"[a-z_]+"/
              : m.member === 'base'
                ? /"base_row_version":\d+/
                : /"payload":\{.*\}(?=\}$)/s;
      rows[i] = rows[i]!.match(pattern)
        ? rows[i]!.replace(pattern, `"${m.member === 'base' ? 'base_row_version' : m.member}":${m.value}`)
        : rows[i]!.replace(/\}$/, `,"payload":${m.value}}`);
      break;
    }
    case 'duplicate-row':
      rows.push(rows[at(m.row)]!);
      break;
    case 'nul': {
      const i = at(m.row);
      rows[i] = rows[i]!.replace(/"name":"/, `"name":"${m.piece}`);
      break;
    }
    case 'start':
      start = Math.max(0, start + m.delta);
      break;
    case 'rows-twice':
      extraRows = `,"rows":[${rows.slice(0, m.keep).join(',')}]`;
      break;
    case 'unknown-column': {
      const i = at(m.row);
      rows[i] = rows[i]!.replace(/"payload":\{/, '"payload":{"no_such_column":1,');
      break;
    }
    case 'none':
    case 'truncate':
    case 'insert-char':
      // the whole body's text, below
      break;
  }
  const rowsText = `[${rows.join(`,${pad()}`)}]`;
  let body = `{${pad()}"start_row_ordinal":${pad()}${start},${pad()}"rows":${pad()}${rowsText}${extraRows}${pad()}}`;
  if (m.kind === 'truncate') body = body.slice(0, Math.floor(m.at * body.length));
  if (m.kind === 'insert-char') {
    const i = Math.floor(m.at * body.length);
    body = body.slice(0, i) + m.char + body.slice(i);
  }
  const prefix =
    c.prefixRows === 0
      ? undefined
      : `{"start_row_ordinal":0,"rows":[${Array.from({ length: c.prefixRows }, (_, i) =>
          rowText(c.recipes[0]!, uuidOf(run, i), i, () => '', false),
        ).join(',')}]}`;
  return { body, prefix, plannedRowCount: c.prefixRows + rows.length, valid: m.kind === 'none' };
}

/** The pushing user and source: ids the COPY path writes as SQL literals (quotes, a backslash, beyond ASCII). */
const USER = `${ODD_USERS.quotes} ${ODD_USERS.unicode}`;
const SOURCE = `d'1 "\\ %s`;

/** One server of the pair, with a connection to its database to read the staging. */
interface Side {
  app: TestApp;
  http: SyncHttp;
  db: pg.Client;
}

describe('push chunks staged by COPY, differentially against sync.push_chunk', () => {
  let copy: Side;
  let single: Side;
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called back with .call(this) and restored in afterAll
  const original = pg.Client.prototype.query;
  /** COPY statements sent per database */
  const copies = new Map<string, number>();
  /** sync.push_chunk calls per database */
  const singleCalls = new Map<string, number>();

  async function side(): Promise<Side> {
    const app = await startTestApp({ env: { OVERSYNC_WATCH: 'false' } });
    const http = new SyncHttp(app.baseUrl, await app.signIn(USER), SOURCE);
    await http.connect(false);
    const db = new pg.Client({ connectionString: app.db.url });
    await db.connect();
    return { app, http, db };
  }

  beforeAll(async () => {
    copy = await side();
    single = await side();
    const singleDatabase = single.app.db.name;
    pg.Client.prototype.query = function routed(this: pg.Client, config: unknown, ...rest: unknown[]) {
      const text = typeof config === 'string' ? config : ((config as { text?: string } | null)?.text ?? '');
      let sent = config;
      if (text.startsWith('COPY sync.push_session_rows'))
        copies.set(this.database ?? '', (copies.get(this.database ?? '') ?? 0) + 1);
      if (text.startsWith('SELECT * FROM sync.push_chunk('))
        singleCalls.set(this.database ?? '', (singleCalls.get(this.database ?? '') ?? 0) + 1);
      // the single-call server: push_chunk_open fails with an error that is no refusal, so the COPY declines
      if (this.database === singleDatabase && text.startsWith('BEGIN; SELECT * FROM sync.push_chunk_open('))
        sent = 'BEGIN; SELECT 1/0';
      return (original as (...args: unknown[]) => unknown).call(this, sent, ...rest);
    } as typeof original;
  });
  afterAll(async () => {
    pg.Client.prototype.query = original;
    for (const s of [copy, single]) {
      await s?.db.end();
      await s?.app.close();
    }
  });

  /** The session's staging, as text, push ids left out. */
  async function staging(s: Side, pushId: string) {
    const rows = await s.db.query(
      `SELECT row_ordinal::text AS ordinal, table_id, encode(key_bytes, 'hex') AS key_hex, op_code,
              base_bundle_seq::text,
              payload_apply::text AS payload
         FROM sync.push_session_rows WHERE push_id = $1 ORDER BY row_ordinal`,
      [pushId],
    );
    const session = await s.db.query(
      'SELECT next_expected_row_ordinal::text, staged_insert_shape FROM sync.push_sessions WHERE push_id = $1',
      [pushId],
    );
    return { rows: rows.rows, session: session.rows };
  }

  const answer = (res: { status: number; text: string }, pushId: string) => ({
    status: res.status,
    text: res.text.replaceAll(pushId, '<push>'),
  });

  /** The chunk on one server: a fresh session (and prefix chunk), the body, the staging, the commit. */
  async function run(s: Side, sourceBundleId: number, built: Built) {
    const created = await s.http
      .post('/sync/push-sessions', { source_bundle_id: sourceBundleId, planned_row_count: built.plannedRowCount })
      .expect(200);
    const pushId = created.body.push_id as string;
    if (built.prefix !== undefined) await s.http.post(`/sync/push-sessions/${pushId}/chunks`, built.prefix).expect(200);
    const before = await staging(s, pushId);
    const copiesBefore = copies.get(s.app.db.name) ?? 0;
    const singleBefore = singleCalls.get(s.app.db.name) ?? 0;
    const chunk = answer(await s.http.post(`/sync/push-sessions/${pushId}/chunks`, built.body), pushId);
    // COPY, sync.push_chunk, or a COPY declined and then push_chunk
    const path = [
      ...((copies.get(s.app.db.name) ?? 0) > copiesBefore ? ['copy'] : []),
      ...((singleCalls.get(s.app.db.name) ?? 0) > singleBefore ? ['push_chunk'] : []),
    ].join('+');
    const staged = await staging(s, pushId);
    if (chunk.status !== 200) expect(staged).toEqual(before);
    let commit: { status: number; text: string } | undefined;
    if (chunk.status === 200) {
      const res = await s.http.post(`/sync/push-sessions/${pushId}/commit`);
      commit = answer(res, pushId);
      if (res.status !== 200) await s.http.delete(`/sync/push-sessions/${pushId}`);
    } else {
      await s.http.delete(`/sync/push-sessions/${pushId}`).expect(204);
    }
    return { chunk, staged, commit, path };
  }

  it(`answers, stages and commits ${RUNS} large bodies (valid and mutated) as sync.push_chunk does`, async () => {
    const cases = fc.sample(chunkCase, { seed: SEED, numRuns: RUNS });
    let sourceBundleId = 1;
    let validRuns = 0;
    for (const [i, c] of cases.entries()) {
      const built = build(i + 1, c);
      const recipes = c.recipes.map((r) => `${r.op} ${r.table}`);
      const context = `case ${i} (seed ${SEED}): ${JSON.stringify({ ...c, recipes })}`;
      const byCopy = await run(copy, sourceBundleId, built);
      const bySingle = await run(single, sourceBundleId, built);
      expect({ context, ...bySingle, path: undefined }).toEqual({ context, ...byCopy, path: undefined });
      expect(bySingle.path).not.toContain('copy');
      expect(byCopy.chunk.status).not.toBeGreaterThanOrEqual(500);
      expect(byCopy.commit?.status ?? 0).not.toBeGreaterThanOrEqual(500);
      if (built.body.length >= COPY_STAGING_MIN_BODY_CHARS && built.valid) {
        expect({ context, chunk: byCopy.chunk, path: byCopy.path }).toEqual({
          context,
          chunk: { status: 200, text: expect.stringContaining('"next_expected_row_ordinal":') },
          path: 'copy',
        });
        validRuns++;
      }
      // a chunk that stages is staged by the COPY unless its body repeats "rows" (declined: push_chunk stages it)
      if (built.body.length >= COPY_STAGING_MIN_BODY_CHARS && byCopy.chunk.status === 200)
        expect({ context, path: byCopy.path }).toEqual({
          context,
          path: c.mutation.kind === 'rows-twice' ? 'copy+push_chunk' : 'copy',
        });
      if (byCopy.commit?.status === 200) sourceBundleId++;
    }
    expect(validRuns).toBeGreaterThan(RUNS / 8);
  });

  it('stages a chunk once when its backend is terminated mid-COPY, and the pool stays fit', async () => {
    const { db, http } = copy;
    await db.query(`CREATE TABLE public.copy_probe_fired (at TIMESTAMPTZ)`);
    await db.query(`CREATE FUNCTION public.copy_probe() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.row_ordinal = 500 AND NOT EXISTS (SELECT FROM public.copy_probe_fired) THEN PERFORM pg_sleep(30); END IF;
        RETURN NEW;
      END $$`);
    // ALWAYS: the COPY stages under session_replication_role = replica
    await db.query(`CREATE TRIGGER copy_probe BEFORE INSERT ON sync.push_session_rows
      FOR EACH ROW EXECUTE FUNCTION public.copy_probe()`);
    await db.query('ALTER TABLE sync.push_session_rows ENABLE ALWAYS TRIGGER copy_probe');
    try {
      const rows = Array.from({ length: 1000 }, (_, i) =>
        rowText({ ...STAMPED_USER }, uuidOf(9999, i), i, () => '', false),
      );
      const body = `{"start_row_ordinal":0,"rows":[${rows.join(',')}]}`;
      expect(body.length).toBeGreaterThanOrEqual(COPY_STAGING_MIN_BODY_CHARS);
      // the source's next bundle id is whatever the differential left: the refusal names it
      const refused = await http.post('/sync/push-sessions', { source_bundle_id: 1_000_000, planned_row_count: 1000 });
      const next = Number(/expected next source_bundle_id (\d+)/.exec(refused.text)![1]);
      const create = async () =>
        (await http.post('/sync/push-sessions', { source_bundle_id: next, planned_row_count: 1000 }).expect(200)).body
          .push_id as string;
      const pushId = await create();
      const copies0 = copies.get(copy.app.db.name) ?? 0;
      const answer = http.post(`/sync/push-sessions/${pushId}/chunks`, body).then((res) => res);
      let pid: number | undefined;
      for (let tries = 0; pid === undefined && tries < 200; tries++) {
        const sleeping = await db.query<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event = 'PgSleep'`,
        );
        pid = sleeping.rows[0]?.pid;
        if (pid === undefined) await new Promise((resolve) => setTimeout(resolve, 25));
      }
      expect(pid).toBeDefined();
      await db.query('INSERT INTO public.copy_probe_fired VALUES (now())');
      await db.query('SELECT pg_terminate_backend($1)', [pid]);
      const res = await answer;
      expect({ status: res.status, text: res.text }).toEqual({
        status: 200,
        text: `{"push_id":"${pushId}","next_expected_row_ordinal":1000}\n`,
      });
      // the retry staged it by COPY again, on a fresh connection
      expect((copies.get(copy.app.db.name) ?? 0) - copies0).toBe(2);
      const staged = await staging(copy, pushId);
      expect(staged.rows.map((r) => Number(r.ordinal))).toEqual(rows.map((_, i) => i));
      await http.delete(`/sync/push-sessions/${pushId}`).expect(204);
      // the pool's connections are fit: the chunk stages by COPY again and commits
      const second = await create();
      await http.post(`/sync/push-sessions/${second}/chunks`, body).expect(200);
      expect((copies.get(copy.app.db.name) ?? 0) - copies0).toBe(3);
      const commit = await http.post(`/sync/push-sessions/${second}/commit`).expect(200);
      expect(commit.body.row_count).toBe(1000);
    } finally {
      await db.query('DROP TRIGGER IF EXISTS copy_probe ON sync.push_session_rows');
      await db.query('DROP FUNCTION IF EXISTS public.copy_probe()');
      await db.query('DROP TABLE IF EXISTS public.copy_probe_fired');
    }
  });

  it('answers two large chunks of one session sent at once, and a commit racing one, without a 500', async () => {
    const { http } = copy;
    const refused = await http.post('/sync/push-sessions', { source_bundle_id: 1_000_000, planned_row_count: 1 });
    let next = Number(/expected next source_bundle_id (\d+)/.exec(refused.text)![1]);
    for (let round = 0; round < 4; round++) {
      const rows = Array.from({ length: 1000 }, (_, i) =>
        rowText(STAMPED_USER, uuidOf(8000 + round, i), i, () => '', false),
      );
      const body = `{"start_row_ordinal":0,"rows":[${rows.join(',')}]}`;
      const created = await http
        .post('/sync/push-sessions', { source_bundle_id: next, planned_row_count: 1000 })
        .expect(200);
      const pushId = created.body.push_id as string;
      const path = `/sync/push-sessions/${pushId}/chunks`;
      // the same chunk twice: one stages it, the other finds the session moved on
      const answers = await Promise.all([http.post(path, body), http.post(path, body)]);
      expect(answers.map((res) => res.status).sort()).toEqual([200, 409]);
      expect((await staging(copy, pushId)).rows).toHaveLength(1000);
      await http.delete(`/sync/push-sessions/${pushId}`).expect(204);
      // a chunk and the session's commit at once: the commit sees all of the chunk or none of it
      const racing = (
        await http.post('/sync/push-sessions', { source_bundle_id: next, planned_row_count: 1000 }).expect(200)
      ).body.push_id as string;
      const [chunk, commit] = await Promise.all([
        http.post(`/sync/push-sessions/${racing}/chunks`, body),
        http.post(`/sync/push-sessions/${racing}/commit`),
      ]);
      // a commit first is refused (nothing staged yet), and the chunk is then answered as usual
      if (commit.status !== 200) expect(commit.status).toBeGreaterThanOrEqual(400);
      expect([chunk.status, commit.status].every((status) => status < 500)).toBe(true);
      if (commit.status === 200) {
        expect(commit.body.row_count).toBe(1000);
        next++;
      } else {
        expect(chunk.status).toBeLessThan(500);
        await http.delete(`/sync/push-sessions/${racing}`);
      }
    }
  });
});
