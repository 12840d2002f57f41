import type { SyncClient, SyncDatabase } from '../database/sync-database.js';
import { quoteIdentifier as quote, quoteLiteral } from '../database/sql-quote.js';
import type { SyncCatalog } from '../schema/sync-catalog.js';
import { insertsEveryColumn, typedStagingSelectSql, type ApplyRow, type ApplyRun } from './push-apply.js';
import type { PushChunkShape } from './push-chunk.parser.js';

/**
 * Typed staging: a bulk push's staged rows converted, chunk by chunk after each chunk is staged, into the rows the
 * one-statement commit's `populated` CTE would build from them (bundle ordinal, key bytes, key JSON, canonical
 * payload and the typed columns), on a pooled connection of its own while the client sends the next chunk, so the
 * commit reads them instead of parsing every staged payload again. An optimisation only: the staged rows in
 * `sync.push_session_rows` stay what a chunk's answer says is durable, and the commit builds from them whenever
 * the typed rows are not all there or not from the table as it is now.
 *
 * The rows go into one UNLOGGED table per push, `sync.push_typed_<push id>_<definition stamp>`: created from the
 * business table's row type by the first chunk's conversion (so it follows the host's DDL without a table kept in
 * step), dropped by the commit, the session's delete, and the sweep of tables whose session is gone. The stamp is a
 * digest of the business table's `pg_attribute` rows (name, type, modifier and row version: any ALTER of a column
 * changes it), taken in each conversion's transaction and again at commit: a conversion under another definition
 * writes another table, and the commit reads the table only when its name carries the stamp of now.
 */
export class TypedStaging {
  /** per push, the last conversion queued (true while every chunk so far was converted) and when */
  private readonly chains = new Map<string, { converted: Promise<boolean>; at: number }>();

  constructor(private readonly db: SyncDatabase) {}

  /**
   * Queues the conversion of a chunk just staged (rows `next - chunk.length` … `next - 1`), after the push's
   * earlier ones. Only a chunk of INSERTs naming every column of one table, where the role may skip triggers
   * (the one-statement commit's case); any other chunk ends the push's typed staging.
   */
  chunkStaged(catalog: SyncCatalog, pushId: string, chunk: PushChunkShape, next: bigint): void {
    const now = Date.now();
    // pushes left without a commit or delete: forgotten after an hour (their tables go with a later commit's drop)
    if (this.chains.size > 64) for (const [id, { at }] of this.chains) if (now - at > 3_600_000) this.chains.delete(id);
    const previous = this.chains.get(pushId)?.converted ?? Promise.resolve(true);
    const shape = /^(\d+) ([a-z0-9_,]+)$/.exec(chunk.insertShape ?? '');
    const table = shape ? catalog.tables.find((t) => t.tableId === Number(shape[1])) : undefined;
    const first: ApplyRow | undefined =
      shape && table ? { ordinal: 0, table, key: '', op: 'INSERT', columns: shape[2]!.split(',') } : undefined;
    if (!first || !catalog.trustedSyncWrites || !insertsEveryColumn(first)) {
      this.chains.set(pushId, { converted: Promise.resolve(false), at: now });
      return;
    }
    const from = Number(next) - chunk.length;
    const select = typedStagingSelectSql(first, pushId, from, Number(next) - 1);
    // one round trip, in a transaction of its own with the settings of every sync transaction
    const rows = `$select$${select}$select$`;
    const create = `EXECUTE format('CREATE UNLOGGED TABLE %s AS %s WITH NO DATA', target, ${rows});`;
    const convert = `${TYPED_STAGING_MARK}\nBEGIN; SET LOCAL TimeZone TO 'UTC'; SET LOCAL bytea_output TO 'hex';
       DO $typed$ DECLARE target text := ${typedTableNowSql(pushId, first)}; BEGIN
         ${from === 0 ? create : ''}
         EXECUTE format('INSERT INTO %s %s', target, ${rows});
       END $typed$; COMMIT`;
    const chain = previous.then(async (converted) => {
      if (!converted) return false;
      try {
        await this.db.withClient(async (client) => {
          try {
            await client.query(convert);
          } catch (error) {
            await client.query('ROLLBACK');
            throw error;
          }
        });
        return true;
      } catch {
        // the commit builds from the staged rows (a table left behind goes with the session)
        return false;
      }
    });
    this.chains.set(pushId, { converted: chain, at: now });
  }

