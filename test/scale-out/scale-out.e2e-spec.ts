/**
 * Issue 25: many stateless instances on one PostgreSQL, under load, with faults. Three reference-app
 * processes over one database; 150 real client devices of 60 users, every request of every device to
 * a random instance; pushes, pulls, snapshot rebuilds, fresh-install hydrations and watch streams for
 * a bounded time while one instance is SIGKILLed and restarted and PostgreSQL backends are
 * terminated. Then the checker (scale-out-checker.ts), the cross-instance watch, the sweeper's
 * mutual exclusion and the connection budget. Budget: SCALE_OUT_SECONDS (CI 20 s, `npm run fuzz` 300 s).
 */
import { describe, expect, it } from '@jest/globals';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { FUZZ_LONG } from '../fuzz/fuzz-budget.js';
import { percentile } from '../bench/stats.js';
import { SseStream, syncHeaders } from '../support/sse.js';
import { createTestDatabase } from '../support/test-database.js';
import { type Instance, startInstances } from './instances.js';
import { checkScaleOut } from './scale-out-checker.js';
import { ConnectionSampler, installSweepProbe, plantExpiredSessions, sweepReport } from './scale-out-probes.js';
import { JWT_SECRET, ScaleOutWorld, signToken, sleep, Watcher } from './scale-out-world.js';

function budget(name: string, fallback: number): number {
  const raw = process.env[name];
  const value = raw ? Number(raw) : fallback;
  if (!Number.isSafeInteger(value) || value <= 0)
    throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return value;
}

const SECONDS = budget('SCALE_OUT_SECONDS', FUZZ_LONG ? 300 : 20);
const USERS = budget('SCALE_OUT_USERS', 60);
const DEVICES = budget('SCALE_OUT_DEVICES', 150);
const INSTANCES = 3;
/** pool size per instance; each process may hold POOL + 1 connections (its LISTEN connection) */
const POOL = 12;
const WATCHED_USERS = 20;
const SEED = budget('SCALE_OUT_SEED', FUZZ_LONG ? 1 + Math.floor(Math.random() * 2 ** 30) : 2512);

