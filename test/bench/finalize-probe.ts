// Finalize probe: the commit's one-statement bundle build (`finalizeInDatabaseSql`) over a capture
// stage of the first bundle of user_pk 1 in DATABASE_URL (a push_bench after push-probe), with EXPLAIN
// ANALYZE per part, in a transaction rolled back. `npx tsx test/bench/finalize-probe.ts`
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { readUsersTable } from './sql-probe-calls.js';
import { finalizeInDatabaseSql, finalizeParams } from '../../libs/oversync/src/bundle/bundle-finalize.sql.js';
import { SyncCatalog } from '../../libs/oversync/src/schema/sync-catalog.js';

const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
await client.connect();
const users = await readUsersTable(client);
const catalog = new SyncCatalog([users], true);
const backendPid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
/** utime + stime of the backend, ms */
const cpuMs = () => {
  const fields = readFileSync(`/proc/${backendPid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
};
try {
  await client.query('BEGIN');
  await client.query(`SET LOCAL work_mem = '64MB'; SET LOCAL session_replication_role = replica`);
  await client.query(
    `INSERT INTO sync.bundle_capture_stage (txid, user_pk, table_id, op_code, key_bytes, payload_db)
     SELECT txid_current(), 1, table_id, 1, decode(md5(key_bytes::text), 'hex'), payload_wire::jsonb
       FROM sync.bundle_rows WHERE user_pk = 1 AND bundle_seq = 1 ORDER BY row_ordinal`,
  );
  const t = performance.now();
  const cpu = cpuMs();
  const { rows } = await client.query<{ 'QUERY PLAN': string }>(
    `EXPLAIN (ANALYZE, TIMING ${process.env.TIMING ?? 'on'}) ${finalizeInDatabaseSql(catalog)}`,
    [1, 'probe', 99, null, ...finalizeParams(catalog)],
  );
  console.log(`finalize ${(performance.now() - t).toFixed(0)} ms, backend CPU ${cpuMs() - cpu} ms`);
  console.log(
    rows
      .map((r) => r['QUERY PLAN'])
      .filter((l) => /CTE |Insert|Aggregate|Sort|WindowAgg|Execution/.test(l))
      .join('\n'),
  );
} finally {
  await client.query('ROLLBACK');
  await client.end();
}
