// Issue 22 probe: the bulk INSERT commit's conflict check, apply and bundle build of two builds on one staged
// session of PROBE_ROWS rows (default 100,000) of business.users, alternating, each in a transaction rolled back
// (tables vacuumed between runs). The rows are the first bundle of the first user in DATABASE_URL (a
// database after push-probe.ts), under new keys. Prints the backend CPU (ms, /proc) of each run and
// the bundle hashes (one: both builds built the same bundle). Each build's compiled `libs/oversync/dist`:
// BENCH_BASE_CWD (default /work/main) against this worktree. `npx tsx test/bench/bulk-commit-ab-probe.ts`
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { stageProbeSession } from './sql-probe-calls.js';
import type { SyncClient } from '../../libs/oversync/src/database/sync-database.js';
import type { ApplyRun } from '../../libs/oversync/src/push/push-apply.js';
import type * as Apply from '../../libs/oversync/src/push/push-apply.js';
import type * as Capture from '../../libs/oversync/src/bundle/bundle-capture.js';
import type * as Catalog from '../../libs/oversync/src/schema/sync-catalog.js';
import type * as Conflicts from '../../libs/oversync/src/push/push-conflicts.js';

interface Build {
  apply: typeof Apply;
  capture: typeof Capture;
  catalog: typeof Catalog;
  conflicts: typeof Conflicts;
}
const load = async (root: string): Promise<Build> => ({
  apply: (await import(`${root}/libs/oversync/dist/push/push-apply.js`)) as typeof Apply,
  capture: (await import(`${root}/libs/oversync/dist/bundle/bundle-capture.js`)) as typeof Capture,
  catalog: (await import(`${root}/libs/oversync/dist/schema/sync-catalog.js`)) as typeof Catalog,
  conflicts: (await import(`${root}/libs/oversync/dist/push/push-conflicts.js`)) as typeof Conflicts,
});
const builds = { base: await load(process.env.BENCH_BASE_CWD ?? '/work/main'), this: await load(process.cwd()) };
const rows = Number(process.env.PROBE_ROWS ?? 100_000);
const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
await client.connect();
const sync = client as unknown as SyncClient;
const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
const cpuMs = () => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
};
const { users, userPk, userId, pushId } = await stageProbeSession(client, rows);
const run: ApplyRun = {
  first: {
    ordinal: 0,
    table: users,
    key: '',
    op: 'INSERT',
    columns: ['created_at', 'email', 'id', 'name', 'updated_at'],
  },
  last: rows - 1,
};
const options = { userPk, sourceId: 'probe', sourceBundleId: '999999' };
/** The build's bulk path: one statement where it has one, else its temporary table. */
async function commit(build: Build): Promise<string | undefined> {
  const catalog = new build.catalog.SyncCatalog([users], true);
  // the conflict check (a build before `anyRowState` answers the conflict or null; its commit upserts row_state)
  const check: unknown = await build.conflicts.findConflict(sync, catalog, pushId, userPk, userId);
  const newKeys = typeof check === 'object' && check !== null && 'anyRowState' in check && !check.anyRowState;
  // a build before the one-statement path has no applyInsertRunFinalized
  if (typeof (build.apply as Partial<typeof Apply>).applyInsertRunFinalized === 'function') {
    const bundle = await build.apply.applyInsertRunFinalized(pushId, userId, run, (inserted, parameters) =>
      build.capture.finalizeInsertedBundle(sync, catalog, options, null, { ...inserted, newKeys }, parameters),
    );
    return bundle?.bundleHash;
  }
  await build.apply.applyInsertRunsCaptured(sync, pushId, userId, [run]);
  return (await build.capture.finalizeWriterCapturedBundle(sync, catalog, options, null))?.bundleHash;
}
const cpu: Record<string, number[]> = { base: [], this: [] };
const hashes = new Set<string | undefined>();
try {
  for (let rep = 0; rep < Number(process.env.PROBE_REPS ?? 6); rep++) {
    for (const name of rep % 2 ? (['this', 'base'] as const) : (['base', 'this'] as const)) {
      await client.query(
        'VACUUM business.users, sync.row_state, sync.bundle_rows, sync.bundle_row_blocks, sync.bundle_log',
      );
      await client.query('BEGIN');
      await client.query(`SET LOCAL work_mem = '64MB'; SET LOCAL jit = off; SET LOCAL TimeZone = 'UTC';
        SET LOCAL bytea_output = 'hex'`);
      await client.query(`SELECT set_config(name, value, true) FROM unnest($1::text[], $2::text[]) AS g(name, value)`, [
        ['oversync.bundle_user_id', 'oversync.bundle_user_pk', 'oversync.bundle_source_id'],
        [userId, userPk, 'probe'],
      ]);
      const before = cpuMs();
      hashes.add(await commit(builds[name]));
      cpu[name]!.push(cpuMs() - before);
      await client.query('ROLLBACK');
    }
  }
} finally {
  await client.query('DELETE FROM sync.push_sessions WHERE push_id = $1', [pushId]);
  await client.end();
}
const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)];
for (const [name, values] of Object.entries(cpu))
  console.log(`${name}: backend CPU ${values.join(' ')} ms (median ${median(values)})`);
console.log(`bundle hashes: ${[...hashes].join(' ')}`);