/** Opens a watch on `watchOn`, commits one bundle through `commitOn` (a raw push), waits for the event. */
async function crossInstanceWatch(
  watchOn: Instance,
  commitOn: Instance,
  user: string,
  pgClient: pg.Client,
  world: ScaleOutWorld,
): Promise<number> {
  const token = signToken(user);
  const latest = Number(
    (
      await pgClient.query<{ latest: string }>(
        'SELECT next_bundle_seq - 1 AS latest FROM sync.user_state WHERE user_id = $1',
        [user],
      )
    ).rows[0]!.latest,
  );
  const stream = await SseStream.open(
    `${watchOn.baseUrl}/sync/watch?after_bundle_seq=${latest}`,
    syncHeaders(token, 'cross-watch'),
  );
  try {
    expect(stream.status).toBe(200);
    const source = `cross-writer-${Date.now()}`;
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${commitOn.baseUrl}${path}`, {
        method,
        headers: { ...syncHeaders(token, source), 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`${method} ${path} on ${commitOn.baseUrl}: ${res.status} ${text}`);
      return JSON.parse(text) as Record<string, unknown>;
    };
    const id = crypto.randomUUID();
    const name = `cross-${id.slice(0, 8)}`;
    const created = await call('POST', '/sync/push-sessions', { source_bundle_id: 1, planned_row_count: 1 });
    await call('POST', `/sync/push-sessions/${String(created.push_id)}/chunks`, {
      start_row_ordinal: 0,
      rows: [
        {
          schema: 'business',
          table: 'users',
          key: { id },
          op: 'INSERT',
          base_row_version: 0,
          payload: { id, name, email: 'x@example.com' },
        },
      ],
    });
    const started = performance.now();
    const committed = await call('POST', `/sync/push-sessions/${String(created.push_id)}/commit`);
    if (!world.otherRows.has(user)) world.otherRows.set(user, new Map());
    world.otherRows.get(user)!.set(id, name);
    const frame = await stream.next(
      (f) => f.event === 'bundle' && Number(JSON.parse(f.data ?? '{}').bundle_seq) === Number(committed.bundle_seq),
      10_000,
    );
    return frame.receivedAt - started;
  } finally {
    await stream.close();
  }
}

describe('scale-out: three instances over one PostgreSQL, 150 devices, faults', () => {
  it(
    'no acknowledged write lost or applied twice, devices equal PostgreSQL, gap-free history, cross-instance watch, ' +
      'one sweeper, bounded connections',
    async () => {
      const db = await createTestDatabase();
      const instances = await startInstances({
        databaseUrl: db.url,
        count: INSTANCES,
        env: {
          JWT_SECRET,
          OVERSYNC_SWEEP_INTERVAL_MS: '300',
          OVERSYNC_DB_POOL_MAX_CONNS: String(POOL),
          OVERSYNC_WATCH_MAX_PER_USER: '64',
        },
      });
      const pgClient = new pg.Client({ connectionString: db.url });
      await pgClient.connect();
      const tag = `${SEED.toString(36)}`;
      const world = new ScaleOutWorld(instances, join(tmpdir(), `oversync-scale-out-${process.pid}-${Date.now()}`), {
        users: USERS,
        devices: DEVICES,
        seed: SEED,
        tag,
      });
      const sampler = new ConnectionSampler(pgClient);
      const watchers: Watcher[] = [];
      const faults = { instanceKills: 0, backendKills: 0, backendsTerminated: 0 };
      try {
        await installSweepProbe(pgClient);
        const setupStart = performance.now();
        await world.setup();
        const setupSeconds = (performance.now() - setupStart) / 1000;
        const watchBefore = await crossInstanceWatch(
          instances[0]!,
          instances[INSTANCES - 1]!,
          world.users[0]!,
          pgClient,
          world,
        );
        const planted = await plantExpiredSessions(pgClient, world.users);
        for (const user of world.users.slice(0, WATCHED_USERS)) {
          const watcher = new Watcher(user, instances, () => Math.floor(Math.random() * INSTANCES));
          watcher.start();
          watchers.push(watcher);
        }
        sampler.start();
        const bundlesBefore = Number(
          (await pgClient.query<{ n: string }>('SELECT count(*) AS n FROM sync.bundle_log')).rows[0]!.n,
        );

        // the load, with faults on a schedule
        const started = performance.now();
        const deadline = started + SECONDS * 1000;
        // faults on a schedule: backends killed, an instance SIGKILLed (restarted a second later), backends killed, …
        let stopFaults = false;
        // the load lasts SECONDS and at least until the schedule's first backend kill and instance kill
        // are done: on a loaded machine (timers late, the other jest worker busy) they still fall within it
        let faultsDone = false;
        const loadRunning = () => performance.now() < deadline || !faultsDone;
        const restarts: Promise<void>[] = [];
        const terminateBackends = async () => {
          const { rows } = await pgClient.query<{ n: number }>(
            `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
              WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name LIKE 'scale-out-i%'`,
          );
          faults.backendKills++;
          faults.backendsTerminated += rows[0]!.n;
        };
        const faultLoop = (async () => {
          try {
            const period = FUZZ_LONG ? 10_000 : (SECONDS * 1000) / 4;
            await sleep(period * 0.8);
            for (let step = 0; !stopFaults && (performance.now() < deadline - 2000 || step < 2); step++) {
              if (step % 2 === 0) await terminateBackends();
              else {
                // instance 2 in CI; each instance in turn in long runs
                const victim = instances[FUZZ_LONG ? ((step - 1) / 2) % INSTANCES : 1]!;
                if (victim.alive) {
                  await victim.kill();
                  faults.instanceKills++;
                  restarts.push(sleep(1000).then(() => victim.start()));
                }
              }
              await sleep(period);
            }
          } finally {
            faultsDone = true;
          }
        })();
        await Promise.all(world.devices.map((d) => world.runDevice(d, loadRunning)));
        const loadSeconds = (performance.now() - started) / 1000;
        stopFaults = true;
        await faultLoop;
        await Promise.all(restarts);
        const bundlesAfter = Number(
          (await pgClient.query<{ n: string }>('SELECT count(*) AS n FROM sync.bundle_log')).rows[0]!.n,
        );
        for (const instance of instances) if (!instance.alive) await instance.start();

        // after the faults (instance restarted, LISTEN connections terminated), before the devices' final pull
        const watchAfter = await crossInstanceWatch(
          instances[0]!,
          instances[INSTANCES - 1]!,
          world.users[1]!,
          pgClient,
          world,
        );
        await world.quiesce();
        // every watch stream has seen its user's last bundle
        const latestOf = async (user: string) =>
          Number(
            (
              await pgClient.query<{ latest: string }>(
                'SELECT next_bundle_seq - 1 AS latest FROM sync.user_state WHERE user_id = $1',
                [user],
              )
            ).rows[0]!.latest,
          );
        const watchDeadline = Date.now() + 15_000;
        for (const watcher of watchers) {
          const latest = await latestOf(watcher.user);
          while (watcher.lastSeq < latest && Date.now() < watchDeadline) await sleep(50);
        }
        const watchLag: string[] = [];
        for (const watcher of watchers) {
          const latest = await latestOf(watcher.user);
          if (watcher.lastSeq !== latest)
            watchLag.push(`${watcher.user}: watch saw ${watcher.lastSeq}, latest ${latest}`);
        }
        // a few more sweeper rounds over the planted sessions
        await sleep(1000);
        sampler.stop();
        await sampler.sample();

        if (process.env.SCALE_OUT_CANARY === 'lose_row') {
          // self-test of the checker only: a simulated server bug that loses one acknowledged row
          await pgClient.query(`BEGIN; SET LOCAL session_replication_role = replica;
            DELETE FROM business.users WHERE ctid = (SELECT ctid FROM business.users
              WHERE _sync_scope_id = '${world.users[2]}' LIMIT 1); COMMIT`);
        }
        const problems = await checkScaleOut(world, pgClient);
        const sweeps = await sweepReport(pgClient);
        const overBudget = [...sampler.max]
          .filter(([, n]) => n > POOL + 1)
          .map(([app, n]) => `${app} held ${n} connections (pool ${POOL} + 1 LISTEN)`);

        const f = world.figures;
        const p95 = (values: number[]) => (values.length ? percentile(values, 95).toFixed(1) : '-');
        const spread = world.devices.reduce(
          (acc, d) => acc.map((n, i) => n + d.requestsPerInstance[i]!),
          Array.from({ length: INSTANCES }, () => 0),
        );
        const lines = [
          `scale-out: seed ${SEED}, ${INSTANCES} instances, ${DEVICES} devices of ${USERS} users, ` +
            `${loadSeconds.toFixed(1)} s of load (setup ${setupSeconds.toFixed(1)} s)`,
          `  bundles committed: ${bundlesAfter - bundlesBefore} (` +
            `${((bundlesAfter - bundlesBefore) / loadSeconds).toFixed(1)} bundles/s); local writes ${f.writes}, ` +
            `acknowledged ${f.acked}`,
          `  p95 per operation (ms): ${Object.entries(f.ops)
            .map(([k, v]) => `${k} ${p95(v)} (n=${v.length})`)
            .join(', ')}`,
          `  p95 per request (ms): ${Object.entries(f.http)
            .sort()
            .map(([k, v]) => `${k} ${p95(v)} (n=${v.length})`)
            .join(', ')}`,
          `  errors seen by devices (retried later): ${JSON.stringify(f.errors)}; HTTP statuses ` +
            `${JSON.stringify(f.httpStatus)}; refused connects re-routed ${f.reroutedConnects}`,
          `  requests per instance: ${spread.join(' / ')}`,
          `  faults: ${faults.instanceKills} SIGKILL+restart, ${faults.backendKills} backend kills (` +
            `${faults.backendsTerminated} backends terminated)`,
          `  watch: instance 1 woke for a commit on instance ${INSTANCES} in ${watchBefore.toFixed(1)} ms ` +
            `before the load, ${watchAfter.toFixed(1)} ms after it; ${watchers.length} streams, ` +
            `${watchers.reduce((s, w) => s + w.events, 0)} events, ` +
            `${watchers.reduce((s, w) => s + w.reconnects, 0)} reconnects`,
          `  sweeper: ${sweeps.transactions} sweep transactions by ${sweeps.instances.join(', ')}, ` +
            `${sweeps.removed} expired sessions removed (${planted} planted), ` +
            (sweeps.problems.length ? `${sweeps.problems.length} problems` : 'all holding the lock, none overlapping'),
          `  connections per instance process (max): ` +
            `${[...sampler.max].map(([a, n]) => `${a} ${n}`).join(', ')}; all instances together ` +
            `${sampler.maxTotal} (budget ${INSTANCES} × (${POOL} + 1) = ${INSTANCES * (POOL + 1)}), ` +
            `${sampler.samples} samples`,
        ];
        console.log(lines.join('\n'));
        // every check at once, so a failure shows all of them
        expect({ failures: world.failures, problems, watchLag, sweeper: sweeps.problems, overBudget }).toEqual({
          failures: [],
          problems: [],
          watchLag: [],
          sweeper: [],
          overBudget: [],
        });
        expect(sweeps.transactions).toBeGreaterThan(0);
        // every planted session is gone: by the sweeper, or by a push create of its user, which deletes the
        // user's expired sessions itself (under load that can come first, so the sweeper's count alone is not it)
        expect(planted).toBeGreaterThan(0);
        expect(sweeps.removed).toBeGreaterThan(0);
        expect(
          Number(
            (await pgClient.query(`SELECT count(*) AS n FROM sync.push_sessions WHERE source_id = 'sweeper-probe'`))
              .rows[0].n,
          ),
        ).toBe(0);
        expect(faults.instanceKills).toBeGreaterThan(0);
        expect(faults.backendKills).toBeGreaterThan(0);
        // every instance served requests
        expect(spread.every((n) => n > 0)).toBe(true);
      } catch (error) {
        for (const instance of instances)
          if (instance.log.trim())
            console.log(`instance ${instance.index + 1} stderr (tail):\n${instance.log.slice(-3000)}`);
        throw error;
      } finally {
        sampler.stop();
        await Promise.all(watchers.map((w) => w.stop()));
        await world.teardown();
        await Promise.all(instances.map((i) => i.stop()));
        await pgClient.end();
        await db.drop();
      }
    },
    (SECONDS + 240) * 1000,
  );
});
