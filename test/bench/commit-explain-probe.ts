// Issue 22 probe: EXPLAIN (ANALYZE, BUFFERS) of this build's one-statement bulk commit (apply + bundle build)
// on a staged session of PROBE_ROWS rows (default 100,000), as bulk-commit-ab-probe.ts stages it, rolled back.
// PROBE_PLAIN=1 runs it without EXPLAIN and prints the statement's text instead (for perf). PROBE_TYPED=1 (typed
// staging, measured not built): the statement's `populated` rows converted beforehand into an unlogged table (as a
// chunk-time conversion would leave them; its backend CPU printed), then PROBE_REPS alternations of the statement as
// it is and reading that table instead, each rolled back, with this backend's CPU (/proc). `npx tsx …`
import { readFileSync } from 'node:fs';
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
const typed = process.env.PROBE_TYPED === '1';
const explain = process.env.PROBE_PLAIN !== '1' && !typed;
const backend = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
/** this connection's backend CPU (ms) */
const backendCpuMs = () => {
  const fields = readFileSync(`/proc/${backend}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
};
/** with PROBE_TYPED: whether the statement reads the typed table instead of its `populated` CTE's query */
let readTyped = false;
const TYPED_TABLE = 'public.oversync_probe_typed';
const typedText = (text: string) => {
  if (!readTyped) return text;
  const open = 'populated AS MATERIALIZED (';
  const start = text.indexOf(open) + open.length;
  const end = text.indexOf('),\n     inserted AS (', start);
  if (start < open.length || end < 0) throw new Error('populated CTE not found');
  return `${text.slice(0, start)}SELECT * FROM ${TYPED_TABLE}
     -- the parameters the conversion took (each needs a type)
     WHERE $10::uuid IS NOT NULL AND $11::int8 IS NOT NULL AND $13::int8 IS NOT NULL
     ORDER BY "#ordinal"${text.slice(end)}`;
};
const wrapped = {
  query: (text: string, values?: unknown[]) =>
    text.startsWith('WITH ') && explain
      ? client.query(`EXPLAIN (ANALYZE, BUFFERS, VERBOSE, WAL, SETTINGS) ${text}`, values).then((r) => {
          for (const row of r.rows) console.log(row['QUERY PLAN']);
          return { rows: [{ row_count: '0', ok: false, bundle_seq: null, bundle_hash: null }] };
        })
      : client.query(text.startsWith('WITH ') ? typedText(text) : text, values),
} as unknown as SyncClient;
if (!explain) {
  console.log(`backend ${backend}`);
  await new Promise((resolve) => setTimeout(resolve, Number(process.env.PROBE_WAIT_MS ?? 0)));
}
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
try {
  await client.query('VACUUM ANALYZE business.users, sync.row_state, sync.bundle_rows, sync.bundle_row_blocks');
  for (let rep = 0; rep < Number(process.env.PROBE_REPS ?? 1); rep++) {
    if (typed && rep === 0) {
      // the chunk-time conversion, all chunks at once: `populated` as the statement builds it, into a table
      await applyInsertRunFinalized(pushId, userId, run, async (inserted, parameters) => {
        const literal = (n: number) => `'${String(parameters[n - 10])}'`;
        const sql = inserted.populatedSql!.replace(/\$(1[0-3])\b/g, (_, n: string) => literal(Number(n)));
        await client.query(`DROP TABLE IF EXISTS ${TYPED_TABLE}`);
        const before = backendCpuMs();
        await client.query(
          `BEGIN; SET LOCAL jit = off; SET LOCAL TimeZone = 'UTC'; SET LOCAL bytea_output = 'hex';
           CREATE UNLOGGED TABLE ${TYPED_TABLE} AS ${sql}; COMMIT`,
        );
        console.log(`typed conversion of ${rows} rows: backend CPU ${backendCpuMs() - before} ms`);
      });
    }
    await client.query('BEGIN');
    await client.query(`SET LOCAL work_mem = '64MB'; SET LOCAL jit = off; SET LOCAL TimeZone = 'UTC';
      SET LOCAL bytea_output = 'hex'`);
    // alternating: as it is (even pairs first), reading the typed table
    readTyped = typed && (rep % 4 === 1 || rep % 4 === 2);
    const t = performance.now();
    const cpu = backendCpuMs();
    const bundle = await applyInsertRunFinalized(pushId, userId, run, (inserted, parameters) =>
      finalizeInsertedBundle(wrapped, catalog, options, null, inserted, parameters),
    );
    console.log(
      `run ${rep}${typed ? (readTyped ? ' typed' : ' as is') : ''}: ${(performance.now() - t).toFixed(0)} ms, ` +
        `backend CPU ${backendCpuMs() - cpu} ms, hash ${bundle?.bundleHash}`,
    );
    await client.query('ROLLBACK');
  }
} finally {
  await client.query('ROLLBACK');
  if (typed) await client.query(`DROP TABLE IF EXISTS ${TYPED_TABLE}`);
  await client.query('DELETE FROM sync.push_sessions WHERE push_id = $1', [pushId]);
  await client.end();
}
