import { SOURCE_REPLACEMENT_REASONS } from '@oversync/protocol';
import type { SyncClient } from '../database/sync-database.js';
import { OversyncError } from '../errors/oversync.error.js';
import { goTrimSpace } from '../schema/go-string-semantics.js';
import type { SyncActor } from '../auth/sync-actor.js';
import { isPrintableActorId } from '../auth/oversync-actor.guard.js';
import { readSourceState, sourceRetired } from '../push/source-state.js';
import type { SourceReplacementRequest } from './snapshot-request.parser.js';

const REASONS: readonly string[] = SOURCE_REPLACEMENT_REASONS;

/**
 * Rotated rebuild (spec §4.11), inside the snapshot-create transaction: reserves `new_source_id` and
 * retires the caller's source in favour of it; repeating an equivalent rotation is a no-op.
 */
export async function applySourceReplacement(
  client: SyncClient,
  userPk: string,
  actor: SyncActor,
  request: SourceReplacementRequest,
): Promise<void> {
  const previous = goTrimSpace(request.previousSourceId);
  const next = goTrimSpace(request.newSourceId);
  const reason = goTrimSpace(request.reason);
  const invalid = (message: string) => new OversyncError('snapshot_session_invalid', message);
  if (previous !== actor.sourceId) throw invalid('previous_source_id must match authenticated source_id');
  if (next === '') throw invalid('new_source_id is required for source replacement');
  // it becomes a source id, so it gets the header's rules; a NUL made PostgreSQL fail (500): found
  // by http-input fuzz seed 2
  if (!isPrintableActorId(next)) throw invalid('new_source_id must be printable text of at most 512 characters');
  if (next === previous) throw invalid('new_source_id must differ from previous_source_id');
  if (!REASONS.includes(reason)) throw invalid('source replacement reason is unsupported');

  const previousState = await readSourceState(client, userPk, previous, true);
  const nextState = await readSourceState(client, userPk, next, true);
  if (previousState.state === 'retired') {
    if (previousState.replacedBy !== next) throw sourceRetired(previous, actor.userId, previousState.replacedBy);
    if (nextState.state === 'retired')
      throw new OversyncError(
        'source_replacement_invalid',
        `replacement source ${next} is not available for rotated rebuild`,
      );
    if (nextState.state === null) await reserveSource(client, userPk, next);
    return;
  }
  if (nextState.state !== null)
    throw new OversyncError(
      'source_replacement_invalid',
      `replacement source ${next} is already known for user ${actor.userId}`,
    );
  await reserveSource(client, userPk, next);
  await client.query(
    `INSERT INTO sync.source_state (user_pk, source_id, state, max_committed_source_bundle_id, replaced_by_source_id,
      retirement_reason)
     VALUES ($1, $2, 'retired', 0, $3, $4)
     ON CONFLICT (user_pk, source_id) DO UPDATE SET state = EXCLUDED.state,
       replaced_by_source_id = EXCLUDED.replaced_by_source_id,
       retirement_reason = EXCLUDED.retirement_reason`,
    [userPk, previous, next, reason],
  );
}

async function reserveSource(client: SyncClient, userPk: string, sourceId: string): Promise<void> {
  await client.query(
    `INSERT INTO sync.source_state (user_pk, source_id, state, max_committed_source_bundle_id, replaced_by_source_id,
      retirement_reason)
     VALUES ($1, $2, 'reserved', 0, '', '')`,
    [userPk, sourceId],
  );
}
