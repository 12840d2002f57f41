/**
 * What the scale-out suite observes inside PostgreSQL while the instances run:
 *
 * - the session sweeper: a statement trigger (test-only, in schema `scale_out_probe`) on the
 *   sweeper's DELETEs records, per statement, the transaction, backend, instance
 *   (`application_name`) and whether that backend holds the sweeper's advisory lock; from that the
 *   suite checks every sweep held the lock and no two sweep transactions overlapped;
 * - the connection budget: `pg_stat_activity` sampled per instance process (pool + one LISTEN).
 */
import type pg from 'pg';

const SWEEP_LOCK_KEY = `hashtextextended('oversync.session_sweeper', 0)`;

export async function installSweepProbe(pgClient: pg.Client): Promise<void> {
  await pgClient.query(`
    CREATE SCHEMA IF NOT EXISTS scale_out_probe;
    CREATE TABLE IF NOT EXISTS scale_out_probe.sweeps (
      at timestamptz NOT NULL, xid text NOT NULL, pid int NOT NULL, app text NOT NULL, lock_held boolean NOT NULL,
        tbl text NOT NULL, deleted bigint NOT NULL);
    CREATE OR REPLACE FUNCTION scale_out_probe.record_sweep() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      -- only the sweeper's statements (DELETE … WHERE … IN (SELECT … FOR UPDATE SKIP LOCKED))
      IF current_query() LIKE '%SKIP LOCKED%' THEN
        INSERT INTO scale_out_probe.sweeps
        SELECT clock_timestamp(), pg_current_xact_id()::text, pg_backend_pid(), current_setting('application_name'),
               EXISTS (SELECT 1 FROM pg_locks l
                        WHERE l.pid = pg_backend_pid() AND l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
                          AND l.classid = ((${SWEEP_LOCK_KEY} >> 32) & 4294967295)::oid
                          AND l.objid = (${SWEEP_LOCK_KEY} & 4294967295)::oid),
               TG_TABLE_NAME, (SELECT count(*) FROM old_rows);
      END IF;
      RETURN NULL;
    END $$;
    DROP TRIGGER IF EXISTS zz_scale_out_sweep_probe ON sync.push_sessions;
    CREATE TRIGGER zz_scale_out_sweep_probe AFTER DELETE ON sync.push_sessions
      REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION scale_out_probe.record_sweep();
    DROP TRIGGER IF EXISTS zz_scale_out_sweep_probe ON sync.snapshot_sessions;
    CREATE TRIGGER zz_scale_out_sweep_probe AFTER DELETE ON sync.snapshot_sessions
      REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION scale_out_probe.record_sweep();
  `);
}

/** Expired push sessions for the sweeper to remove (source `sweeper-probe`), one per user. */
export async function plantExpiredSessions(pgClient: pg.Client, users: string[]): Promise<number> {
  const result = await pgClient.query(
    `INSERT INTO sync.push_sessions (push_id, user_pk, source_id, source_bundle_id, planned_row_count, expires_at)
     SELECT gen_random_uuid(), user_pk, 'sweeper-probe', 1 + (SELECT count(*) FROM sync.push_sessions
       WHERE source_id = 'sweeper-probe'), 1, now() - interval '1 second'
       FROM sync.user_state WHERE user_id = ANY($1)`,
    [users],
  );
  return result.rowCount ?? 0;
}

export interface SweepReport {
  statements: number;
  transactions: number;
  instances: string[];
  removed: number;
  problems: string[];
}

export async function sweepReport(pgClient: pg.Client): Promise<SweepReport> {
  const rows = (
    await pgClient.query<{ at: Date; xid: string; pid: number; app: string; lock_held: boolean; deleted: string }>(
      'SELECT * FROM scale_out_probe.sweeps ORDER BY at',
    )
  ).rows;
  const problems: string[] = [];
  for (const row of rows)
    if (!row.lock_held)
      problems.push(
        `sweep statement of ${row.app} (pid ${row.pid}, xact ${row.xid}) ran without the sweeper's advisory lock`,
      );
  const spans = new Map<string, { from: number; to: number; app: string }>();
  for (const row of rows) {
    const t = row.at.getTime();
    const span = spans.get(row.xid);
    if (span) span.to = Math.max(span.to, t);
    else spans.set(row.xid, { from: t, to: t, app: row.app });
  }
  const sorted = [...spans.entries()].sort((a, b) => a[1].from - b[1].from);
  for (let i = 1; i < sorted.length; i++) {
    const [prevXid, prev] = sorted[i - 1]!;
    const [xid, span] = sorted[i]!;
    if (span.from < prev.to)
      problems.push(
        `sweep transactions overlap: ${prev.app} xact ${prevXid} until ${prev.to}, ${span.app} xact ${xid} ` +
          `from ${span.from}`,
      );
  }
  const remaining = await pgClient.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM sync.push_sessions WHERE source_id = 'sweeper-probe'`,
  );
  if (remaining.rows[0]!.n !== 0) problems.push(`${remaining.rows[0]!.n} expired probe sessions were not swept`);
  return {
    statements: rows.length,
    transactions: spans.size,
    instances: [...new Set(rows.map((r) => r.app.replace(/\.\d+$/, '')))].sort(),
    removed: rows.reduce((sum, r) => sum + Number(r.deleted), 0),
    problems,
  };
}

/** Samples the connections of every instance process; `max` is the highest count seen per process. */
export class ConnectionSampler {
  readonly max = new Map<string, number>();
  maxTotal = 0;
  samples = 0;
  private timer: NodeJS.Timeout | null = null;
  private busy = false;

  constructor(private readonly pgClient: pg.Client) {}

  start(everyMs = 200): void {
    this.timer = setInterval(() => void this.sample(), everyMs);
  }

  async sample(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const { rows } = await this.pgClient.query<{ app: string; n: number }>(
        `SELECT application_name AS app, count(*)::int AS n FROM pg_stat_activity
          WHERE datname = current_database() AND application_name LIKE 'scale-out-i%' GROUP BY 1`,
      );
      let total = 0;
      for (const row of rows) {
        this.max.set(row.app, Math.max(this.max.get(row.app) ?? 0, row.n));
        total += row.n;
      }
      this.maxTotal = Math.max(this.maxTotal, total);
      this.samples++;
    } catch {
      // the checker's own connection is never terminated; a failed sample is skipped
    } finally {
      this.busy = false;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
