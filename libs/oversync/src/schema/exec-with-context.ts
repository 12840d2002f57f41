import type { SyncClient } from '../database/sync-database.js';
import { withErrorContext } from './error-context.js';

/** Runs one DDL/DML statement; a failure is reported as `<context>: <cause>` (spec §2.1 error texts). */
export async function execWithContext(
  client: SyncClient,
  context: string,
  text: string,
  values: unknown[] = [],
): Promise<void> {
  try {
    await client.query(text, values);
  } catch (error) {
    throw withErrorContext(context, error);
  }
}
