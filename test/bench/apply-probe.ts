// The Node client's own cost of pull + apply and of snapshot hydration, without a server in the loop:
// `record` runs a real server once and saves every response the device received; `replay` answers the
// device's requests from that file in process (repeatable, profile with `node --cpu-prof`);
// `replay-http` answers them over HTTP from a child process instead, the device on its own transport
// (the answers keep coming while this thread applies, as from a real server), and prints a pull's
// worker thread's CPU, the event loop's longest hold-up and a raw better-sqlite3 insert of the same rows
// beside each rep (the bench's reference).
// BENCH_CLIENT_DIST=<path of a build's apps/client-node/dist/index.js> replays another build's client;
// BENCH_REPLAY_MIB_PER_S=<n> sends the answers at that rate (a slower link than the loopback).
//   npx tsx test/bench/apply-probe.ts record pull 100000 /tmp/pull.json
//   npx tsx test/bench/apply-probe.ts record hydrate 100000 /tmp/hydrate.json
//   npx tsx test/bench/apply-probe.ts replay /tmp/pull.json [reps]
//   npx tsx test/bench/apply-probe.ts replay-http /tmp/pull.json [reps] [port]
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { startBenchServer } from './bench-server.js';
import { rawSqliteInsertMs } from './references.js';
import { SyncApi, userRows } from './sync-api.js';

const { EXAMPLE_DEVICE_DDL, EXAMPLE_SCHEMA_NAME, EXAMPLE_TABLES, OversqliteClient } = (await import(
  process.env.BENCH_CLIENT_DIST ?? '../../apps/client-node/dist/index.js'
)) as typeof import('../../apps/client-node/dist/index.js');
type OversqliteClient = import('../../apps/client-node/dist/index.js').OversqliteClient;

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

/** 3 ms in a frame of this name: where the pull starts in a `--cpu-prof` profile of the probe (outside the timings). */
function markProfile(): void {
  const until = performance.now() + 3;
  while (performance.now() < until);
}

/** CPU time (ms) of each thread of this process by id (threads that ended are gone from the list). */
const threadCpuMs = () => {
  const cpu = new Map<string, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const fields = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      cpu.set(tid, ((Number(fields[11]) + Number(fields[12])) * 1000) / 100);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return cpu;
};
const requestKey = (input: string, init: RequestInit) => `${init.method ?? 'GET'} ${new URL(input).pathname}`;

