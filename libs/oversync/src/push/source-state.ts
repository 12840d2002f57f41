import type { SourceStateName } from '@oversync/protocol';
import { prepared, type SyncClient } from '../database/sync-database.js';
import { OversyncError } from '../errors/oversync.error.js';

export interface SourceState {
  state: SourceStateName | null;
  maxCommitted: bigint;
  replacedBy: string;
}

const sourceStateSql = (lock: string) =>
  `SELECT state, max_committed_source_bundle_id AS max, replaced_by_source_id FROM sync.source_state WHERE user_pk = $1
    AND source_id = $2${lock}`;
const READ_SOURCE_STATE = prepared(sourceStateSql(''));
const LOCK_SOURCE_STATE = prepared(sourceStateSql(' FOR UPDATE'));

export async function readSourceState(
  client: SyncClient,
  userPk: string,
  sourceId: string,
  forUpdate: boolean,
): Promise<SourceState> {
  const { rows } = await client.query<{ state: SourceState['state']; max: string; replaced_by_source_id: string }>(
    (forUpdate ? LOCK_SOURCE_STATE : READ_SOURCE_STATE)([userPk, sourceId]),
  );
  return sourceStateOf(rows[0]);
}

/** A source_state row (`state`, `max`, `replaced_by_source_id`) as SourceState; a missing row is a new source. */
export function sourceStateOf(
  row: { state: SourceState['state']; max: string | null; replaced_by_source_id: string | null } | undefined,
): SourceState {
  return row?.state
    ? { state: row.state, maxCommitted: BigInt(row.max ?? 0), replacedBy: row.replaced_by_source_id ?? '' }
    : { state: null, maxCommitted: 0n, replacedBy: '' };
}

/** 409 source_retired with its extra members (spec §6). */
export function sourceRetired(sourceId: string, userId: string, replacedBy: string): OversyncError {
  const message = replacedBy
    ? `source ${sourceId} for user ${userId} was retired and replaced by ${replacedBy}`
    : `source ${sourceId} for user ${userId} was retired`;
  return new OversyncError(
    'source_retired',
    message,
    replacedBy ? { source_id: sourceId, replaced_by_source_id: replacedBy } : { source_id: sourceId },
  );
}

/** Source sequencing of push create and server-originated writes (§4.2.1 step 7, §4.15 step 5). */
export function requireNextSourceBundle(state: SourceState, sourceId: string, userId: string, requested: bigint): void {
  if (state.state === 'retired') throw sourceRetired(sourceId, userId, state.replacedBy);
  const expected = state.maxCommitted + 1n;
  if (requested < expected) {
    throw new OversyncError(
      'history_pruned',
      `source tuple (${sourceId}, ${requested}) for user ${userId} is older than retained duplicate history; ` +
        `max committed source_bundle_id is ${state.maxCommitted}`,
    );
  }
  if (requested > expected) {
    throw new OversyncError(
      'source_sequence_out_of_order',
      `source ${sourceId} for user ${userId} expected next source_bundle_id ${expected}, got ${requested}`,
    );
  }
}

const activateSourceSql = (close: string) =>
  `${close}INSERT INTO sync.source_state (user_pk, source_id, state, max_committed_source_bundle_id,
    replaced_by_source_id, retirement_reason)
   VALUES ($1, $2, 'active', $3, '', '')
   ON CONFLICT (user_pk, source_id) DO UPDATE SET state = 'active',
     max_committed_source_bundle_id = EXCLUDED.max_committed_source_bundle_id,
     replaced_by_source_id = '', retirement_reason = ''
   WHERE sync.source_state.state <> 'retired'`;
const ACTIVATE_SOURCE = prepared(activateSourceSql(''));
const ACTIVATE_SOURCE_CLOSING_PUSH = prepared(
  activateSourceSql('WITH closed AS (DELETE FROM sync.push_sessions WHERE push_id = $4::uuid)\n   '),
);

/**
 * Marks the source active with its new watermark after a committed bundle (§4.2.3 step 13); with
 * `closePushId`, the committed push session is deleted in the same statement.
 */
export async function activateSource(
  client: SyncClient,
  userPk: string,
  sourceId: string,
  userId: string,
  sourceBundleId: string,
  closePushId?: string,
): Promise<void> {
  // One statement; a retired row is left alone (no row returned) and reported.
  const { rowCount } = await client.query(
    closePushId
      ? ACTIVATE_SOURCE_CLOSING_PUSH([userPk, sourceId, sourceBundleId, closePushId])
      : ACTIVATE_SOURCE([userPk, sourceId, sourceBundleId]),
  );
  if (rowCount === 0) {
    const state = await readSourceState(client, userPk, sourceId, false);
    throw sourceRetired(sourceId, userId, state.replacedBy);
  }
}
