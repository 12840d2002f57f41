// What overlapping a pull page's HTTP read with its apply could give (issue #23), before building it into the
// client: a real server holds one bundle of N users; each round pulls it twice into a fresh SQLite file (WAL,
// the client's tables and statements: the business upsert and the row-state upsert per row, one transaction,
// auto-checkpoint off as a worker-read page has it), in turns:
//   whole    — this thread fetches the page and reads it as one string (fetch's text()), hands it to a worker
//              that cuts it into rows and posts them back in batches while this thread applies them (the
//              client's pipeline today: the worker cannot start before the whole body is a string);
//   worker   — the worker fetches the page and reads it as one string, then cuts it (no overlap; only the HTTP
//              read and the hand-off of the string moved off this thread);
//   streamed — the worker fetches the page itself and posts each batch as soon as its rows have arrived, this
//              thread applying them while the rest of the body is still arriving.
// All ways run the same worker code on the same rows (values sliced at their quotes, not the client's reader),
// so the difference is the overlap alone. Per way: rows/s wall (request to COMMIT), the HTTP body's own time,
// this thread's CPU and the process's, and a raw better-sqlite3 insert of the same rows in the same round
// (the bench's reference) for the ratio. Then what a worker that makes the request costs a 1-row pull page:
// 300 such pages fetched here and 300 by the (warm) worker, alternating, p50 / p95 of the time to the text.
//   DATABASE_URL=postgres://…/postgres BENCH_DATABASE_PREFIX=h5_ npx tsx test/bench/stream-overlap-probe.ts [rounds] [rows]
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { EXAMPLE_DEVICE_DDL } from '../../apps/client-node/dist/index.js';
import { dropDatabase, freshDatabase, startBenchServer } from './bench-server.js';
import { rawSqliteInsertMs, usersValues } from './references.js';
import { SyncApi, userRows } from './sync-api.js';

const rounds = Number(process.argv[2] ?? 6);
const rowCount = Number(process.argv[3] ?? 100_000);
const BATCH = 256;

/** The worker: cuts a page into rows (as a string given whole, or fetched and read chunk by chunk). */
const WORKER = `
const { parentPort } = require('node:worker_threads');
parentPort.on('message', async (task) => {
  const { port, signal } = task;
  if (task.small) {
    port.postMessage(await (await fetch(task.url, { headers: task.headers })).text());
    return;
  }
  const counter = new Int32Array(signal);
  let buf = '';
  let pos = -1;
  let batch = [];
  const post = () => {
    if (batch.length) port.postMessage(batch);
    batch = [];
    Atomics.add(counter, 0, 1);
    Atomics.notify(counter, 0);
  };
  // the values sliced at their quotes, as the client's reader does (the server's layout, plain strings)
  const member = (text, name, from) => {
    const at = text.indexOf('"' + name + '":"', from) + name.length + 4;
    return text.slice(at, text.indexOf('"', at));
  };
  const row = (text) => {
    const keyAt = text.indexOf('"key":') + 6;
    const keyEnd = text.indexOf('},"op"', keyAt) + 1;
    const versionAt = text.indexOf('"row_version":', keyEnd) + 14;
    const payloadAt = text.indexOf('"payload":', versionAt);
    batch.push([
      text.slice(keyAt, keyEnd),
      member(text, 'id', payloadAt),
      member(text, 'name', payloadAt),
      member(text, 'email', payloadAt),
      member(text, 'created_at', payloadAt),
      member(text, 'updated_at', payloadAt),
      Number(text.slice(versionAt, text.indexOf(',', versionAt))),
    ]);
    if (batch.length === ${BATCH}) post();
  };
  // complete rows of buf from pos; the last one only once the body is over
  const cut = (done) => {
    if (pos < 0) {
      const at = buf.indexOf('"rows":[');
      if (at < 0) return;
      pos = at + 8;
    }
    for (;;) {
      const end = buf.indexOf('},{"schema":', pos);
      if (end < 0) break;
      row(buf.slice(pos, end + 1));
      pos = end + 2;
    }
    if (done) row(buf.slice(pos, buf.indexOf(']}],"has_more"', pos)));
    buf = buf.slice(pos);
    pos = 0;
    post();
  };
  let bodyEnd = 0;
  if (task.text !== undefined) {
    buf = task.text;
    cut(true);
  } else if (task.whole) {
    buf = await (await fetch(task.url, { headers: task.headers })).text();
    bodyEnd = performance.timeOrigin + performance.now();
    cut(true);
  } else {
    const response = await fetch(task.url, { headers: task.headers });
    const decoder = new TextDecoder();
    for await (const chunk of response.body) {
      buf += decoder.decode(chunk, { stream: true });
      cut(false);
    }
    buf += decoder.decode();
    bodyEnd = performance.timeOrigin + performance.now();
    cut(true);
  }
  port.postMessage({ done: true, bodyEnd });
  post();
});
`;

