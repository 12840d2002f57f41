// Bulk pull A/B probe: two builds' servers side by side (BENCH_BASE_CWD, the other build's checkout, against this
// one; the same checkout twice compares readers only), each on its own fresh database (PULL_AB_DB_PREFIX, default
// "pullab_", + a / b) holding one PULL_PROBE_ROWS-row bundle (default 100,000), pulled from 0 in turn, A B B A…,
// PULL_AB_PAIRS pairs (default 6) per reader after one warm-up each. Per pull: the wall, the CPU of the server
// process (user / system), of its PostgreSQL backends and of this reading process. Readers (PULL_AB_READERS,
// default `fetch,raw`): `fetch` is the bench's `pullAsBuffers` (undici fetch, body read with for await); `raw`
// reads the answer off a plain socket and drops it (no HTTP library: the reading side at its cheapest).
// PULL_AB_READER_HEAP_ROWS=N keeps N generated rows alive in this process while it reads (the bench's process
// holds its row arrays and results: a reader's collections cost more on a larger heap).
// PULL_AB_FRESH=1: each pull is of a bundle committed just before it by a fresh user (as the bench's bulk phase
// pulls: the first read after the commit), the readers `fetch` then `again` (fetch, the same bundle a second time);
// PULL_AB_SETTLE_MS waits that long between the commit and the pull.
//   DATABASE_URL=<admin> BENCH_BASE_CWD=/work/main npx tsx test/bench/pull-ab-probe.ts
import net from 'node:net';
import os from 'node:os';
import pg from 'pg';
import { databaseBackendCpu, dropDatabase, freshDatabase, processCpu, startBenchServer } from './bench-server.js';
import type { BenchServer } from './bench-server.js';
import { pullAsBuffers } from './bulk-memory.js';
import { summarize } from './stats.js';
import { SyncApi, userRows } from './sync-api.js';

const rows = Number(process.env.PULL_PROBE_ROWS ?? 100_000);
const pairs = Number(process.env.PULL_AB_PAIRS ?? 6);
const adminUrl = process.env.DATABASE_URL;
if (!adminUrl) throw new Error('DATABASE_URL (an admin connection) is required');
const prefix = process.env.PULL_AB_DB_PREFIX ?? 'pullab_';
const baseCwd = process.env.BENCH_BASE_CWD;
if (!baseCwd) throw new Error('BENCH_BASE_CWD (the checkout of the build to compare with, built) is required');
const fresh = process.env.PULL_AB_FRESH === '1';
const readers = (process.env.PULL_AB_READERS ?? (fresh ? 'fetch,again' : 'fetch,raw')).split(',');
const PATH = '/sync/pull?after_bundle_seq=0';
let users = 0;
/** PULL_AB_SETTLE_MS: a pause between the commit and the fresh pull (the push's after-work out of the way) */
const settleMs = Number(process.env.PULL_AB_SETTLE_MS ?? 0);
/** rows kept alive for the whole run (PULL_AB_READER_HEAP_ROWS) */
export const heldRows = userRows(Number(process.env.PULL_AB_READER_HEAP_ROWS ?? 0));

/** The answer read off a plain socket and dropped: Content-Length or chunked (JSON holds no raw CR LF). */
function pullRaw(api: SyncApi): Promise<number> {
  const url = new URL(api.baseUrl);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: url.hostname, port: Number(url.port), noDelay: true });
    let head = '';
    let bodyBytes = 0;
    let length = -1;
    let tail = '';
    socket.on('error', reject);
    socket.on('data', (data: Buffer) => {
      let body = data;
      if (length === -1 && !head.endsWith('\r\n\r\n')) {
        const text = data.toString('latin1');
        const end = (head + text).indexOf('\r\n\r\n');
        if (end < 0) return void (head += text);
        const before = head.length;
        head = (head + text).slice(0, end + 4);
        body = data.subarray(end + 4 - before);
        const found = /content-length: *(\d+)/i.exec(head);
        length = found ? Number(found[1]) : -2;
        if (!head.startsWith('HTTP/1.1 200')) reject(new Error(head.split('\r\n')[0]));
      }
      bodyBytes += body.length;
      const done =
        length >= 0
          ? bodyBytes >= length
          : (tail = (tail + body.subarray(Math.max(0, body.length - 8)).toString('latin1')).slice(-7)) ===
            '\r\n0\r\n\r\n';
      if (done) {
        socket.destroy();
        resolve(bodyBytes);
      }
    });
    socket.write(
      `GET ${PATH} HTTP/1.1\r\nauthorization: Bearer ${api.token}\r\noversync-source-id: ${api.sourceId}\r\n` +
        `Host: ${url.host}\r\nConnection: keep-alive\r\n\r\n`,
    );
  });
}

interface Build {
  name: string;
  cwd: string;
  db: string;
  server?: BenchServer;
  monitor?: pg.Client;
  reader?: SyncApi;
}
const builds: Build[] = [
  { name: 'base', cwd: baseCwd, db: `${prefix}a` },
  { name: 'this', cwd: process.cwd(), db: `${prefix}b` },
];
interface Sample {
  ms: number;
  serverUser: number;
  serverSys: number;
  pgCpu: number;
  readerCpu: number;
}
const samples = new Map<string, Sample[]>();

