import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { SyncHttp } from '../support/sync-http.js';
import { DatabaseFingerprint, type Fingerprint } from './database-fingerprint.js';
import { FUZZ_LONG, fuzzPath, fuzzSeed, httpInputCases } from './fuzz-budget.js';
import {
  ENDPOINTS,
  FUZZ_SOURCES,
  ODD_USERS,
  parserCase,
  spellUuid,
  type FuzzCase,
  type FuzzWorld,
  type ParserCase,
} from './http-input-arbitraries.js';
import { exchangeRaw, splitResponses } from './raw-request.js';
import { signJwt } from './forged-tokens.js';
import { describeRequest, sendRaw, type RawRequest, type RawResponse } from './raw-request.js';

// Malformed-input fuzz (issue 11, part 2): generated hostile requests on every route of spec §3. Whatever
// arrives, the answer is never a 5xx, every refusal is the `{error, message}` envelope, and a refused
// request leaves every table of the sync and business schemas exactly as it was.

const CASES = httpInputCases();
const SEED = fuzzSeed(0x11a7e);
const MAX_BODY_BYTES = 256 * 1024;
// fixed ids so that a seed replays the same cases on a fresh database
const ALICE_USERS = ['11111111-1111-4111-8111-111111111111', '11111111-1111-4111-8111-111111111112'];
const ALICE_FILE = '11111111-1111-4111-8111-111111111113';
const ALICE_POST = '11111111-1111-4111-8111-111111111114';
const BOB_USER = '22222222-2222-4222-8222-222222222221';

const userRow = (id: string, name = 'n') => ({
  schema: 'business',
  table: 'users',
  key: { id },
  op: 'INSERT',
  base_row_version: 0,
  payload: { id, name, email: `${name}@example.com` },
});

/** What is wrong with an answer, if anything: a 5xx, a refusal without the envelope, a 204 with a body. */
function answerViolation(method: string, res: RawResponse): string | undefined {
  if (res.status >= 500) return '5xx answer';
  if (res.status === 204) return res.body.length === 0 ? undefined : '204 with a body';
  if (res.stream) return method === 'GET' || method === 'HEAD' ? undefined : 'event stream for a non-GET request';
  if (res.headers['content-type'] !== 'application/json') return 'Content-Type is not application/json';
  if (method === 'HEAD') return undefined;
  let body: { error?: unknown; message?: unknown } | null;
  try {
    body = JSON.parse(res.body.toString('utf8')) as { error?: unknown; message?: unknown } | null;
  } catch {
    return 'body is not JSON';
  }
  if (res.status < 300) return undefined;
  const envelope =
    typeof body === 'object' &&
    body !== null &&
    typeof body.error === 'string' &&
    body.error !== '' &&
    typeof body.message === 'string';
  return envelope ? undefined : 'refusal is not the {error, message} envelope';
}

interface Figures {
  cases: number;
  followUpCommits: number;
  /** follow-up commits that committed a bundle */
  committed: number;
  accepted: number;
  rejected: number;
  noResponse: number;
  serverErrors: number;
  /** answers that lacked the envelope or Content-Type application/json (every one fails the run) */
  withoutEnvelope: number;
  /** refused requests after which a table differed (every one fails the run) */
  changedByRefusal: number;
  /** raw requests Node's HTTP parser refuses, and the answers they got */
  parserCases: number;
  byStatus: Record<number, number>;
  /** cases and accepted cases per route family */
  byEndpoint: Record<string, [cases: number, accepted: number]>;
}

