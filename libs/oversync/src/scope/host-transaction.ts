import type { QueryResult } from 'pg';
import type { DataSource, EntityManager } from 'typeorm';
import type { SyncClient, SyncDatabase } from '../database/sync-database.js';
import { userLockSql, waitForUserLock } from '../database/user-lock.js';

/**
 * One READ COMMITTED transaction of the host's TypeORM DataSource holding the per-user advisory lock
 * (spec §2.7, §4.15; transaction-scoped, see user-lock.ts). `fn` gets the raw pg client (sync SQL)
 * and the QueryRunner's EntityManager (host writes) — both on that one connection and transaction.
 */
export async function runLockedHostTransaction<T>(
  dataSource: DataSource,
  userId: string,
  lockTimeoutMs: number,
  fn: (client: SyncClient, manager: EntityManager) => Promise<T>,
  /** the module's database, for its statement settings (`view`) */
  db?: Pick<SyncDatabase, 'view'>,
): Promise<T> {
  const runner = dataSource.createQueryRunner('master');
  try {
    const client = (await runner.connect()) as SyncClient;
    await runner.startTransaction('READ COMMITTED');
    try {
      // Payload text must not depend on the deployment's defaults, as in every sync transaction (spec §8.11);
      // the user lock is transaction-scoped, tried in the same round trip (see user-lock.ts).
      const [, , locked] = (await client.query(
        `SET LOCAL TimeZone TO 'UTC'; SET LOCAL bytea_output TO 'hex'; ${userLockSql(userId)}`,
      )) as unknown as QueryResult<{ locked?: boolean }>[];
      if (locked?.rows[0]?.locked !== true) await waitForUserLock(client, userId, lockTimeoutMs);
      const result = await fn(db ? db.view(client) : client, runner.manager);
      await runner.commitTransaction();
      return result;
    } catch (error) {
      if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
      throw error;
    }
  } finally {
    await runner.release();
  }
}
