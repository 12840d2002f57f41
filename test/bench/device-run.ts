// One device in its own process, so its peak RSS is its own: `tsx test/bench/device-run.ts <json args>`.
// The device's SQLite is a file in a temporary folder, as on a real device. Prints one JSON line:
// { ms, httpMs, cpuMs, rows, peakRssMiB }; httpMs is the time spent waiting on the server, cpuMs the
// device process's CPU time (user + system) over the same span.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';

// BENCH_CLIENT_DIST=<path of a build's apps/client-node/dist/index.js>: that build's client (an A/B of two builds)
const { EXAMPLE_DEVICE_DDL, EXAMPLE_SCHEMA_NAME, EXAMPLE_TABLES, OversqliteClient } = (await import(
  process.env.BENCH_CLIENT_DIST ?? '../../apps/client-node/dist/index.js'
)) as typeof import('../../apps/client-node/dist/index.js');

const args = JSON.parse(process.argv[2] ?? '{}') as {
  baseUrl: string;
  token: string;
  user: string;
  mode: 'hydrate' | 'pull';
  ready?: string;
};
const dir = mkdtempSync(join(tmpdir(), 'oversync-bench-device-'));
const db = new Database(join(dir, 'device.sqlite'));
db.exec(EXAMPLE_DEVICE_DDL);
if (process.env.BENCH_DEVICE_TEMP_STORE) db.pragma(`temp_store = ${process.env.BENCH_DEVICE_TEMP_STORE}`);
let httpMs = 0;
/** CPU time (ms) of the main thread alone (the applying thread when a worker reads pull pages beside it). */
const mainThreadCpuMs = () => {
  const fields = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in clock ticks (100 Hz)
};
let mainCpuMs = 0;
let token = args.token;
let tokenAt = performance.now();
const client = await OversqliteClient.open(db, {
  baseUrl: args.baseUrl,
  // the reference app's tokens live 5 minutes: a long hydration on a loaded machine signs in again
  tokenProvider: async () => {
    if (performance.now() - tokenAt > 4 * 60_000) {
      const response = await fetch(`${args.baseUrl}/dummy-signin`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ user: args.user }),
      });
      token = ((await response.json()) as { token: string }).token;
      tokenAt = performance.now();
    }
    return token;
  },
  schema: EXAMPLE_SCHEMA_NAME,
  tables: EXAMPLE_TABLES,
  snapshotChunkRows: 5000,
  downloadLimit: 1000,
  // BENCH_PULL_WORKER=off|always|auto: the pull page worker of this build (pull-page-pipeline.ts)
  pullWorker: process.env.BENCH_PULL_WORKER as 'auto' | 'always' | 'off' | undefined,
  // hydration, or a pull with BENCH_DEVICE_TIMED_FETCH=1: the whole response read here, so the time the client
  // waits on the server is measured apart — an application's `fetch`, which keeps every request on this thread
  // (no pull page read as it arrives); a pull by default with the client's own requests
  fetch:
    args.mode === 'hydrate' || process.env.BENCH_DEVICE_TIMED_FETCH
      ? async (input, init) => {
          const t = performance.now();
          const response = await fetch(input, init);
          const body = await response.arrayBuffer();
          httpMs += performance.now() - t;
          const { status, statusText, headers } = response;
          return new Response(body, { status, statusText, headers });
        }
      : undefined,
});
let ms: number;
let cpu: NodeJS.CpuUsage;
if (args.mode === 'hydrate') {
  const t = performance.now();
  cpu = process.cpuUsage();
  await client.attach(args.user);
  ms = performance.now() - t;
} else {
  await client.attach(args.user);
  process.stdout.write('attached\n');
  // wait for the parent to push, then pull everything into SQLite
  await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));
  httpMs = 0;
  const t = performance.now();
  cpu = process.cpuUsage();
  mainCpuMs = mainThreadCpuMs();
  await client.pullToStable();
  ms = performance.now() - t;
  mainCpuMs = mainThreadCpuMs() - mainCpuMs;
}
const used = process.cpuUsage(cpu);
const cpuMs = (used.user + used.system) / 1000;
const rows = (db.prepare('SELECT count(*) AS n FROM users').get() as { n: number }).n;
const peakKiB = Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0);
await client.close();
db.close();
rmSync(dir, { recursive: true, force: true });
process.stdout.write(`${JSON.stringify({ ms, httpMs, cpuMs, mainCpuMs, rows, peakRssMiB: peakKiB / 1024 })}\n`);
process.exit(0);
