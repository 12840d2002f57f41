import pg from 'pg';

/** Row count and md5 of the ordered row text of every table of the sync and business schemas. */
export type Fingerprint = Record<string, string>;

/**
 * Reads fingerprints of one database: one statement of `count(*)` + `md5(string_agg(row::text))` per
 * table, so a suite can assert that a rejected request changed nothing at all.
 */
export class DatabaseFingerprint {
  private constructor(
    private readonly client: pg.Client,
    private readonly sql: string,
  ) {}

  static async open(url: string, schemas = ['sync', 'business']): Promise<DatabaseFingerprint> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const { rows } = await client.query<{ name: string }>(
      `SELECT format('%I.%I', table_schema, table_name) AS name FROM information_schema.tables
        WHERE table_schema = ANY($1) AND table_type = 'BASE TABLE'
          -- the log of refused commits (admin console) is written by design when a commit is refused; the
          -- registry of listening processes changes on the listener's own schedule (a LISTEN after a watch stream
          -- opens, the UNLISTEN a linger later), whatever request is in flight then
          AND format('%I.%I', table_schema, table_name) NOT IN ('sync.rejected_writes', 'sync.watch_listeners')
        ORDER BY 1`,
      [schemas],
    );
    if (rows.length === 0) throw new Error(`no tables in ${schemas.join(', ')}`);
    const sql = rows
      .map(
        ({ name }) =>
          `SELECT '${name}' AS name, count(*) || ':' || md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), ''))
            AS print FROM ${name} t`,
      )
      .join(' UNION ALL ');
    return new DatabaseFingerprint(client, sql);
  }

  async read(): Promise<Fingerprint> {
    const { rows } = await this.client.query<{ name: string; print: string }>(this.sql);
    return Object.fromEntries(rows.map((r) => [r.name, r.print]));
  }

  /** The tables whose fingerprint differs, e.g. `["sync.push_sessions"]`. */
  static changed(before: Fingerprint, after: Fingerprint): string[] {
    return Object.keys({ ...before, ...after }).filter((name) => before[name] !== after[name]);
  }

  async query<R extends pg.QueryResultRow>(sql: string, values: unknown[] = []): Promise<R[]> {
    return (await this.client.query<R>(sql, values)).rows;
  }

  close(): Promise<void> {
    return this.client.end();
  }
}