describe(`malformed-input fuzz over every sync route (${CASES} cases, seed ${SEED})`, () => {
  let t: TestApp;
  let fingerprint: DatabaseFingerprint;
  let alice: SyncHttp;
  let tokens: Record<string, string>;
  let bobPush: string;
  let bobSnapshot: string;
  let aliceSnapshot: string | undefined;
  let lastPrint: Fingerprint | undefined;
  const world: FuzzWorld = { maxBodyBytes: MAX_BODY_BYTES, aliceUserIds: ALICE_USERS };
  const figures: Figures = {
    cases: 0,
    followUpCommits: 0,
    committed: 0,
    accepted: 0,
    rejected: 0,
    noResponse: 0,
    serverErrors: 0,
    withoutEnvelope: 0,
    changedByRefusal: 0,
    parserCases: 0,
    byStatus: {},
    byEndpoint: {},
  };
  const started = Date.now();

  beforeAll(async () => {
    t = await startTestApp({ env: { OVERSYNC_MAX_BODY_BYTES: String(MAX_BODY_BYTES) } });
    // tokens valid for the whole run: a long run outlasts the 5 minutes of a /dummy-signin token
    const now = Math.floor(Date.now() / 1000);
    const sign = (user: string) =>
      signJwt({ alg: 'HS256', typ: 'JWT' }, { sub: user, iat: now, exp: now + 6 * 3600 }, t.config.jwtSecret);
    tokens = { alice: sign('alice'), bob: sign('bob'), carol: sign('carol') };
    for (const [name, user] of Object.entries(ODD_USERS)) tokens[name] = sign(user);
    alice = new SyncHttp(t.baseUrl, tokens.alice!, FUZZ_SOURCES.alice);
    await alice.connect(false);
    const file = {
      schema: 'business',
      table: 'files',
      key: { id: ALICE_FILE },
      op: 'INSERT',
      base_row_version: 0,
      payload: { id: ALICE_FILE, name: 'f', data: 'AAEC' },
    };
    expectOk(await alice.push(1, [userRow(ALICE_USERS[0]!), userRow(ALICE_USERS[1]!), file]));
    const post = {
      schema: 'business',
      table: 'posts',
      key: { id: ALICE_POST },
      op: 'INSERT',
      base_row_version: 0,
      payload: { id: ALICE_POST, title: 't', content: 'c', author_id: ALICE_USERS[0] },
    };
    expectOk(await alice.push(2, [post]));

    const bob = new SyncHttp(t.baseUrl, tokens.bob!, FUZZ_SOURCES.bob);
    await bob.connect(false);
    expectOk(await bob.push(1, [userRow(BOB_USER, 'bob')]));
    bobPush = (await bob.post('/sync/push-sessions', { source_bundle_id: 2, planned_row_count: 2 }).expect(200)).body
      .push_id;
    await bob
      .post(`/sync/push-sessions/${bobPush}/chunks`, {
        start_row_ordinal: 0,
        rows: [userRow('22222222-2222-4222-8222-222222222222', 'bob2')],
      })
      .expect(200);
    bobSnapshot = (await bob.post('/sync/snapshot-sessions').expect(200)).body.snapshot_id;
    fingerprint = await DatabaseFingerprint.open(t.db.url);
  });

  afterAll(async () => {
    const seconds = (Date.now() - started) / 1000;
    console.log(
      `http-input fuzz figures (seed ${SEED}): ` +
        `${JSON.stringify({ ...figures, seconds: Math.round(seconds * 10) / 10 })}`,
    );
    await fingerprint?.close();
    await t?.close();
  });

  function expectOk(res: { status: number; text: string }) {
    if (res.status !== 200) throw new Error(`fixture request failed: ${res.status} ${res.text}`);
  }

  /** A fresh staging session of alice's source (replacing the previous one of the same tuple). */
  async function freshPushSession(plannedRowCount: number): Promise<string> {
    const [{ next }] = (await fingerprint.query<{ next: string }>(
      `SELECT COALESCE(MAX(ss.max_committed_source_bundle_id), 0) + 1 AS next FROM sync.source_state ss
         JOIN sync.user_state us USING (user_pk) WHERE us.user_id = 'alice' AND ss.source_id = $1`,
      [FUZZ_SOURCES.alice],
    )) as [{ next: string }];
    const res = await alice.post('/sync/push-sessions', {
      source_bundle_id: Number(next),
      planned_row_count: plannedRowCount,
    });
    if (res.status !== 200 || res.body.status !== 'staging')
      throw new Error(`fixture push session: ${res.status} ${res.text}`);
    return res.body.push_id as string;
  }

  async function snapshotSession(): Promise<string> {
    aliceSnapshot ??= (await alice.post('/sync/snapshot-sessions').expect(200)).body.snapshot_id as string;
    return aliceSnapshot;
  }

  /** Fills the case's placeholders with live fixture ids and tokens. */
  async function resolve(c: FuzzCase): Promise<RawRequest> {
    let path = c.path;
    if (path.includes('{push}')) {
      path = path.replaceAll('{push}', await freshPushSession(c.plannedRowCount ?? 1));
      lastPrint = undefined;
    }
    if (path.includes('{snapshot}')) {
      if (!aliceSnapshot) lastPrint = undefined;
      path = path.replaceAll('{snapshot}', await snapshotSession());
    }
    path = path
      .replaceAll('{bob_push}', bobPush)
      .replaceAll('{bob_snapshot}', bobSnapshot)
      .replace(/\{spell:([\w-]+):([0-9a-f-]{36})\}/g, (_, spelling: string, id: string) => spellUuid(spelling, id));
    const fill = (text: string) =>
      text.replaceAll('{source}', c.source).replace(/\{token:(\w+)\}/g, (_, user: string) => tokens[user] ?? '');
    return {
      method: c.method,
      path,
      headers: c.headers.map(([name, value]) => [name, Array.isArray(value) ? value.map(fill) : fill(value)]),
      body:
        c.body && c.body.includes('{source}')
          ? Buffer.from(c.body.toString('latin1').replaceAll('{source}', c.source), 'latin1')
          : c.body,
      framing: c.framing,
    };
  }

  /** Sends one request and checks the answer and the database; returns the response. */
  async function check(request: RawRequest, label: string): Promise<RawResponse | undefined> {
    const before = lastPrint ?? (await fingerprint.read());
    const res = await sendRaw(t.baseUrl, request, request.framing === 'long' ? 300 : 15_000);
    if (res === undefined && request.framing === 'long') await new Promise((r) => setTimeout(r, 20));
    const after = await fingerprint.read();
    lastPrint = after;
    const fail = (why: string) => {
      const answer = res
        ? `${res.status} ${String(res.headers['content-type'])} ${res.body.subarray(0, 400).toString('utf8')}`
        : 'no response';
      return new Error(`${label}: ${why}\n  request: ${describeRequest(request)}\n  answer: ${answer}`);
    };
    if (res === undefined) {
      figures.noResponse++;
      if (request.framing !== 'long') throw fail('no answer');
    } else {
      figures.byStatus[res.status] = (figures.byStatus[res.status] ?? 0) + 1;
      if (res.status >= 500) figures.serverErrors++;
      const violation = answerViolation(request.method, res);
      if (violation) {
        if (violation !== '5xx answer') figures.withoutEnvelope++;
        throw fail(violation);
      }
    }
    const accepted = res !== undefined && res.status < 300;
    if (accepted) figures.accepted++;
    else {
      figures.rejected++;
      const changed = DatabaseFingerprint.changed(before, after);
      if (changed.length > 0) {
        figures.changedByRefusal++;
        throw fail(`refused, yet changed ${changed.join(', ')}`);
      }
    }
    return res;
  }

  async function runCase(c: FuzzCase): Promise<void> {
    figures.cases++;
    const request = await resolve(c);
    const res = await check(request, `${c.endpoint} (broken at: ${c.site})`);
    const tally = (figures.byEndpoint[c.endpoint] ??= [0, 0]);
    tally[0]++;
    if (res && res.status < 300) tally[1]++;
    if (res?.status === 204 && request.path.startsWith('/sync/snapshot-sessions/')) aliceSnapshot = undefined;
    // accepted snapshots are dropped again, so the fingerprint (md5 of every row) stays cheap
    if (c.endpoint === 'snapshot-create' && res?.status === 200) {
      const { snapshot_id: id } = JSON.parse(res.body.toString('utf8')) as { snapshot_id: string };
      await fingerprint.query('DELETE FROM sync.snapshot_sessions WHERE snapshot_id = $1', [id]);
      lastPrint = undefined;
    }
    // an accepted chunk is committed at once, so odd-but-valid payloads also reach the business tables
    if (c.endpoint === 'chunk' && res?.status === 200) {
      figures.followUpCommits++;
      const pushId = request.path.split('/')[3]!;
      const headers: Array<[string, string]> = [
        ['Authorization', `Bearer ${tokens.alice}`],
        ['Oversync-Source-ID', FUZZ_SOURCES.alice],
      ];
      const commit = await check(
        { method: 'POST', path: `/sync/push-sessions/${pushId}/commit`, headers },
        'commit after an accepted chunk',
      );
      if (commit?.status === 200) figures.committed++;
    }
  }

  const printable = (c: FuzzCase): FuzzCase =>
    Object.defineProperty(c, fc.toStringMethod, {
      value: () => `[${c.endpoint}, broken at: ${c.site}] ${describeRequest(c)}`,
      enumerable: false,
    });

  it('the fingerprint sees every change (a new push session)', async () => {
    const before = await fingerprint.read();
    await freshPushSession(1);
    lastPrint = undefined;
    expect(DatabaseFingerprint.changed(before, await fingerprint.read())).toEqual(['sync.push_sessions']);
  });

  // Requests Node's HTTP parser refuses before any Nest code (oversize headers, unknown or lower-case
  // methods, a body longer than its Content-Length, broken request lines): every answer on the
  // connection is the envelope with Content-Type application/json, never ≥ 500, and nothing changes.
  const parserRuns = Math.max(20, Math.floor(CASES / 20));
  it(
    `HTTP parser layer: ${parserRuns} raw cases`,
    async () => {
      await fc.assert(
        fc.asyncProperty(parserCase, async (c: ParserCase) => {
          figures.parserCases++;
          const bytes = Buffer.from(
            c.bytes
              .toString('latin1')
              .replaceAll('{token:alice}', tokens.alice!)
              .replaceAll('{source}', FUZZ_SOURCES.alice),
            'latin1',
          );
          const before = lastPrint ?? (await fingerprint.read());
          const answers = splitResponses(await exchangeRaw(t.baseUrl, bytes, 3000));
          const after = await fingerprint.read();
          lastPrint = after;
          const label = `${c.kind}: ${JSON.stringify(bytes.subarray(0, 160).toString('latin1'))}`;
          if (answers.length === 0) throw new Error(`${label}: no answer`);
          let refused = false;
          for (const answer of answers) {
            figures.byStatus[answer.status] = (figures.byStatus[answer.status] ?? 0) + 1;
            if (answer.status >= 500) {
              figures.serverErrors++;
              throw new Error(`${label}: ${answer.status}`);
            }
            if (answer.status < 300) continue;
            refused = true;
            const envelope =
              answer.headers['content-type'] === 'application/json' &&
              /^\{"error":"[^"]+","message":"/.test(answer.body);
            if (!envelope) {
              figures.withoutEnvelope++;
              throw new Error(
                `${label}: answer without the envelope: ${answer.status} ${answer.headers['content-type']} ` +
                  `${answer.body.slice(0, 200)}`,
              );
            }
          }
          if (refused) figures.rejected++;
          const changed = DatabaseFingerprint.changed(before, after);
          if (changed.length > 0) {
            figures.changedByRefusal++;
            throw new Error(`${label}: changed ${changed.join(', ')}`);
          }
        }),
        {
          seed: SEED,
          path: fuzzPath(),
          numRuns: parserRuns,
          interruptAfterTimeLimit: 5 * 60_000,
          markInterruptAsFailure: false,
        },
      );
    },
    120_000 + parserRuns * 250,
  );

  // the budget split by weight, remainders to the first routes, so the cases add up to CASES exactly
  const shares = ENDPOINTS.map((endpoint) => Math.floor((CASES * endpoint.weight) / 100));
  for (let i = 0; shares.reduce((sum, n) => sum + n, 0) < CASES; i++) shares[i % shares.length]!++;
  ENDPOINTS.forEach((endpoint, index) => {
    const numRuns = Math.max(1, shares[index]!);
    it(
      `${endpoint.name}: ${numRuns} cases`,
      async () => {
        await fc.assert(fc.asyncProperty(endpoint.arbitrary(world).map(printable), runCase), {
          seed: SEED,
          path: fuzzPath(),
          numRuns,
          // shrinking re-sends requests; keep it bounded so a failure reports in reasonable time
          interruptAfterTimeLimit: FUZZ_LONG ? 20 * 60_000 : 5 * 60_000,
          markInterruptAsFailure: false,
        });
      },
      120_000 + numRuns * 250,
    );
  });
});
