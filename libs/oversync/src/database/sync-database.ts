import { createHash } from 'node:crypto';
import type { Pool, PoolClient, QueryConfig, QueryResult, QueryResultRow } from 'pg';
import type { DataSource } from 'typeorm';
import { RETRYABLE_SQLSTATES } from '@oversync/protocol';

export type IsolationLevel = 'READ COMMITTED' | 'REPEATABLE READ' | 'SERIALIZABLE';

export interface TransactionOptions {
  isolation?: IsolationLevel;
  readOnly?: boolean;
  /** SET CONSTRAINTS ALL DEFERRED in the same round trip as BEGIN */
  deferConstraints?: boolean;
  /** one more statement in BEGIN's round trip (no parameters); its first row goes to `afterBegin` */
  beginWith?: string;
  afterBegin?: (row: QueryResultRow | undefined) => Promise<void>;
}

/** A connection checked out from the host's pool; `query` is pg's. */
export type SyncClient = PoolClient;

export interface SyncDatabaseOptions {
  /**
   * false: send the fixed by-key statements unnamed (parsed on every run) instead of as named prepared
   * statements — for PgBouncer in transaction mode without `max_prepared_statements` (default true).
   */
  preparedStatements?: boolean;
}

/**
 * `client` with the `name` of every QueryConfig or query object dropped (an unnamed statement:
 * Parse/Bind/Execute each time).
 */
