import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import pg from 'pg';
import { fmt } from './stats.js';
import { startEmbeddedPostgres, freePort, type EmbeddedDatabase } from '../../dist/src/database/embedded-postgres.js';

export interface BenchServer {
  baseUrl: string;
  databaseUrl: string;
  pid: number;
  /** peak resident set of the server process so far, MiB (VmHWM, kept across `resetPeakRss`) */
  peakRssMiB(): number;
  /** resident set of the server process now, MiB (VmRSS) */
  rssMiB(): number;
  /** restarts the kernel's peak (VmHWM) at the current RSS: `windowPeakRssMiB` then reads the peak since */
  resetPeakRss(): void;
  windowPeakRssMiB(): number;
  /** starts a phase: `phasePeakRssMiB` is the peak since */
  startPhase(): void;
  phasePeakRssMiB(): number;
  signIn(user: string): Promise<string>;
  stop(): Promise<void>;
}

/**
 * The reference server as its own process (as `npm start` runs it) on embedded PostgreSQL or DATABASE_URL.
 * `env` may switch features (`OVERSYNC_METRICS`, `OVERSYNC_TRACING`, `OVERSYNC_LOG_REQUESTS`, …), name the
 * database (`DATABASE_URL`) and pass node flags (`BENCH_SERVER_NODE_ARGS`, e.g. an OpenTelemetry preload).
 */
export async function startBenchServer(env: Record<string, string> = {}): Promise<BenchServer> {
  let embedded: EmbeddedDatabase | undefined;
  let databaseUrl = env.DATABASE_URL ?? process.env.DATABASE_URL;
  if (!databaseUrl) {
    embedded = await startEmbeddedPostgres({ dataDir: `.data/bench-${process.pid}`, ephemeral: true });
    databaseUrl = embedded.url;
  }
  const instance = await spawnInstance(databaseUrl, env);
  return {
    ...instance,
    async stop() {
      await instance.stop();
      await embedded?.stop();
    },
  };
}

/** V8 heap used / total and external memory of a server from its GET /metrics, MiB ('' without metrics). */
export async function heapMiB(baseUrl: string): Promise<string> {
  try {
    const text = await (await fetch(`${baseUrl}/metrics`)).text();
    const gauge = (name: string) => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? NaN) / 2 ** 20;
    return (
      `heap used ${fmt(gauge('nodejs_heap_size_used_bytes'))} / total ` +
      `${fmt(gauge('nodejs_heap_size_total_bytes'))}, external ${fmt(gauge('nodejs_external_memory_bytes'))}`
    );
  } catch {
    return '';
  }
}

/** A fresh database `name` on the server of `adminUrl` (dropped first if it exists); returns its URL. */
export async function freshDatabase(adminUrl: string, name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name}`);
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Drops database `name` of the server of `adminUrl`, if it is there. */
export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name}`);
  } finally {
    await admin.end();
  }
}

/**
 * `count` more server processes on the database of `server` (scale-out: stateless instances over
 * one PostgreSQL); each has its own port and pool. Stop them before `server`.
 */
export async function startExtraInstances(
  server: BenchServer,
  count: number,
  env: Record<string, string> = {},
): Promise<BenchServer[]> {
  return Promise.all(Array.from({ length: count }, () => spawnInstance(server.databaseUrl, env)));
}

/** user and system CPU of process `pid` so far (ms), from /proc/<pid>/stat (clock ticks of 10 ms); 0 once it is gone */
export function processCpu(pid: number): { userMs: number; systemMs: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { userMs: Number(fields[11]) * 10, systemMs: Number(fields[12]) * 10 };
  } catch {
    return { userMs: 0, systemMs: 0 };
  }
}

/** CPU seconds so far of each backend of `client`'s database but `client`'s own, by pid */
export async function databaseBackendCpu(client: pg.Client): Promise<Map<number, number>> {
  const { rows: backends } = await client.query<{ pid: number }>(
    'SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
  );
  return new Map(backends.map((b) => [b.pid, processCpuMs(b.pid) / 1000]));
}

/** user + system CPU of process `pid` so far (ms); 0 once it is gone */
export function processCpuMs(pid: number): number {
  const { userMs, systemMs } = processCpu(pid);
  return userMs + systemMs;
}

