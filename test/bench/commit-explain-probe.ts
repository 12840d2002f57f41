// Issue 22 probe: EXPLAIN (ANALYZE, BUFFERS) of this build's one-statement bulk commit (apply + bundle build)
// on a staged session of PROBE_ROWS rows (default 100,000), as bulk-commit-ab-probe.ts stages it, rolled back.
// PROBE_PLAIN=1 runs it without EXPLAIN and prints the statement's text instead (for perf). `npx tsx …`
import pg from 'pg';
import { stageProbeSession } from './sql-probe-calls.js';
import type { SyncClient } from '../../libs/oversync/src/database/sync-database.js';
import { applyInsertRunFinalized } from '../../libs/oversync/src/push/push-apply.js';
import { finalizeInsertedBundle } from '../../libs/oversync/src/bundle/bundle-capture.js';
import { SyncCatalog } from '../../libs/oversync/src/schema/sync-catalog.js';

const rows = Number(process.env.PROBE_ROWS ?? 100_000);
const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
await client.connect();
const { users, userPk, userId, pushId } = await stageProbeSession(client, rows);
const explain = process.env.PROBE_PLAIN !== '1';
const wrapped = {
  query: (text: string, values?: unknown[]) =>
    text.startsWith('WITH ') && explain
      ? client.query(`EXPLAIN (ANALYZE, BUFFERS, VERBOSE, WAL, SETTINGS) ${text}`, values).then((r) => {
          for (const row of r.rows) console.log(row['QUERY PLAN']);
          return { rows: [{ row_count: '0', ok: false, bundle_seq: null, bundle_hash: null }] };
        })
      : client.query(text, values),
} as unknown as SyncClient;
if (!explain) {
  const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  console.log(`backend ${pid}`);
  await new Promise((resolve) => setTimeout(resolve, Number(process.env.PROBE_WAIT_MS ?? 0)));
}
try {
  await client.query('VACUUM ANALYZE business.users, sync.row_state, sync.bundle_rows, sync.bundle_row_blocks');
  for (let rep = 0; rep < Number(process.env.PROBE_REPS ?? 1); rep++) {
    await client.query('BEGIN');
    await client.query(`SET LOCAL work_mem = '64MB'; SET LOCAL jit = off; SET LOCAL TimeZone = 'UTC';
      SET LOCAL bytea_output = 'hex'`);
    const catalog = new SyncCatalog([users], true);
    const options = { userPk, sourceId: 'probe', sourceBundleId: '999999' };
    const run = {
      first: {
        ordinal: 0,
        table: users,
        key: '',
        op: 'INSERT' as const,
        columns: ['created_at', 'email', 'id', 'name', 'updated_at'],
      },
      last: rows - 1,
    };
    const t = performance.now();
    const bundle = await applyInsertRunFinalized(pushId, userId, run, (inserted, parameters) =>
      finalizeInsertedBundle(wrapped, catalog, options, null, inserted, parameters),
    );
    console.log(`run ${rep}: ${(performance.now() - t).toFixed(0)} ms, hash ${bundle?.bundleHash}`);
    await client.query('ROLLBACK');
  }
} finally {
  await client.query('DELETE FROM sync.push_sessions WHERE push_id = $1', [pushId]);
  await client.end();
}
