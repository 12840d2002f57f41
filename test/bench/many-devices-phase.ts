// The many-devices phases of `npm run bench` (issues 21 and 25): 4 client processes × 12 users, each
// user a writer and a reader device, 5-row bundles, push + peer pull per cycle, for 30 s (quick: 5 s).
// `manyDevicesPhase` (scale-out): every user's cycles at once (48 in flight), against one server
// instance and against three instances over the same database. `everydayDevices` (issue 21's shape,
// the outside benchmark's): one cycle in flight per client process, the users in turn.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { type BenchServer, processCpuMs, startExtraInstances } from './bench-server.js';

/** A server the client processes talk to: ours (a BenchServer) or another one (`--reference URL`). */
export interface DevicesTarget {
  baseUrl: string;
  signIn(user: string): Promise<string>;
  /** resident set of the server process, MiB, when known */
  rssMiB?(): number;
  /** the server's process id, when known (its CPU is read from /proc) */
  pid?: number;
}
import { fmt, percentile } from './stats.js';

const PROCESSES = 4;
const USERS_PER_PROCESS = 12;
const ROWS_PER_BUNDLE = 5;

export interface ManyDevicesResult {
  instances: number;
  seconds: number;
  bundlesPerSec: number;
  errors: number;
  firstError?: string;
  cycleP50Ms: number;
  cycleP95Ms: number;
  /** resident set of each server process at the end of the run, MiB (NaN when unknown) */
  serverRssMiB: number[];
  /** CPU of the client processes from `go` to their result lines, ms (they share the machine with the servers) */
  clientCpuMs: number;
}

export interface RunOptions {
  seconds: number;
  inFlight: 'user' | 'process';
  /** called every `everyMs` while the clients run (the long run's RSS samples) */
  sample?: { everyMs: number; fn: (elapsedMs: number) => void };
  /** the checkout whose client script runs (another build's, for an A/B of the clients); default this one */
  clientCwd?: string;
}

interface ClientResult {
  bundles: number;
  errors: number;
  cycles: number[];
  firstError?: string;
}

/** One run: the client processes connect, start together, and report. */
export async function runOnce(
  servers: DevicesTarget[],
  label: string,
  { seconds, inFlight, sample, clientCwd }: RunOptions,
): Promise<ManyDevicesResult> {
  const baseUrls = servers.map((s) => s.baseUrl);
  // BENCH_CLIENT_NODE_ARGS, e.g. `--cpu-prof --cpu-prof-dir=prof`, profiles the client processes
  const clientNodeArgs = process.env.BENCH_CLIENT_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const children = await Promise.all(
    Array.from({ length: PROCESSES }, async (_, p) => {
      const users = await Promise.all(
        Array.from({ length: USERS_PER_PROCESS }, async (_, u) => {
          const user = `many-${label}-${p}-${u}`;
          return { user, token: await servers[0]!.signIn(user) };
        }),
      );
      const child = spawn(
        process.execPath,
        [
          ...clientNodeArgs,
          '--import',
          'tsx',
          'test/bench/many-devices-client.ts',
          JSON.stringify({ baseUrls, users, seconds, rows: ROWS_PER_BUNDLE, inFlight }),
        ],
        { cwd: clientCwd, stdio: ['pipe', 'pipe', 'inherit'] },
      );
      const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
      return { child, lines };
    }),
  );
  const next = async (lines: AsyncIterator<string>) => {
    const line = await lines.next();
    if (line.done) throw new Error('many-devices client process ended early');
    return line.value;
  };
  for (const c of children)
    if ((await next(c.lines)) !== 'ready') throw new Error('many-devices client did not connect');
  const started = performance.now();
  let clientCpuMs = 0;
  for (const c of children) {
    clientCpuMs -= processCpuMs(c.child.pid!);
    c.child.stdin!.write('go\n');
  }
  const timer = sample ? setInterval(() => sample.fn(performance.now() - started), sample.everyMs) : undefined;
  const results = await Promise.all(
    children.map(async (c) => {
      const line = await next(c.lines);
      clientCpuMs += processCpuMs(c.child.pid!);
      return JSON.parse(line) as ClientResult;
    }),
  ).finally(() => clearInterval(timer));
  const elapsed = (performance.now() - started) / 1000;
  await Promise.all(
    children.map((c) => (c.child.exitCode === null ? new Promise((r) => c.child.once('exit', r)) : Promise.resolve())),
  );
  const cycles = results.flatMap((r) => r.cycles);
  const bundles = results.reduce((sum, r) => sum + r.bundles, 0);
  return {
    instances: servers.length,
    seconds: elapsed,
    bundlesPerSec: bundles / seconds,
    errors: results.reduce((sum, r) => sum + r.errors, 0),
    firstError: results.find((r) => r.firstError)?.firstError,
    cycleP50Ms: cycles.length ? percentile(cycles, 50) : NaN,
    cycleP95Ms: cycles.length ? percentile(cycles, 95) : NaN,
    serverRssMiB: servers.map((s) => s.rssMiB?.() ?? NaN),
    clientCpuMs,
  };
}

/** The phase: one instance (`server`), then `server` plus two more processes on its database. */
export async function manyDevicesPhase(
  server: BenchServer,
  quick: boolean,
  print: (label: string, value: string, reference?: string) => void,
): Promise<ManyDevicesResult[]> {
  const seconds = quick ? 5 : 30;
  const results: ManyDevicesResult[] = [];
  const report = (r: ManyDevicesResult) => {
    print(
      `scale-out: ${PROCESSES}×${USERS_PER_PROCESS} users all at once, ${r.instances} instance` +
        `${r.instances > 1 ? 's' : ''}, ${seconds} s`,
      `${fmt(r.bundlesPerSec, 1)} b/s, ${r.errors} err, ${fmt(r.cycleP50Ms, 1)}/${fmt(r.cycleP95Ms, 1)} ms`,
      '',
    );
    print(`  server RSS at the end (MiB)`, r.serverRssMiB.map((m) => fmt(m)).join(' + '));
    if (r.firstError) print(`  first error`, r.firstError.slice(0, 120));
  };
  results.push(await runOnce([server], 'one', { seconds, inFlight: 'user' }));
  report(results[0]!);
  // smaller pools for the added processes keep the three within a default max_connections of 100
  const extra = await startExtraInstances(server, 2, { OVERSYNC_DB_POOL_MAX_CONNS: '24' });
  try {
    results.push(await runOnce([server, ...extra], 'three', { seconds, inFlight: 'user' }));
    report(results[1]!);
  } finally {
    await Promise.all(extra.map((s) => s.stop()));
  }
  return results;
}

/**
 * Issue 21's many-devices workload, the outside benchmark's shape: 4 client processes × 12 users,
 * one cycle (push + peer pull) in flight per process, the users in turn. Its figures (go-oversync
 * 195 bundles/s at a cycle p50 of 19.7 ms) are those of 4 cycles in flight.
 */
export function everydayDevices(
  target: DevicesTarget,
  label: string,
  seconds: number,
  sample?: RunOptions['sample'],
  clientCwd?: string,
): Promise<ManyDevicesResult> {
  return runOnce([target], label, { seconds, inFlight: 'process', sample, clientCwd });
}