async function pullOnce(build: Build, reader: string): Promise<Sample> {
  const server = build.server!;
  if (fresh && reader !== 'again') await seed(build);
  const c0 = processCpu(server.pid);
  const pg0 = await databaseBackendCpu(build.monitor!);
  const own = process.cpuUsage();
  const t = performance.now();
  if (reader !== 'raw') await pullAsBuffers(build.reader!, PATH);
  else await pullRaw(build.reader!);
  const ms = performance.now() - t;
  const used = process.cpuUsage(own);
  const c1 = processCpu(server.pid);
  let pgCpu = 0;
  for (const [pid, seconds] of await databaseBackendCpu(build.monitor!))
    pgCpu += Math.max(0, seconds - (pg0.get(pid) ?? 0)) * 1000;
  return {
    ms,
    serverUser: c1.userMs - c0.userMs,
    serverSys: c1.systemMs - c0.systemMs,
    pgCpu,
    readerCpu: (used.user + used.system) / 1000,
  };
}

const fmt = (s: Sample) =>
  `${s.ms.toFixed(0)} ms (${((rows / s.ms) * 1000).toFixed(0)} rows/s), server ${s.serverUser}+${s.serverSys} ms, ` +
  `pg ${s.pgCpu.toFixed(0)} ms, reader ${s.readerCpu.toFixed(0)} ms`;
/** A fresh user's bundle of `rows` rows, and a reader device of that user. */
async function seed(build: Build): Promise<void> {
  const token = await build.server!.signIn(`pullab-${users++}`);
  const writer = new SyncApi(build.server!.baseUrl, token, 'writer');
  await writer.call('POST', '/sync/connect', { has_local_pending_rows: false });
  await writer.push(1, userRows(rows));
  build.reader = new SyncApi(build.server!.baseUrl, token, 'reader');
  if (settleMs > 0) await new Promise((resolve) => setTimeout(resolve, settleMs));
}

try {
  for (const build of builds) {
    const url = await freshDatabase(adminUrl, build.db);
    build.server = await startBenchServer({ BENCH_SERVER_CWD: build.cwd, DATABASE_URL: url });
    build.monitor = new pg.Client({ connectionString: url });
    await build.monitor.connect();
    await seed(build);
    for (const reader of readers) await pullOnce(build, reader);
  }
  console.log(`reader heap ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MiB`);
  console.log(
    `load before: ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}, ${new Date().toISOString()}`,
  );
  for (let pair = 0; pair < pairs; pair++) {
    for (const reader of readers) {
      for (const i of pair % 2 ? [1, 0] : [0, 1]) {
        const build = builds[i]!;
        const s = await pullOnce(build, reader);
        const key = `${build.name} ${reader}`;
        samples.set(key, [...(samples.get(key) ?? []), s]);
        console.log(`${key.padEnd(12)} ${fmt(s)}`);
      }
    }
  }
  console.log(
    `load after: ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}, ${new Date().toISOString()}`,
  );
  const med = (xs: number[]) => summarize(xs).median;
  const mean = (xs: number[]) => xs.reduce((sum, x) => sum + x, 0) / xs.length;
  for (const [key, s] of samples) {
    const ms = s.map((x) => x.ms);
    const { min, max } = summarize(ms);
    const server = s.map((x) => x.serverUser + x.serverSys);
    console.log(
      `${key.padEnd(12)} medians of ${s.length}: ${((rows / med(ms)) * 1000).toFixed(0)} rows/s ` +
        `(${med(ms).toFixed(0)} ms, ${min.toFixed(0)}–${max.toFixed(0)}), CPU server ${med(server).toFixed(0)} ms ` +
        `(user ${med(s.map((x) => x.serverUser)).toFixed(0)}, sys ${med(s.map((x) => x.serverSys)).toFixed(0)}), ` +
        `pg ${med(s.map((x) => x.pgCpu)).toFixed(0)} ms, reader ${med(s.map((x) => x.readerCpu)).toFixed(0)} ms; ` +
        `means (10 ms ticks): server ${mean(server).toFixed(1)} ms, ` +
        `pg ${mean(s.map((x) => x.pgCpu)).toFixed(1)} ms, reader ${mean(s.map((x) => x.readerCpu)).toFixed(1)} ms`,
    );
  }
  if (readers.length > 0) {
    const [r] = readers;
    const a = samples.get(`base ${r}`)!;
    const b = samples.get(`this ${r}`)!;
    const wins = a.filter((x, i) => b[i]!.ms < x.ms).length;
    console.log(`${r}: this build faster in ${wins} of ${a.length} pairs`);
  }
} finally {
  for (const build of builds) await build.monitor?.end();
  for (const build of [...builds].reverse()) await build.server?.stop();
  for (const build of builds) await dropDatabase(adminUrl, build.db);
}
