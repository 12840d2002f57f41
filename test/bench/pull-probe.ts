// Bulk pull alone: one bundle of N rows (pushed once, kept in the database of DATABASE_URL under
// user `pullprobe-N`), then pulls of it from 0 read three ways — as one string (fetch + text(), what
// SyncApi.call does), as Buffers (fetch body chunks, what a device that parses while reading does),
// and with node:http (no fetch layer) — beside PostgreSQL alone (the COPY of the stored rows the
// server streams, read and dropped), the committed-rows fetch of the same bundle page by page, and
// the server's RSS growth while one pull is served.
//   DATABASE_URL=postgres://…/pull_probe npx tsx test/bench/pull-probe.ts [rows=100000] [reps=5]
//   env: HTTP_ADAPTER=express|fastify (the server's platform), PROBE_READS=text,buffers,http,pg,committed
import http from 'node:http';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { startBenchServer } from './bench-server.js';
import { SyncApi, userRows } from './sync-api.js';

const rows = Number(process.argv[2] ?? 100_000);
const reps = Number(process.argv[3] ?? 5);
const reads = (process.env.PROBE_READS ?? 'text,buffers,http,pg').split(',');
const adapter = process.env.HTTP_ADAPTER ?? 'express';
const server = await startBenchServer({ HTTP_ADAPTER: adapter });
const user = `pullprobe-${rows}`;
/** CPU time of the server process so far (user + system), ms. */
const serverCpuMs = () => {
  const fields = readFileSync(`/proc/${server.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
};
const mean = (xs: number[]) => xs.reduce((sum, x) => sum + x, 0) / xs.length;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const load = () =>
  os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

/**
 * One bundle of `rows` rows, pushed in chunks of 5,000 generated as they go (a 1M-row array would not
 * fit the probe); a session left fully staged by an interrupted seed is committed as it is. The commit
 * goes over node:http: a 1M-row commit on a loaded machine outlives fetch's 300 s headers timeout.
 */
async function seed(api: SyncApi, staged: string | undefined): Promise<void> {
  let pushId = staged;
  if (!pushId) {
    pushId = (
      JSON.parse(await api.call('POST', '/sync/push-sessions', { source_bundle_id: 1, planned_row_count: rows })) as {
        push_id: string;
      }
    ).push_id;
    for (let start = 0; start < rows; start += 5000) {
      await api.call('POST', `/sync/push-sessions/${pushId}/chunks`, {
        start_row_ordinal: start,
        rows: userRows(Math.min(5000, rows - start)),
      });
    }
  }
  const t = performance.now();
  const status = await new Promise<number>((resolve, reject) => {
    const req = http.request(`${api.baseUrl}/sync/push-sessions/${pushId}/commit`, {
      method: 'POST',
      headers: { authorization: `Bearer ${api.token}`, 'oversync-source-id': api.sourceId },
    });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
  console.log(`seeded ${rows} rows in one bundle: commit ${status} in ${(performance.now() - t).toFixed(0)} ms`);
  if (status !== 200) throw new Error(`commit answered ${status}`);
}

function pullUrl(api: SyncApi): [string, Record<string, string>] {
  return [
    `${api.baseUrl}/sync/pull?after_bundle_seq=0`,
    { authorization: `Bearer ${api.token}`, 'oversync-source-id': api.sourceId },
  ];
}

async function readText(api: SyncApi): Promise<number> {
  const [url, headers] = pullUrl(api);
  const res = await fetch(url, { headers });
  return Buffer.byteLength(await res.text());
}

async function readBuffers(api: SyncApi): Promise<number> {
  const [url, headers] = pullUrl(api);
  const res = await fetch(url, { headers });
  let bytes = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) bytes += chunk.length;
  return bytes;
}

function readHttp(api: SyncApi): Promise<number> {
  const [url, headers] = pullUrl(api);
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers }, (res) => {
        let bytes = 0;
        res.on('data', (chunk: Buffer) => (bytes += chunk.length));
        res.on('end', () => resolve(bytes));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

/** PostgreSQL alone: the binary COPY the server runs for this page, read and dropped. */
async function readPg(userPk: string): Promise<number> {
  const client = new pg.Client({ connectionString: server.databaseUrl });
  await client.connect();
  try {
    const stream = client.query(
      copyTo(`COPY (SELECT bundle_seq, rows_text FROM sync.bundle_row_blocks WHERE user_pk = ${BigInt(userPk)}
        AND bundle_seq > 0 ORDER BY bundle_seq, block_no) TO STDOUT (FORMAT binary)`),
    );
    let bytes = 0;
    for await (const chunk of stream as AsyncIterable<Buffer>) bytes += chunk.length;
    return bytes;
  } finally {
    await client.end();
  }
}

/** Every page of GET /sync/committed-bundles/1/rows at the largest page size, bodies read as Buffers. */
async function readCommitted(api: SyncApi): Promise<number> {
  let after: number | null = null;
  let bytes = 0;
  let received = 0;
  for (;;) {
    const query = `max_rows=5000${after === null ? '' : `&after_row_ordinal=${after}`}`;
    const res = await fetch(`${api.baseUrl}/sync/committed-bundles/1/rows?${query}`, {
      headers: { authorization: `Bearer ${api.token}`, 'oversync-source-id': api.sourceId },
    });
    const body = Buffer.from(await res.arrayBuffer());
    bytes += body.length;
    // the paging members are at the end of the body
    const tail = body.subarray(Math.max(0, body.length - 200)).toString();
    const next = /"next_row_ordinal":(\d+),"has_more":(true|false)/.exec(tail);
    if (!next) throw new Error(`committed rows: ${res.status} ${tail}`);
    received = Number(next[1]) + 1;
    after = Number(next[1]);
    if (next[2] === 'false') break;
  }
  if (received !== rows) throw new Error(`committed rows: ${received} of ${rows}`);
  return bytes;
}

try {
  const api = new SyncApi(server.baseUrl, await server.signIn(user), 'a');
  await api.call('POST', '/sync/connect', { has_local_pending_rows: false });
  const admin = new pg.Client({ connectionString: server.databaseUrl });
  await admin.connect();
  const state = await admin.query<{ user_pk: string; next_bundle_seq: string }>(
    'SELECT user_pk, next_bundle_seq FROM sync.user_state WHERE user_id = $1',
    [user],
  );
  const staged = await admin.query<{ push_id: string }>(
    `SELECT ps.push_id::text FROM sync.push_sessions ps JOIN sync.user_state us USING (user_pk)
      WHERE us.user_id = $1 AND ps.next_expected_row_ordinal = ps.planned_row_count AND ps.expires_at > now()`,
    [user],
  );
  await admin.end();
  if (state.rows[0]!.next_bundle_seq === '1') await seed(api, staged.rows[0]?.push_id);
  const userPk = state.rows[0]!.user_pk;
  const reader = new SyncApi(server.baseUrl, api.token, 'b');
  const ways: Record<string, () => Promise<number>> = {
    text: () => readText(reader),
    buffers: () => readBuffers(reader),
    http: () => readHttp(reader),
    pg: () => readPg(userPk),
    committed: () => readCommitted(reader),
  };
  const times: Record<string, number[]> = {};
  const cpu: Record<string, number[]> = {};
  const ownCpu: Record<string, number[]> = {};
  let bytes = 0;
  // warm-up: one of each
  for (const way of reads) await ways[way]!();
  for (let rep = 0; rep < reps; rep++) {
    for (const way of reads) {
      const c = serverCpuMs();
      const own = process.cpuUsage();
      const t = performance.now();
      const n = await ways[way]!();
      (times[way] ??= []).push(performance.now() - t);
      (cpu[way] ??= []).push(serverCpuMs() - c);
      const used = process.cpuUsage(own);
      (ownCpu[way] ??= []).push((used.user + used.system) / 1000);
      if (way !== 'pg' && way !== 'committed') bytes = n;
    }
  }
  console.log(
    `${adapter}: pull of one ${rows}-row bundle (${(bytes / 2 ** 20).toFixed(1)} MiB), medians of ${reps}, ` +
      `load ${load()}`,
  );
  for (const way of reads) {
    const ms = median(times[way]!);
    console.log(
      `  ${way.padEnd(10)} ${ms.toFixed(0).padStart(6)} ms  ${((rows / ms) * 1000).toFixed(0).padStart(9)} ` +
        `rows/s   CPU: server ${mean(cpu[way]!).toFixed(0).padStart(4)} ms, reader ` +
        `${mean(ownCpu[way]!).toFixed(0).padStart(4)} ms   (${times[way]!.map((x) => x.toFixed(0)).join(' ')})`,
    );
  }
  // RSS growth while one pull is served, read as Buffers
  const before = server.rssMiB();
  server.resetPeakRss();
  const t = performance.now();
  await readBuffers(reader);
  console.log(
    `  one pull read as Buffers: ${(performance.now() - t).toFixed(0)} ms, server RSS ${before.toFixed(0)} ` +
      `MiB, growth ${(server.windowPeakRssMiB() - before).toFixed(1)} MiB`,
  );
} finally {
  await server.stop();
}
