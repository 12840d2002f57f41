import { Delete, Get, HttpCode, Param, Post, Query, Req } from '@nestjs/common';
import { ApiBody, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiParam } from '../openapi/optional-swagger.js';
import { ApiInt64Query, ApiSyncErrors } from '../openapi/sync-openapi.js';
import type { EncodedJson, GoJsonValue, SnapshotChunkResponse } from '@oversync/protocol';
import { ReturnedWireReply, type WireAnswer } from '../http/wire-stream.js';
import { Actor, type SyncActor } from '../auth/sync-actor.js';
import { SyncEndpoint } from '../errors/sync-endpoint.decorator.js';
import { requestBody } from '../http/request-binding.js';
import { Int64Pipe } from '../http/int64.pipe.js';
import type { RequestWithSyncBody } from '../http/sync-body.middleware.js';
import { snapshotSessionCreateResponse } from '../http/wire-responses.js';
import { SNAPSHOT_ID } from '../http/session-id.pipe.js';
import { SnapshotSessionService } from './snapshot-session.service.js';
import { parseSnapshotSessionRequest } from './snapshot-request.parser.js';
import {
  CreateSnapshotSessionRequestDto,
  SnapshotChunkResponseDto,
  SnapshotSessionResponseDto,
} from './snapshot.dto.js';
import { SyncController } from '../http/sync-controller.decorator.js';

/**
 * Snapshot sessions over HTTP (spec §3.9–§3.11): bind with Go rules, call the service, return the answer (encoded
 * like Go by `@SyncController()`).
 */
@SyncController('sync/snapshot-sessions')
export class SnapshotController {
  constructor(private readonly snapshots: SnapshotSessionService) {}

  @Post()
  @HttpCode(200)
  @ApiOperation({ summary: "Freeze the user's current rows into a snapshot session (optionally rotating the source)" })
  @ApiBody({ type: CreateSnapshotSessionRequestDto, required: false })
  @ApiOkResponse({ type: SnapshotSessionResponseDto })
  @ApiSyncErrors({
    400: ['snapshot_session_invalid'],
    409: ['scope_uninitialized', 'scope_initializing', 'source_retired', 'source_replacement_invalid'],
    413: ['snapshot_session_too_large', 'request_too_large'],
    500: ['snapshot_session_create_failed'],
  })
  @SyncEndpoint('snapshot_session_create_failed')
  async create(@Actor() actor: SyncActor, @Req() req: RequestWithSyncBody): Promise<GoJsonValue> {
    const replacement = parseSnapshotSessionRequest(requestBody(req));
    const session = await this.snapshots.create(actor, replacement);
    return snapshotSessionCreateResponse(session);
  }

  @Get(':snapshot_id')
  @ApiOperation({ summary: 'Page through a snapshot session by row ordinal' })
  @ApiParam({
    name: 'snapshot_id',
    format: 'uuid',
    description: 'the snapshot_id answered by POST /sync/snapshot-sessions',
  })
  @ApiInt64Query('after_row_ordinal', 'rows already received (default 0)', { minimum: 0 })
  @ApiInt64Query('max_rows', 'page size (default and maximum: capabilities bundle_limits.*_snapshot_chunk)', {
    minimum: 1,
  })
  @ApiOkResponse({ type: SnapshotChunkResponseDto })
  @ApiSyncErrors({
    400: ['snapshot_chunk_invalid'],
    403: ['snapshot_session_forbidden'],
    404: ['snapshot_session_not_found'],
    410: ['snapshot_session_expired'],
    500: ['snapshot_chunk_failed'],
  })
  @SyncEndpoint('snapshot_chunk_failed')
  async chunk(
    @Actor() actor: SyncActor,
    @Param('snapshot_id', SNAPSHOT_ID) snapshotId: string,
    @Query('after_row_ordinal', new Int64Pipe('after_row_ordinal', { code: 'snapshot_chunk_invalid' }))
    after: bigint | null,
    @Query('max_rows', new Int64Pipe('max_rows', { code: 'snapshot_chunk_invalid' })) maxRows: bigint | null,
  ): Promise<WireAnswer<SnapshotChunkResponse<EncodedJson>>> {
    const max = maxRows === null ? null : Number(maxRows > 1_000_000n ? 1_000_000n : maxRows);
    // a large chunk streams while its transaction reads it: the service answers on the reply
    const reply = new ReturnedWireReply<SnapshotChunkResponse<EncodedJson>>();
    return reply.answer(this.snapshots.chunk(actor, snapshotId, { afterRowOrdinal: after ?? 0n, maxRows: max }, reply));
  }

  @Delete(':snapshot_id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a snapshot session' })
  @ApiParam({
    name: 'snapshot_id',
    format: 'uuid',
    description: 'the snapshot_id answered by POST /sync/snapshot-sessions',
  })
  @ApiNoContentResponse({ description: 'deleted (or already gone)' })
  @ApiSyncErrors({
    403: ['snapshot_session_forbidden'],
    404: ['snapshot_session_not_found'],
    500: ['snapshot_session_delete_failed'],
  })
  @SyncEndpoint('snapshot_session_delete_failed')
  async delete(@Actor() actor: SyncActor, @Param('snapshot_id', SNAPSHOT_ID) snapshotId: string): Promise<void> {
    await this.snapshots.delete(actor, snapshotId);
  }
}