  /**
   * The push's typed table for the commit of its one run, when every row of the run is in it and it was
   * written under the business table's definition of now; waits for this process's conversions first.
   */
  async ready(client: SyncClient, pushId: string, { first, last }: ApplyRun): Promise<string | undefined> {
    const chain = this.chains.get(pushId)?.converted;
    this.chains.delete(pushId);
    if (chain && !(await chain)) return undefined;
    if (first.ordinal !== 0 || !insertsEveryColumn(first)) return undefined;
    const { rows } = await client.query<{ target: string; found: boolean }>(
      `SELECT t.target, to_regclass(t.target) IS NOT NULL AS found FROM (SELECT ${typedTableNowSql(pushId, first)}
         AS target) t`,
    );
    const target = rows[0]?.target;
    if (!target || !rows[0]?.found) return undefined;
    const { rows: counted } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${target}`);
    return Number(counted[0]?.n) === last + 1 ? target : undefined;
  }

  /**
   * Drops the push's typed tables (in the caller's transaction), and those whose push session is gone (expired,
   * or a process died before it dropped them) where no one holds them.
   */
  async drop(client: SyncClient, pushId: string): Promise<void> {
    this.chains.delete(pushId);
    const own = quoteLiteral(`${tablePrefix(pushId)}\\_%`);
    await client.query(
      `DO $typed$ DECLARE t record; BEGIN
         FOR t IN SELECT c.oid::regclass AS rel, c.relname, c.relname LIKE ${own} AS own
                    FROM pg_class c
                   WHERE c.relnamespace = 'sync'::regnamespace AND c.relkind = 'r'
                     AND c.relname LIKE 'push\\_typed\\_%' LOOP
           IF t.own THEN
             EXECUTE 'DROP TABLE ' || t.rel;
           ELSIF NOT EXISTS (SELECT FROM sync.push_sessions ps
                              WHERE ps.push_id = substr(t.relname, 12, 32)::uuid) THEN
             BEGIN
               EXECUTE 'LOCK TABLE ' || t.rel || ' IN ACCESS EXCLUSIVE MODE NOWAIT';
               EXECUTE 'DROP TABLE ' || t.rel;
             EXCEPTION WHEN lock_not_available THEN NULL;
             END;
           END IF;
         END LOOP; END $typed$`,
    );
  }
}

const tablePrefix = (pushId: string) => `push_typed_${pushId.replaceAll('-', '')}`;

/** Leads every typed staging conversion (a statement of no request: round-trip counts leave it out). */
export const TYPED_STAGING_MARK = '-- oversync typed staging';

/**
 * SQL of the push's typed table under the business table's definition of now: a digest of its `pg_attribute` rows
 * (row versions too: any ALTER of a column changes it) and the run's columns.
 */
function typedTableNowSql(pushId: string, first: ApplyRow): string {
  const table = quoteLiteral(`${quote(first.table.schema)}.${quote(first.table.table)}`);
  return `(SELECT 'sync.' || quote_ident(${quoteLiteral(`${tablePrefix(pushId)}_`)} || left(md5(string_agg(
      a.attname || ' ' || a.atttypid || ' ' || a.atttypmod || ' ' || a.xmin, ',' ORDER BY a.attnum)
      || ${quoteLiteral(`\n${first.columns.join(',')}`)}), 16))
     FROM pg_attribute a WHERE a.attrelid = ${table}::regclass AND a.attnum > 0 AND NOT a.attisdropped)`;
}