const mainThreadCpuMs = () => {
  const fields = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
};

const ROW_STATE = `INSERT INTO _sync_row_state(schema_name, table_name, key_json, row_version, deleted, updated_at)
  VALUES (?, ?, ?, ?, 0, ?) ON CONFLICT(schema_name, table_name, key_json) DO UPDATE SET
  row_version = excluded.row_version, deleted = excluded.deleted, updated_at = excluded.updated_at
  WHERE excluded.row_version > _sync_row_state.row_version`;
const UPSERT =
  'INSERT INTO users (id, name, email, created_at, updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE ' +
  'SET name = excluded.name, email = excluded.email, created_at = excluded.created_at, ' +
  'updated_at = excluded.updated_at';

type Way = 'whole' | 'worker' | 'streamed';
const WAYS: Way[] = ['whole', 'worker', 'streamed'];
interface Run {
  ms: number;
  httpMs: number;
  mainCpuMs: number;
  cpuMs: number;
}

async function pullInto(worker: Worker, way: Way, url: string, headers: Record<string, string>): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'oversync-stream-probe-'));
  const db = new Database(join(dir, 'device.sqlite'));
  try {
    db.pragma('journal_mode = WAL');
    db.exec(EXAMPLE_DEVICE_DDL);
    db.exec(`CREATE TABLE _sync_row_state (schema_name TEXT NOT NULL, table_name TEXT NOT NULL, key_json TEXT NOT NULL,
      row_version INTEGER NOT NULL DEFAULT 0, deleted INTEGER NOT NULL DEFAULT 0, updated_at TEXT NOT NULL,
      PRIMARY KEY (schema_name, table_name, key_json))`);
    db.pragma('wal_autocheckpoint = 0');
    const rowState = db.prepare(ROW_STATE);
    const upsert = db.prepare(UPSERT);
    const { port1, port2 } = new MessageChannel();
    const signal = new SharedArrayBuffer(4);
    const counter = new Int32Array(signal);
    const cpu = process.cpuUsage();
    const mainCpu = mainThreadCpuMs();
    const t0 = performance.timeOrigin + performance.now();
    let bodyEnd = 0;
    if (way === 'whole') {
      const response = await fetch(url, { headers });
      const text = await response.text();
      bodyEnd = performance.timeOrigin + performance.now();
      worker.postMessage({ port: port2, signal, text }, [port2]);
    } else worker.postMessage({ port: port2, signal, url, headers, whole: way === 'worker' }, [port2]);
    const now = new Date().toISOString();
    let applied = 0;
    db.transaction(() => {
      for (;;) {
        const seen = Atomics.load(counter, 0);
        const message = receiveMessageOnPort(port1)?.message as
          string[][] | { done: true; bodyEnd: number } | undefined;
        if (message === undefined) {
          Atomics.wait(counter, 0, seen, 1000);
          continue;
        }
        if (!Array.isArray(message)) {
          bodyEnd ||= message.bodyEnd;
          break;
        }
        for (const r of message) {
          if (rowState.run('business', 'users', r[0], r[6], now).changes === 0) continue;
          upsert.run(r[1], r[2], r[3], r[4], r[5]);
          applied++;
        }
      }
    })();
    const t1 = performance.timeOrigin + performance.now();
    const used = process.cpuUsage(cpu);
    port1.close();
    if (applied !== rowCount) throw new Error(`${way}: applied ${applied} of ${rowCount}`);
    // the rows as pushed: each user's key in its row state, its own name and e-mail number, both times set
    const checked = db
      .prepare(
        `SELECT count(*) AS n FROM users u JOIN _sync_row_state s ON s.key_json = '{"id":"' || u.id || '"}'
         WHERE substr(u.name, 6) = substr(u.email, 5, length(u.email) - 16) AND u.created_at = u.updated_at
           AND s.row_version = 1`,
      )
      .get() as { n: number };
    if (checked.n !== rowCount) throw new Error(`${way}: ${checked.n} of ${rowCount} rows as pushed`);
    return {
      ms: t1 - t0,
      httpMs: bodyEnd - t0,
      mainCpuMs: mainThreadCpuMs() - mainCpu,
      cpuMs: (used.user + used.system) / 1000,
    };
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The bench's reference on the same rows (rows/s). */
function rawInsertRate(rows: ReturnType<typeof userRows>): number {
  return (rows.length / rawSqliteInsertMs(usersValues(rows))) * 1000;
}

const adminUrl = process.env.DATABASE_URL;
if (!adminUrl) throw new Error('DATABASE_URL (an admin URL) is required');
const dbName = `${process.env.BENCH_DATABASE_PREFIX ?? 'probe_'}stream_overlap`;
const server = await startBenchServer({ DATABASE_URL: await freshDatabase(adminUrl, dbName) });
const worker = new Worker(WORKER, { eval: true });
try {
  const user = 'stream-probe';
  const writer = new SyncApi(server.baseUrl, await server.signIn(user), 'writer');
  await writer.call('POST', '/sync/connect', { has_local_pending_rows: false });
  const rows = userRows(rowCount);
  await writer.push(1, rows);
  const url = `${server.baseUrl}/sync/pull?after_bundle_seq=0&max_bundles=1000`;
  const headers = { authorization: `Bearer ${await server.signIn(user)}`, 'oversync-source-id': 'reader' };
  // one warm-up of each way (the worker's first fetch, the JIT)
  for (const way of WAYS) await pullInto(worker, way, url, headers);
  const results: Record<Way, (Run & { raw: number })[]> = { whole: [], worker: [], streamed: [] };
  for (let round = 0; round < rounds; round++) {
    const raw = rawInsertRate(rows);
    // each way first, second and third in turn
    const order = WAYS.map((_, i) => WAYS[(i + round) % WAYS.length]!);
    if (Math.floor(round / WAYS.length) % 2 === 1) order.reverse();
    for (const way of order) {
      const run = await pullInto(worker, way, url, headers);
      results[way].push({ ...run, raw });
      const rate = (rowCount / run.ms) * 1000;
      process.stdout.write(
        `${new Date().toISOString().slice(11, 19)} round ${round} ${way.padEnd(8)} ${Math.round(rate)} rows/s ` +
          `(${(rate / raw).toFixed(3)} × raw ${Math.round(raw)}), wall ${run.ms.toFixed(0)} ms, body ` +
          `${run.httpMs.toFixed(0)} ms, main CPU ${run.mainCpuMs.toFixed(0)} ms, ` +
          `process CPU ${run.cpuMs.toFixed(0)} ms\n`,
      );
    }
  }
  const median = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)]!;
  };
  const spread = (values: number[]) =>
    `${Math.round(Math.min(...values))} / ${Math.round(median(values))} / ${Math.round(Math.max(...values))}`;
  for (const way of WAYS) {
    const runs = results[way];
    process.stdout.write(
      `${way}: rows/s ${spread(runs.map((r) => (rowCount / r.ms) * 1000))}; × raw ` +
        `${runs
          .map((r) => ((rowCount / r.ms) * 1000) / r.raw)
          .sort((a, b) => a - b)
          .map((x) => x.toFixed(3))
          .join(' ')}; body ms ${spread(runs.map((r) => r.httpMs))}; main CPU ms ` +
        `${spread(runs.map((r) => r.mainCpuMs))}; process CPU ms ${spread(runs.map((r) => r.cpuMs))}\n`,
    );
  }
  const small = 'stream-probe-small';
  const smallWriter = new SyncApi(server.baseUrl, await server.signIn(small), 'writer');
  await smallWriter.call('POST', '/sync/connect', { has_local_pending_rows: false });
  await smallWriter.push(1, userRows(1));
  const smallUrl = `${server.baseUrl}/sync/pull?after_bundle_seq=0&max_bundles=1000`;
  const smallHeaders = { authorization: `Bearer ${await server.signIn(small)}`, 'oversync-source-id': 'reader' };
  const times: Record<'here' | 'worker', number[]> = { here: [], worker: [] };
  for (let i = 0; i < 620; i++) {
    const where = i % 2 === 0 ? 'here' : 'worker';
    const t = performance.now();
    let text: string;
    if (where === 'here') text = await (await fetch(smallUrl, { headers: smallHeaders })).text();
    else {
      const { port1, port2 } = new MessageChannel();
      const answer = once(port1, 'message');
      worker.postMessage({ small: true, port: port2, url: smallUrl, headers: smallHeaders }, [port2]);
      text = (await answer)[0] as string;
      port1.close();
    }
    if (!text.includes('"row_count":1,')) throw new Error(`1-row page: ${text.slice(0, 200)}`);
    if (i >= 20) times[where].push(performance.now() - t);
  }
  const at = (values: number[], q: number) => [...values].sort((a, b) => a - b)[Math.floor(values.length * q)]!;
  for (const where of ['here', 'worker'] as const) {
    process.stdout.write(
      `1-row pull page fetched ${where}: p50 ${at(times[where], 0.5).toFixed(3)} ms, ` +
        `p95 ${at(times[where], 0.95).toFixed(3)} ms (${times[where].length})\n`,
    );
  }
} finally {
  await worker.terminate();
  await server.stop();
  await dropDatabase(adminUrl, dbName);
}
