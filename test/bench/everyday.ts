// The everyday path of issue 21, as the outside benchmark measures it, against any server that speaks
// the protocol (ours, or go-oversync's example server with `--reference URL`): the empty-request
// floor, the 1-row push + pull on another device, the 1-row pull alone, and watch commit start → SSE
// event. Every figure is measured after a short warm-up; users are fresh per run so that a reused
// database (a reference server's) starts each phase empty.
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { SseStream, syncHeaders } from '../support/sse.js';
import { SyncApi, userRows } from './sync-api.js';
import { percentile } from './stats.js';
import { processCpuMs } from './bench-server.js';
import type { DevicesTarget } from './many-devices-phase.js';

export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
  n: number;
}

const percentiles = (values: number[]): Percentiles => ({
  p50: percentile(values, 50),
  p95: percentile(values, 95),
  p99: percentile(values, 99),
  n: values.length,
});
const RUN = Date.now().toString(36);
/** a user name of its own for this run and target */
export const runUser = (name: string) => `${name}-${RUN}`;

async function timed(iterations: number, warmUp: number, fn: (i: number) => Promise<void>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < warmUp + iterations; i++) {
    const t = performance.now();
    await fn(i);
    if (i >= warmUp) times.push(performance.now() - t);
  }
  return times;
}

/** GET /sync/capabilities with a device's headers: the HTTP + auth floor of every sync request. */
export async function emptyRequestFloor(target: DevicesTarget, iterations: number): Promise<Percentiles> {
  const device = new SyncApi(target.baseUrl, await target.signIn(runUser('floor')), 'floor-device');
  return percentiles(
    await timed(
      iterations,
      Math.ceil(iterations / 10),
      async () => void (await device.call('GET', '/sync/capabilities')),
    ),
  );
}

/** `SELECT 1` on a connection of a pg pool (the driver + PostgreSQL round trip every statement pays). */
export async function selectOneRoundTrip(databaseUrl: string, iterations: number): Promise<Percentiles> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 1 });
  try {
    return percentiles(
      await timed(iterations, Math.ceil(iterations / 10), async () => void (await pool.query('SELECT 1'))),
    );
  } finally {
    await pool.end();
  }
}

/**
 * A commit that waits for its WAL flush, on a connection of a pg pool: a transactional logical message (WAL
 * written, no table touched) committed alone. Every push commit waits for the same flush (synchronous_commit on),
 * so this is the disk's share of the commit and of the watch event, printed beside them as a physical reference.
 */
export async function commitFlushRoundTrip(databaseUrl: string, iterations: number): Promise<Percentiles> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 1 });
  try {
    return percentiles(
      await timed(
        iterations,
        Math.ceil(iterations / 10),
        async () => void (await pool.query("SELECT pg_logical_emit_message(true, 'oversync-bench', '')")),
      ),
    );
  } finally {
    await pool.end();
  }
}

/** A 1-row round trip's figures: the whole of it and each request's part. */
export interface OneRowFigures {
  pushPull: Percentiles;
  pull: Percentiles;
  create: Percentiles;
  chunk: Percentiles;
  commit: Percentiles;
  /** the server process's CPU (user + system) per measured round trip, ms; NaN when its pid is unknown */
  serverCpuMs: number;
  /** the bench process's own CPU (all its threads) per measured round trip, ms: the devices' side of it */
  benchCpuMs: number;
}

/**
 * Device a pushes one row (create + chunk + commit), device b of the same user pulls it: the round
 * trip (issue 21's "1-row push + pull on another device") and the pull alone ("1-row pull"), over
 * `iterations` round trips after a tenth as many unmeasured, with the server process's CPU per measured round
 * trip when the target's pid is known. `user` names a user of this run's own.
 */
