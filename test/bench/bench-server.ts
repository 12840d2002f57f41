import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { startEmbeddedPostgres, freePort, type EmbeddedDatabase } from '../../dist/src/database/embedded-postgres.js';

export interface BenchServer {
  baseUrl: string;
  databaseUrl: string;
  pid: number;
  /** peak resident set of the server process so far, MiB (VmHWM) */
  peakRssMiB(): number;
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
  const port = await freePort();
  const nodeArgsText = env.BENCH_SERVER_NODE_ARGS ?? process.env.BENCH_SERVER_NODE_ARGS;
  const nodeArgs = nodeArgsText ? nodeArgsText.split(' ') : [];
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, 'dist/src/main.js'], {
    env: { ...process.env, DATABASE_URL: databaseUrl, PORT: String(port), HOST: '127.0.0.1', OVERSYNC_TEST_ENDPOINTS: 'true', ...env },
    stdio: ['ignore', process.env.BENCH_SERVER_LOG ? 'inherit' : 'ignore', 'inherit'],
  });
  const baseUrl = `http://127.0.0.1:${port}`;
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
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
      return kb / 1024;
    },
    async signIn(user: string) {
      const res = await fetch(`${baseUrl}/dummy-signin`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user }) });
      return ((await res.json()) as { token: string }).token;
    },
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      await embedded?.stop();
    },
  };
}
