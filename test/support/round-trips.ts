import pg from 'pg';

/** What one measured stretch sent to PostgreSQL: every `query` call of any pg client is one round trip. */
export interface RoundTrips {
  /** query calls sent (a multi-statement simple query counts once: it is one round trip) */
  readonly count: number;
  /** the statement texts, in order, for the failure message */
  readonly statements: readonly string[];
}

/**
 * Counts the round trips the process sends to PostgreSQL while `fn` runs, by wrapping
 * `pg.Client.prototype.query` (the module, TypeORM and the test all use this one `pg`). Run nothing
 * else against the database meanwhile (no background sweeps, no other requests in flight).
 */
export async function countRoundTrips<T>(fn: () => Promise<T>): Promise<{ result: T } & RoundTrips> {
  const statements: string[] = [];
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called back with .call(this) and restored after fn
  const original = pg.Client.prototype.query;
  pg.Client.prototype.query = function counted(this: pg.Client, config: unknown, ...rest: unknown[]) {
    const text =
      typeof config === 'string'
        ? config
        : ((config as { text?: string; name?: string } | null)?.text ?? String(config));
    statements.push(text.replace(/\s+/g, ' ').slice(0, 160));
    return (original as (...args: unknown[]) => unknown).call(this, config, ...rest);
  } as typeof original;
  try {
    const result = await fn();
    return { result, count: statements.length, statements };
  } finally {
    pg.Client.prototype.query = original;
  }
}