export async function oneRowRoundTrip(
  target: DevicesTarget,
  iterations: number,
  user = 'latency',
): Promise<OneRowFigures> {
  const token = await target.signIn(runUser(user));
  const a = new SyncApi(target.baseUrl, token, 'a');
  const b = new SyncApi(target.baseUrl, token, 'b');
  await a.call('POST', '/sync/connect', { has_local_pending_rows: false });
  const pulls: number[] = [];
  const creates: number[] = [];
  const chunks: number[] = [];
  const commits: number[] = [];
  const warmUp = Math.ceil(iterations / 10);
  const cpu = () => (target.pid ? processCpuMs(target.pid) : NaN);
  let cpuAtStart = NaN;
  let benchCpuAtStart = NaN;
  const roundTrips = await timed(iterations, warmUp, async (i) => {
    if (i === warmUp) {
      cpuAtStart = cpu();
      benchCpuAtStart = processCpuMs(process.pid);
    }
    const pushed = await a.push(i + 1, userRows(1));
    const t = performance.now();
    const body = await b.call('GET', `/sync/pull?after_bundle_seq=${pushed.commit.bundle_seq - 1}`);
    if (i >= warmUp) {
      pulls.push(performance.now() - t);
      creates.push(pushed.createMs);
      chunks.push(pushed.chunksMs);
      commits.push(pushed.commitMs);
    }
    if (!body.includes(pushed.commit.bundle_hash)) throw new Error('the pull did not carry the pushed bundle');
  });
  return {
    pushPull: percentiles(roundTrips),
    pull: percentiles(pulls),
    create: percentiles(creates),
    chunk: percentiles(chunks),
    commit: percentiles(commits),
    serverCpuMs: (cpu() - cpuAtStart) / iterations,
    benchCpuMs: (processCpuMs(process.pid) - benchCpuAtStart) / iterations,
  };
}

/** Watch: from the start of the commit request to the SSE `bundle` event on another device (`user` as above). */
export async function watchLatency(target: DevicesTarget, commits: number, user = 'watch'): Promise<Percentiles> {
  const token = await target.signIn(runUser(user));
  const writer = new SyncApi(target.baseUrl, token, 'writer');
  await writer.call('POST', '/sync/connect', { has_local_pending_rows: false });
  const stream = await SseStream.open(`${target.baseUrl}/sync/watch?after_bundle_seq=0`, syncHeaders(token, 'watcher'));
  if (stream.status !== 200) throw new Error(`watch answered ${stream.status}: ${stream.body}`);
  const latencies: number[] = [];
  const warmUp = Math.ceil(commits / 10);
  try {
    for (let i = 1; i <= warmUp + commits; i++) {
      const created = JSON.parse(
        await writer.call('POST', '/sync/push-sessions', { source_bundle_id: i, planned_row_count: 1 }),
      ) as { push_id: string };
      await writer.call('POST', `/sync/push-sessions/${created.push_id}/chunks`, {
        start_row_ordinal: 0,
        rows: userRows(1),
      });
      const t = performance.now();
      const committed = writer.call('POST', `/sync/push-sessions/${created.push_id}/commit`);
      const frame = await stream.next(
        (f) => f.event === 'bundle' && (JSON.parse(f.data ?? '{}') as { bundle_seq?: number }).bundle_seq === i,
        5000,
      );
      if (i > warmUp) latencies.push(frame.receivedAt - t);
      await committed;
    }
  } finally {
    await stream.close();
  }
  return percentiles(latencies);
}

/** A server given by URL (`--reference`): signs in with its dummy sign-in; RSS from `--reference-pid`. */
export function urlTarget(baseUrl: string, pid?: number): DevicesTarget {
  return {
    baseUrl: baseUrl.replace(/\/$/, ''),
    async signIn(user: string) {
      const res = await fetch(`${baseUrl.replace(/\/$/, '')}/dummy-signin`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ user }),
      });
      if (!res.ok) throw new Error(`sign-in at ${baseUrl}: ${res.status}`);
      return ((await res.json()) as { token: string }).token;
    },
    ...(pid ? { pid, rssMiB: () => processRssMiB(pid) } : {}),
  };
}

/** VmRSS of a process, MiB (NaN once it is gone). */
function processRssMiB(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;
  } catch {
    return NaN;
  }
}