async function device(
  fetchImpl: ((input: string, init: RequestInit) => Promise<Response>) | undefined,
  baseUrl = 'http://127.0.0.1:9',
): Promise<{ db: Database.Database; client: OversqliteClient; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'oversync-apply-probe-'));
  const db = new Database(join(dir, 'device.sqlite'));
  db.exec(EXAMPLE_DEVICE_DDL);
  const client = await OversqliteClient.open(db, {
    baseUrl,
    tokenProvider: () => 'unused',
    schema: EXAMPLE_SCHEMA_NAME,
    tables: EXAMPLE_TABLES,
    snapshotChunkRows: 5000,
    downloadLimit: 1000,
    // BENCH_PULL_WORKER=off|always|auto: the pull page worker of this build (pull-page-pipeline.ts)
    pullWorker: process.env.BENCH_PULL_WORKER as 'auto' | 'always' | 'off' | undefined,
    ...(fetchImpl ? { fetch: fetchImpl } : {}),
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
} else if (command === 'replay' || command === 'replay-http') {
  const recorded = JSON.parse(readFileSync(mode!, 'utf8')) as Recorded;
  const reps = Number(third ?? 3);
  const answering = command === 'replay-http' ? await answerOverHttp(mode!, Number(fourth ?? 19150)) : undefined;
  const raw = answering && rawRows(recorded);
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
    const d = await device(answering ? undefined : replaying, answering?.baseUrl);
    let ms: number;
    let cpu: NodeJS.CpuUsage;
    let mainCpu: number;
    // a pull's: the busiest thread besides the main one, the longest the event loop could not run
    let pullDetail = '';
    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    if (recorded.mode === 'hydrate') {
      const t = performance.now();
      cpu = process.cpuUsage();
      mainCpu = mainThreadCpuMs();
      await d.client.attach(recorded.user);
      ms = performance.now() - t;
    } else {
      await d.client.attach(recorded.user);
      markProfile();
      const threadsBefore = threadCpuMs();
      loopDelay.enable();
      const t = performance.now();
      cpu = process.cpuUsage();
      mainCpu = mainThreadCpuMs();
      await d.client.pullToStable();
      ms = performance.now() - t;
      // (a hold-up is recorded when the histogram's next timer runs)
      await new Promise((resolve) => setTimeout(resolve, 30));
      loopDelay.disable();
      // the busiest thread besides the main one is the pull worker (started before the pull or during it)
      const busiestOtherMs = Math.max(
        ...[...threadCpuMs()]
          .filter(([tid]) => tid !== String(process.pid))
          .map(([tid, ms]) => ms - (threadsBefore.get(tid) ?? 0)),
      );
      pullDetail =
        `; main ${(mainThreadCpuMs() - mainCpu).toFixed(0)} ms, ` +
        `the busiest other thread ${busiestOtherMs.toFixed(0)} ms, ` +
        `the event loop held up to ${(loopDelay.max / 1e6).toFixed(0)} ms at once`;
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
    const rawRate = raw && rawInsertRate(raw);
    console.log(
      `${recorded.mode} ${applied} rows: ${((applied / ms) * 1000).toFixed(0)} rows/s wall, ` +
        `${((applied / cpuMs) * 1000).toFixed(0)} rows per CPU-s ` +
        `(${((applied / mainCpu) * 1000).toFixed(0)} per CPU-s of the main thread${pullDetail}), ` +
        `peak RSS ${(peakKiB / 1024).toFixed(0)} MiB` +
        (rawRate
          ? `; raw insert ${rawRate.toFixed(0)} rows/s, × raw ${(((applied / ms) * 1000) / rawRate).toFixed(3)}`
          : ''),
    );
  }
  answering?.stop();
} else {
  throw new Error(
    'usage: apply-probe.ts record pull|hydrate <rows> <file> | replay <file> [reps] | replay-http <file> [reps] [port]',
  );
}

/**
 * A child process answering the recorded requests over HTTP on `port` (each request key's answers in
 * turn, again from the first once all were given), so that the answers keep coming while the device's
 * thread is busy.
 */
async function answerOverHttp(file: string, port: number): Promise<{ baseUrl: string; stop: () => void }> {
  const script = `
    const http = require('node:http');
    const recorded = JSON.parse(require('node:fs').readFileSync(process.argv[1], 'utf8'));
    const answers = new Map();
    for (const r of recorded.responses) answers.set(r.key, [...(answers.get(r.key) ?? []), r]);
    const turn = new Map();
    const rate = Number(process.env.BENCH_REPLAY_MIB_PER_S ?? 0) * 1048576;
    http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const key = req.method + ' ' + req.url.split('?')[0];
        const list = answers.get(key);
        if (!list) { res.writeHead(404); return res.end(); }
        const i = turn.get(key) ?? 0;
        turn.set(key, (i + 1) % list.length);
        const body = Buffer.from(list[i].body);
        res.writeHead(list[i].status, { 'content-type': 'application/json', 'content-length': body.length });
        if (!rate) return res.end(body);
        // a link of BENCH_REPLAY_MIB_PER_S: 64 KiB at a time, each when the rate allows
        const start = performance.now();
        const send = (at) => {
          if (at >= body.length) return res.end();
          res.write(body.subarray(at, at + 65536));
          setTimeout(() => send(at + 65536), Math.max(0, start + ((at + 65536) / rate) * 1000 - performance.now()));
        };
        send(0);
      });
    }).listen(Number(process.argv[2]), '127.0.0.1', () => process.stdout.write('listening\\n'));`;
  const child = spawn(process.execPath, ['-e', script, file, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await once(child.stdout, 'data');
  return { baseUrl: `http://127.0.0.1:${port}`, stop: () => child.kill() };
}

/** The users of the recorded pull pages, as the bench's raw reference inserts them. */
function rawRows(recorded: Recorded): string[][] {
  const rows: string[][] = [];
  for (const r of recorded.responses) {
    if (!r.key.endsWith('/sync/pull')) continue;
    const page = JSON.parse(r.body) as { bundles: { rows: { payload: Record<string, string> }[] }[] };
    for (const bundle of page.bundles)
      for (const { payload } of bundle.rows)
        rows.push([payload.id!, payload.name!, payload.email!, payload.created_at!, payload.updated_at!]);
  }
  return rows;
}

/** The bench's reference on the same rows (rows/s). */
function rawInsertRate(rows: string[][]): number {
  return (rows.length / rawSqliteInsertMs(rows)) * 1000;
}
