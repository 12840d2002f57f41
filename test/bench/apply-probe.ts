// The Node client's own cost of pull + apply and of snapshot hydration, without a server in the loop:
// `record` runs a real server once and saves every response the device received; `replay` answers the
// device's requests from that file in process (repeatable, profile with `node --cpu-prof`).
//   npx tsx test/bench/apply-probe.ts record pull 100000 /tmp/pull.json
//   npx tsx test/bench/apply-probe.ts record hydrate 100000 /tmp/hydrate.json
//   npx tsx test/bench/apply-probe.ts replay /tmp/pull.json [reps]
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import {
  EXAMPLE_DEVICE_DDL,
  EXAMPLE_SCHEMA_NAME,
  EXAMPLE_TABLES,
  OversqliteClient,
} from '../../apps/client-node/dist/index.js';
import { startBenchServer } from './bench-server.js';
import { SyncApi, userRows } from './sync-api.js';

interface Recorded {
  mode: 'pull' | 'hydrate';
  user: string;
  rows: number;
  responses: { key: string; status: number; body: string }[];
}

/** CPU time (ms) of this process's main thread alone: the critical path when a worker hashes beside it. */
const mainThreadCpuMs = () => {
  const fields = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in clock ticks (100 Hz)
};

const requestKey = (input: string, init: RequestInit) => `${init.method ?? 'GET'} ${new URL(input).pathname}`;

async function device(
  fetchImpl: (input: string, init: RequestInit) => Promise<Response>,
): Promise<{ db: Database.Database; client: OversqliteClient; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'oversync-apply-probe-'));
  const db = new Database(join(dir, 'device.sqlite'));
  db.exec(EXAMPLE_DEVICE_DDL);
  const client = await OversqliteClient.open(db, {
    baseUrl: 'http://127.0.0.1:9',
    tokenProvider: () => 'unused',
    schema: EXAMPLE_SCHEMA_NAME,
    tables: EXAMPLE_TABLES,
    snapshotChunkRows: 5000,
    downloadLimit: 1000,
    // BENCH_PULL_WORKER=off|always|auto: the pull page worker of this build (pull-page-pipeline.ts)
    pullWorker: process.env.BENCH_PULL_WORKER as 'auto' | 'always' | 'off' | undefined,
    fetch: fetchImpl,
  });
  return { db, client, dir };
}

const [command, mode, third, fourth] = process.argv.slice(2);
if (command === 'record') {
  const rows = Number(third);
  const file = fourth!;
  const server = await startBenchServer();
  try {
    const user = `probe-${mode}-${rows}`;
    const writer = new SyncApi(server.baseUrl, await server.signIn(user), 'writer');
    await writer.call('POST', '/sync/connect', { has_local_pending_rows: false });
    const token = await server.signIn(user);
    const responses: Recorded['responses'] = [];
    const recording = async (input: string, init: RequestInit) => {
      const url = new URL(input);
      const real = `${server.baseUrl}${url.pathname}${url.search}`;
      const response = await fetch(real, {
        ...init,
        headers: { ...(init.headers as Record<string, string>), Authorization: `Bearer ${token}` },
      });
      const body = await response.text();
      responses.push({ key: requestKey(input, init), status: response.status, body });
      return new Response(body, { status: response.status });
    };
    const pushAll = async () => {
      for (let i = 0; i < rows / 100_000 || i === 0; i++)
        await new SyncApi(server.baseUrl, await server.signIn(user), 'writer').push(
          i + 1,
          userRows(Math.min(rows, 100_000)),
        );
    };
    if (mode === 'hydrate') await pushAll();
    const d = await device(recording);
    await d.client.attach(user);
    if (mode === 'pull') {
      await pushAll();
      await d.client.pullToStable();
    }
    const applied = (d.db.prepare('SELECT count(*) AS n FROM users').get() as { n: number }).n;
    await d.client.close();
    d.db.close();
    rmSync(d.dir, { recursive: true, force: true });
    writeFileSync(
      file,
      JSON.stringify({ mode: mode as Recorded['mode'], user, rows: applied, responses } satisfies Recorded),
    );
    console.log(`recorded ${responses.length} responses, ${applied} rows`);
  } finally {
    await server.stop();
  }
} else if (command === 'replay') {
  const recorded = JSON.parse(readFileSync(mode!, 'utf8')) as Recorded;
  const reps = Number(third ?? 3);
  for (let rep = 0; rep < reps; rep++) {
    const queues = new Map<string, Recorded['responses']>();
    for (const r of recorded.responses) {
      const queue = queues.get(r.key) ?? [];
      queue.push(r);
      queues.set(r.key, queue);
    }
    // DELETE of a snapshot session is best effort and may be sent or not: answered when asked
    const replaying = async (input: string, init: RequestInit) => {
      const next = queues.get(requestKey(input, init))?.shift();
      if (!next) throw new Error(`no recorded response for ${requestKey(input, init)}`);
      return new Response(next.body, { status: next.status });
    };
    const d = await device(replaying);
    let ms: number;
    let cpu: NodeJS.CpuUsage;
    let mainCpu: number;
    if (recorded.mode === 'hydrate') {
      const t = performance.now();
      cpu = process.cpuUsage();
      mainCpu = mainThreadCpuMs();
      await d.client.attach(recorded.user);
      ms = performance.now() - t;
    } else {
      await d.client.attach(recorded.user);
      const t = performance.now();
      cpu = process.cpuUsage();
      mainCpu = mainThreadCpuMs();
      await d.client.pullToStable();
      ms = performance.now() - t;
    }
    const used = process.cpuUsage(cpu);
    mainCpu = mainThreadCpuMs() - mainCpu;
    const applied = (d.db.prepare('SELECT count(*) AS n FROM users').get() as { n: number }).n;
    await d.client.close();
    d.db.close();
    rmSync(d.dir, { recursive: true, force: true });
    if (applied !== recorded.rows) throw new Error(`applied ${applied} of ${recorded.rows} rows`);
    const cpuMs = (used.user + used.system) / 1000;
    const peakKiB = Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0);
    console.log(
      `${recorded.mode} ${applied} rows: ${((applied / ms) * 1000).toFixed(0)} rows/s wall, ` +
        `${((applied / cpuMs) * 1000).toFixed(0)} rows per CPU-s ` +
        `(${((applied / mainCpu) * 1000).toFixed(0)} per CPU-s of the main thread), ` +
        `peak RSS ${(peakKiB / 1024).toFixed(0)} MiB`,
    );
  }
} else {
  throw new Error('usage: apply-probe.ts record pull|hydrate <rows> <file> | replay <file> [reps]');
}