function unnamedStatements(client: SyncClient): SyncClient {
  const query = (config: unknown, ...rest: unknown[]) => {
    const submittable = config !== null && typeof (config as { submit?: unknown }).submit === 'function';
    if (submittable) (config as { name?: string }).name = undefined;
    const unnamed =
      !submittable && config !== null && typeof config === 'object' && 'name' in config
        ? { ...(config as QueryConfig), name: undefined }
        : config;
    return (client.query as (...args: unknown[]) => unknown)(unnamed, ...rest);
  };
  return new Proxy(client, {
    get(target, property, receiver) {
      if (property === 'query') return query;
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** The first 'error' a pooled client emitted since it was last checked out by the module. */
const clientErrors = new WeakMap<SyncClient, Error>();
const watchedClients = new WeakSet<SyncClient>();

/**
 * pg-pool detaches its idle 'error' listener while a client is checked out: a backend that dies
 * between our queries (pg_terminate_backend, PostgreSQL restart) would emit an unhandled 'error' and
 * crash the host process. Each client gets one listener of ours for its lifetime, which records the
 * error instead (the next query fails and withClient retries; convergence fuzz, seed 184570144):
 * adding and removing one per checkout was ~1 % of a small request's CPU.
 */
function watchClientErrors(client: SyncClient): void {
  if (watchedClients.has(client)) return;
  watchedClients.add(client);
  client.on('error', (error: Error) => {
    if (!clientErrors.has(client)) clientErrors.set(client, error);
  });
}

/**
 * Access to PostgreSQL through the host's TypeORM DataSource pool.
 * Every sync transaction pins `TimeZone=UTC` and `bytea_output=hex` with SET LOCAL, so payload text
 * never depends on the deployment's defaults (spec §8.11) and the host's own sessions are untouched.
 */
export class SyncDatabase {
  constructor(
    private readonly resolvePool: () => Pool,
    private readonly options: SyncDatabaseOptions = {},
  ) {}

  /** The host's TypeORM DataSource: its pg pool (the "master" pool of the postgres driver). */
  static fromDataSource(resolveDataSource: () => DataSource, options: SyncDatabaseOptions = {}): SyncDatabase {
    // the DataSource is a singleton: looked up once (a moduleRef.get per request was ~2 % of its CPU)
    let dataSource: DataSource | undefined;
    return new SyncDatabase(() => {
      dataSource ??= resolveDataSource();
      const driver = dataSource?.driver as unknown as { master?: Pool } | undefined;
      if (!driver) throw new Error('oversync could not find the host TypeORM DataSource');
      if (!driver.master) throw new Error('oversync requires an initialized PostgreSQL TypeORM DataSource');
      return driver.master;
    }, options);
  }

  static fromPool(pool: Pool, options: SyncDatabaseOptions = {}): SyncDatabase {
    return new SyncDatabase(() => pool, options);
  }

  /**
   * The client as the module's statements should use it: itself, or (with `preparedStatements: false`)
   * a view that sends every statement unnamed, for poolers that cannot keep prepared statements.
   */
  view(client: SyncClient): SyncClient {
    return this.options.preparedStatements === false ? unnamedStatements(client) : client;
  }

  get pool(): Pool {
    return this.resolvePool();
  }

  async query<R extends QueryResultRow = QueryResultRow>(text: string, values?: unknown[]): Promise<R[]> {
    const result = await this.pool.query<R>(text, values);
    return result.rows;
  }

  /**
   * Runs `fn` on one pooled connection. A connection lost before any COMMIT was sent (backend
   * restarted or terminated, network cut) left nothing behind, so `fn` runs again on a fresh one,
   * twice at most (spec §8.23); a COMMIT whose outcome is unknown is never retried.
   */
  async withClient<T>(fn: (client: SyncClient) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.onceWithClient(fn);
      } catch (error) {
        if (attempt >= 2 || !isConnectionError(error) || error instanceof CommitOutcomeUnknownError) throw error;
        await new Promise((resolve) => setTimeout(resolve, 50 * (attempt + 1)));
      }
    }
  }

  private async onceWithClient<T>(fn: (client: SyncClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    watchClientErrors(client);
    clientErrors.delete(client);
    let broken: Error | undefined;
    try {
      return await fn(this.view(client));
    } catch (error) {
      if (isConnectionError(error)) broken = error as Error;
      throw error;
    } finally {
      client.release(clientErrors.get(client) ?? broken);
    }
  }

  /** Runs `fn` in one transaction on a fresh pooled connection. */
  async transaction<T>(fn: (client: SyncClient) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    return this.withClient((client) => runInTransaction(client, fn, options));
  }
}

/**
 * A constant statement that PostgreSQL parses and plans once per connection (a named prepared
 * statement; later runs send only Bind and Execute). Only for statements that find their rows by
 * key, whose plan cannot depend on the parameter values; statements over parameter arrays stay
 * unnamed so that every plan sees the array sizes. The name is derived from the text, so it does not
 * depend on import order and one text always has one name.
 */
export function prepared(text: string): (values: unknown[]) => QueryConfig {
  const name = `oversync_p${createHash('sha256').update(text).digest('hex').slice(0, 20)}`;
  return (values) => ({ name, text, values });
}

/** BEGIN … COMMIT on a client the caller checked out (with the per-user lock: `userTransaction`). */
export async function runInTransaction<T>(
  client: SyncClient,
  fn: (client: SyncClient) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  const mode = `ISOLATION LEVEL ${options.isolation ?? 'READ COMMITTED'}${options.readOnly ? ' READ ONLY' : ''}`;
  const deferred = options.deferConstraints ? '; SET CONSTRAINTS ALL DEFERRED' : '';
  const extra = options.beginWith ? `; ${options.beginWith}` : '';
  const begun = (await client.query(
    `BEGIN ${mode}; SET LOCAL TimeZone TO 'UTC'; SET LOCAL bytea_output TO 'hex'${deferred}${extra}`,
  )) as unknown as QueryResult<QueryResultRow>[];
  try {
    if (options.afterBegin) await options.afterBegin(begun[begun.length - 1]?.rows[0]);
    const result = await fn(client);
    try {
      await client.query('COMMIT');
    } catch (error) {
      // The server may or may not have committed: the caller must not run the work again blindly.
      if (isConnectionError(error)) throw new CommitOutcomeUnknownError(error);
      throw error;
    }
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/** The connection was lost while COMMIT was in flight: the transaction may have committed. */
export class CommitOutcomeUnknownError extends Error {
  constructor(override readonly cause: unknown) {
    super(`connection lost during COMMIT: ${(cause as Error).message}`);
    this.name = 'CommitOutcomeUnknownError';
  }
}

const RETRYABLE = new Set<string>(RETRYABLE_SQLSTATES);

/** SQLSTATE of a pg error anywhere in the cause chain (spec §2.8). */
export function sqlState(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; current && depth < 10; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

export function isRetryableTxError(error: unknown): boolean {
  const code = sqlState(error);
  return code !== undefined && RETRYABLE.has(code);
}

/** Errors that mean the connection itself is gone (server restart, pg_terminate_backend, network). */
export function isConnectionError(error: unknown): boolean {
  const code = sqlState(error);
  if (code && (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03')) return true;
  for (
    let current: unknown = error, depth = 0;
    current instanceof Error && depth < 10;
    current = current.cause, depth++
  ) {
    if (
      /Connection terminated|ECONNRESET|ECONNREFUSED|EPIPE|Connection ended|connection lost/i.test(current.message) ||
      /Client has encountered a connection error/i.test(current.message)
    )
      return true;
    const errno = (current as { code?: unknown }).code;
    if (errno === 'ECONNREFUSED' || errno === 'ECONNRESET' || errno === 'EPIPE') return true;
  }
  return false;
}

/**
 * Re-runs a whole transaction (or any idempotent step) while its error is `retryable` (by default
 * SQLSTATE 40001/40P01/55P03): `attempts` runs, sleeping (i+1)×base between them.
 */
export async function runRetryable<T>(
  attempts: number,
  baseMs: number,
  fn: () => Promise<T>,
  retryable: (error: unknown) => boolean = isRetryableTxError,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (attempt >= attempts - 1 || !retryable(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, (attempt + 1) * baseMs));
    }
  }
}
