import pg, { type FieldDef, type QueryConfig, type QueryResultRow } from 'pg';
import {
  CommitOutcomeUnknownError,
  isConnectionError,
  runRetryable,
  sqlState,
  type SyncClient,
  type SyncDatabase,
} from './sync-database.js';
import { oversyncErrorFromDatabase } from './sql-errors.js';
import { reportUserLockWait } from './user-lock.js';

/** Backend errors that abort the statement before it could commit (administrator command, shutdown, recovery). */
const ABORTED_BEFORE_COMMIT = new Set(['57P01', '57P02', '57P03']);

/**
 * Whether a connection error of an autocommit call shows that it never committed: the client could
 * not send it, or the backend answered with its termination instead of a result. A connection that
 * merely went away leaves the outcome unknown.
 */
function neverCommitted(error: unknown): boolean {
  const state = sqlState(error);
  if (state && ABORTED_BEFORE_COMMIT.has(state)) return true;
  const message = error instanceof Error ? error.message : '';
  const errno = (error as { code?: unknown } | null)?.code;
  return /not queryable|ECONNREFUSED/.test(message) || errno === 'ECONNREFUSED';
}

/** What the query below touches of pg's `Result` (pg 8: lib/result.js). */
interface PgResult {
  command: string | null;
  fields: FieldDef[];
  rows: QueryResultRow[];
  _parsers: Array<(value: string | Buffer) => unknown> | undefined;
  _types: TypeParsers | undefined;
  parseRow(values: Array<string | null>): QueryResultRow;
}

interface TypeParsers {
  getTypeParser(oid: number, format: 'text' | 'binary'): (value: string | Buffer) => unknown;
}

/** pg's parseRow without its row template: the same parsers, columns assigned in their order. */
function parseRow(this: PgResult, values: Array<string | null>): QueryResultRow {
  const row: QueryResultRow = {};
  const parsers = this._parsers!;
  for (let i = 0; i < values.length; i++) {
    const value = values[i]!;
    const field = this.fields[i]!;
    row[field.name] = value === null ? null : parsers[i]!(field.format === 'binary' ? Buffer.from(value) : value);
  }
  return row;
}

const pgQuery = pg.Query.prototype as unknown as RowDescriptionHandler;
interface RowDescriptionHandler {
  handleRowDescription(this: unknown, message: { fields: FieldDef[] }): void;
}

/**
 * pg's Query for one call, without two steps pg takes per query for a plain config object (a tenth of
 * pg's share of a small request, `--cpu-prof`): it copies the config through its property descriptors
 * (`cloneQueryConfig`) and rebuilds a row template from each answer's row description
 * (`Result.addFields`: a dictionary object, spread again for every row). Same statement, same
 * parsers, same rows; an answer of several results (not a request function's) is left to pg.
 */
class RequestFunctionQuery extends pg.Query {
  constructor(config: QueryConfig, callback: (error: Error | undefined, result: { rows: QueryResultRow[] }) => void) {
    // the text alone: pg copies a config object, not a string
    super(config.text, callback as never);
    Object.assign(this, { name: config.name, values: config.values });
  }

  handleRowDescription(message: { fields: FieldDef[] }): void {
    const query = this as unknown as { _result: PgResult; _accumulateRows: boolean };
    const result = query._result;
    if (result.command !== null) return pgQuery.handleRowDescription.call(this, message);
    const types = result._types ?? (pg.types as unknown as TypeParsers);
    result.fields = message.fields;
    result._parsers = message.fields.map((field) =>
      types.getTypeParser(field.dataTypeID, (field.format || 'text') as 'text' | 'binary'),
    );
    result.parseRow = parseRow;
    // pg: accumulate when there is a callback (there always is)
    query._accumulateRows = true;
  }
}

/** Sends `query` on `client` as a RequestFunctionQuery; its rows. */
function queryRows<R extends QueryResultRow>(client: SyncClient, query: QueryConfig): Promise<R[]> {
  return new Promise((resolve, reject) => {
    void client.query(
      new RequestFunctionQuery(query, (error, result) => (error ? reject(error) : resolve(result.rows as R[]))),
    );
  });
}

export interface RequestFunctionOptions {
  /**
   * The column in which a function that takes the user lock (`sync.lock_user`) answers whether it
   * waited: waits and lock timeouts (`service_unavailable`) reach the telemetry.
   */
  lockWaited?: string;
  /**
   * A push function: retried as a whole on 40001/40P01/55P03 (3 × 25 ms, spec §2.8). After a lost
   * connection it runs again (`SyncDatabase.withClient`) only when it provably never committed or is
   * `idempotent` (a second run answers like the first); otherwise the outcome is unknown and the
   * error says so.
   */
  write?: { idempotent?: boolean };
}

/**
 * One call of a request function (schema/sync-*-functions.sql.ts): a single autocommit statement on
 * a pooled connection, so BEGIN and COMMIT ride in its round trip. A refusal it raised comes back as
 * its OversyncError. Every request function answers at least one row.
 */
export async function callRequestFunction<R extends QueryResultRow>(
  db: SyncDatabase,
  query: QueryConfig,
  options: RequestFunctionOptions = {},
): Promise<[R, ...R[]]> {
  const { lockWaited, write } = options;
  const once = async (client: SyncClient): Promise<[R, ...R[]]> => {
    let rows: R[];
    try {
      rows = await queryRows<R>(client, query);
    } catch (error) {
      const refusal = oversyncErrorFromDatabase(error);
      if (refusal) {
        if (lockWaited !== undefined && refusal.code === 'service_unavailable') {
          reportUserLockWait('waited');
          reportUserLockWait('timed_out');
        }
        throw refusal;
      }
      if (write && !write.idempotent && isConnectionError(error) && !neverCommitted(error))
        throw new CommitOutcomeUnknownError(error);
      throw error;
    }
    const [first, ...more] = rows;
    if (first === undefined) throw new Error('request function returned no row');
    if (lockWaited !== undefined && (first as Record<string, unknown>)[lockWaited]) reportUserLockWait('waited');
    return [first, ...more];
  };
  return db.withClient((client) => (write ? runRetryable(3, 25, () => once(client)) : once(client)));
}