async function spawnInstance(databaseUrl: string, env: Record<string, string>): Promise<BenchServer> {
  // BENCH_SERVER_PORT: a fixed port (the first instance), else a free one
  const fixedPort = Number(env.BENCH_SERVER_PORT ?? process.env.BENCH_SERVER_PORT ?? 0);
  if (fixedPort) process.env.BENCH_SERVER_PORT = String(fixedPort + 1);
  const port = fixedPort || (await freePort());
  const nodeArgsText = env.BENCH_SERVER_NODE_ARGS ?? process.env.BENCH_SERVER_NODE_ARGS;
  const nodeArgs = nodeArgsText ? nodeArgsText.split(' ').filter(Boolean) : [];
  // BENCH_SERVER_STDOUT=file: the server's standard output (its log lines, V8's traces) goes there
  const stdoutFile = env.BENCH_SERVER_STDOUT;
  const stdout = stdoutFile ? openSync(stdoutFile, 'w') : undefined;
  // BENCH_SERVER_CWD: a build of another commit (its own dist/), to compare the two back to back
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, 'dist/src/main.js'], {
    cwd: env.BENCH_SERVER_CWD ?? process.env.BENCH_SERVER_CWD,
    // BENCH_SERVER_SESSION=1: the server in a session of its own, as under a service manager. Where Linux
    // groups the scheduler by session (autogroup, /proc/sys/kernel/sched_autogroup_enabled), each
    // PostgreSQL backend is a group of its own and the server otherwise shares one with the bench's client
    // and, in an A/B, the other servers (their compiler threads then take cores from each other's requests).
    detached: (env.BENCH_SERVER_SESSION ?? process.env.BENCH_SERVER_SESSION) === '1',
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      PORT: String(port),
      HOST: '127.0.0.1',
      OVERSYNC_TEST_ENDPOINTS: 'true',
      ...env,
    },
    stdio: ['ignore', stdout ?? (process.env.BENCH_SERVER_LOG ? 'inherit' : 'ignore'), 'inherit'],
  });
  if (stdout !== undefined) closeSync(stdout);
  const baseUrl = `http://127.0.0.1:${port}`;
  const statusMiB = (field: string) =>
    Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  const hwm = () => statusMiB('VmHWM');
  // BENCH_RSS_TRACE=file: the server's VmRSS / RssAnon / RssFile / VmHWM (KiB) every 100 ms from its spawn
  const traceFile = env.BENCH_RSS_TRACE ?? process.env.BENCH_RSS_TRACE;
  if (traceFile) {
    const spawnedAt = Date.now();
    writeFileSync(
      traceFile,
      `# pid ${child.pid} spawned ${new Date(spawnedAt).toISOString()}\nms rss anon file hwm cpu_ms\n`,
    );
    const kib = (status: string, field: string) => new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? '0';
    const timer = setInterval(() => {
      let status: string;
      try {
        status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      } catch {
        clearInterval(timer);
        return;
      }
      const fields = ['VmRSS', 'RssAnon', 'RssFile', 'VmHWM'].map((f) => kib(status, f));
      appendFileSync(traceFile, `${Date.now() - spawnedAt} ${fields.join(' ')} ${processCpuMs(child.pid!)}\n`);
    }, 100);
    timer.unref();
    child.once('exit', () => clearInterval(timer));
  }
  let overallPeak = 0;
  let phasePeak = 0;
  const resetPeakRss = () => {
    const peak = hwm();
    overallPeak = Math.max(overallPeak, peak);
    phasePeak = Math.max(phasePeak, peak);
    writeFileSync(`/proc/${child.pid}/clear_refs`, '5');
  };
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${baseUrl}/syncx/health`)).ok) break;
    } catch {
      // not listening yet
    }
    if (i > 300 || child.exitCode !== null) throw new Error('bench server did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    baseUrl,
    databaseUrl,
    pid: child.pid!,
    peakRssMiB() {
      overallPeak = Math.max(overallPeak, hwm());
      return overallPeak;
    },
    rssMiB() {
      return statusMiB('VmRSS');
    },
    resetPeakRss,
    windowPeakRssMiB() {
      return hwm();
    },
    startPhase() {
      resetPeakRss();
      phasePeak = 0;
    },
    phasePeakRssMiB() {
      return Math.max(phasePeak, hwm());
    },
    async signIn(user: string) {
      const res = await fetch(`${baseUrl}/dummy-signin`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ user }),
      });
      return ((await res.json()) as { token: string }).token;
    },
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}
