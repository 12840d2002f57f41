// npm run bench: the reference server as its own process on embedded PostgreSQL (or DATABASE_URL),
// real devices over HTTP, and physical references measured in the same run. Prints a table and
// writes bench-results.json. Never part of npm test; never fails on a target.
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { startBenchServer } from './bench-server.js';
import { measureReferences } from './references.js';
import { SyncApi, userRows } from './sync-api.js';
import { fmt, percentile, summarize, type Summary } from './stats.js';

const quick = process.argv.includes('--quick');
const REPS = 3;
const results: Record<string, unknown> = {
  machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version },
  startedAt: new Date().toISOString(),
};
const lines: string[] = [];
const print = (label: string, value: string, reference = '') => {
  const line = `${label.padEnd(58)} ${value.padEnd(36)} ${reference}`;
  lines.push(line);
  console.log(line);
};
const range = (s: Summary, digits = 0) => `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`;

const server = await startBenchServer();
try {
  const device = async (user: string, source: string) => new SyncApi(server.baseUrl, await server.signIn(user), source);
  const sizes = quick ? [10_000] : [10_000, 100_000];
  const pushResults: Record<string, unknown> = {};
  const pullResults: Record<string, unknown> = {};
  let referenceRows = userRows(100_000);
  for (const size of sizes) {
    const totalRates: number[] = [];
    const commitMs: number[] = [];
    const pullRates: number[] = [];
    for (let rep = 0; rep < REPS; rep++) {
      const user = `push-${size}-${rep}`;
      const writer = await device(user, 'writer');
      await writer.call('POST', '/sync/connect', { has_local_pending_rows: false });
      const rows = userRows(size);
      const pushed = await writer.push(1, rows);
      totalRates.push((size / pushed.totalMs) * 1000);
      commitMs.push(pushed.commitMs);
      const reader = await device(user, 'reader');
      const t = performance.now();
      const body = await reader.call('GET', '/sync/pull?after_bundle_seq=0');
      const pullMs = performance.now() - t;
      if (!body.includes(pushed.commit.bundle_hash)) throw new Error('pulled bundle does not carry the committed hash');
      pullRates.push((size / pullMs) * 1000);
    }
    pushResults[size] = { rowsPerSec: summarize(totalRates), commitMs: summarize(commitMs) };
    pullResults[size] = { httpRowsPerSec: summarize(pullRates) };
    print(`push ${fmt(size)} rows end to end (rows/s)`, range(summarize(totalRates)), size === 100_000 ? 'reference 10,457' : '');
    print(`  server commit alone (ms)`, range(summarize(commitMs)), size === 100_000 ? 'reference 8,100' : '');
    print(`pull ${fmt(size)} rows over HTTP (rows/s)`, range(summarize(pullRates)), size === 100_000 ? 'reference 376,996' : '');
  }
  results.push = pushResults;
  results.pull = pullResults;

  // 1-row push on one device + pull on another: p50/p95/p99 over 500 iterations
  const iterations = quick ? 100 : 500;
  const a = await device('latency', 'a');
  const b = await device('latency', 'b');
  await a.call('POST', '/sync/connect', { has_local_pending_rows: false });
  const latencies: number[] = [];
  for (let i = 1; i <= iterations; i++) {
    const t = performance.now();
    const pushed = await a.push(i, userRows(1));
    await b.call('GET', `/sync/pull?after_bundle_seq=${pushed.commit.bundle_seq - 1}`);
    latencies.push(performance.now() - t);
  }
  results.oneRowRoundTripMs = { p50: percentile(latencies, 50), p95: percentile(latencies, 95), p99: percentile(latencies, 99), iterations };
  print(`1-row push + pull on another device, p50/p95/p99 (ms)`, `${fmt(percentile(latencies, 50), 2)} / ${fmt(percentile(latencies, 95), 2)} / ${fmt(percentile(latencies, 99), 2)}`, 'reference 5.4 / 5.9');

  // 50 devices of 50 users pushing and pulling 100-row bundles for 30 s
  const seconds = quick ? 5 : 30;
  const devices = await Promise.all(Array.from({ length: 50 }, (_, i) => device(`load-${i}`, `load-${i}-device`)));
  await Promise.all(devices.map((d) => d.call('POST', '/sync/connect', { has_local_pending_rows: false })));
  const deadline = performance.now() + seconds * 1000;
  let bundles = 0;
  let errors = 0;
  const loadLatencies: number[] = [];
  const rssBefore = server.peakRssMiB();
  await Promise.all(devices.map(async (d) => {
    let seq = 0;
    let checkpoint = 0;
    while (performance.now() < deadline) {
      const t = performance.now();
      try {
        const pushed = await d.push(++seq, userRows(100));
        const pulled = JSON.parse(await d.call('GET', `/sync/pull?after_bundle_seq=${checkpoint}`)) as { stable_bundle_seq: number };
        checkpoint = pulled.stable_bundle_seq;
        if (pushed.commit.bundle_seq > checkpoint) throw new Error('pull did not reach the pushed bundle');
        bundles++;
        loadLatencies.push(performance.now() - t);
      } catch {
        errors++;
        seq--;
      }
    }
  }));
  results.concurrency = { devices: 50, seconds, bundlesPerSec: bundles / seconds, errors, p95Ms: percentile(loadLatencies, 95), serverPeakRssMiB: server.peakRssMiB(), rssBefore };
  print(`50 users × 100-row push+pull for ${seconds} s: bundles/s, errors, p95 ms`, `${fmt(bundles / seconds, 1)}, ${errors}, ${fmt(percentile(loadLatencies, 95), 1)}`);

  // physical references on the same rows, in the same run
  if (quick) referenceRows = referenceRows.slice(0, 10_000);
  const refs = await measureReferences(server.databaseUrl, referenceRows);
  results.references = refs;
  const ours = (pushResults[referenceRows.length] as { rowsPerSec: Summary } | undefined)?.rowsPerSec.median;
  const pulled = (pullResults[referenceRows.length] as { httpRowsPerSec: Summary } | undefined)?.httpRowsPerSec.median;
  print(`PostgreSQL COPY ${fmt(refs.rows)} rows (rows/s)`, refs.pgCopyRowsPerSec === null ? 'n/a' : fmt(refs.pgCopyRowsPerSec), ours && refs.pgCopyRowsPerSec ? `push = ${fmt(ours / refs.pgCopyRowsPerSec, 3)} × COPY` : '');
  print(`PostgreSQL multi-row INSERT (rows/s)`, fmt(refs.pgMultiRowInsertRowsPerSec ?? 0), ours && refs.pgMultiRowInsertRowsPerSec ? `push = ${fmt(ours / refs.pgMultiRowInsertRowsPerSec, 3)} × INSERT` : '');
  print(`PostgreSQL SELECT of the rows (rows/s)`, fmt(refs.pgSelectRowsPerSec), pulled ? `pull = ${fmt(pulled / refs.pgSelectRowsPerSec, 3)} × SELECT` : '');
  print(`better-sqlite3 insert in one transaction (rows/s)`, fmt(refs.sqliteInsertRowsPerSec), 'reference machine ≈ 345,000');
  results.serverPeakRssMiB = server.peakRssMiB();
  print('server peak RSS (MiB)', fmt(server.peakRssMiB()));
} finally {
  await server.stop();
}
results.finishedAt = new Date().toISOString();
results.table = lines;
writeFileSync('bench-results.json', `${JSON.stringify(results, null, 2)}\n`);
console.log('\nwritten bench-results.json');
