import { Delete, HttpCode, Post, Req } from '@nestjs/common';
import {
  bindScalar,
  readInt64,
  readString,
  type PushChunkResponse,
  type PushCommitResponse,
  type PushSessionCreateResponse,
} from '@oversync/protocol';
import { ApiBody, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiParam } from '../openapi/optional-swagger.js';
import { ApiSyncErrors } from '../openapi/sync-openapi.js';
import { Actor, type SyncActor } from '../auth/sync-actor.js';
import { OversyncError } from '../errors/oversync.error.js';
import { SyncEndpoint } from '../errors/sync-endpoint.decorator.js';
import { goTrimSpace } from '../schema/go-string-semantics.js';
import { bodyObject, requestBody } from '../http/request-binding.js';
import type { RequestWithSyncBody } from '../http/sync-body.middleware.js';
import { PUSH_ID } from '../http/session-id.pipe.js';
import { CheckedParam } from '../http/checked-params.js';
import {
  CommittedBundleDto,
  CreatePushSessionRequestDto,
  CreatePushSessionResponseDto,
  PushChunkRequestDto,
  PushChunkResponseDto,
} from './push.dto.js';
import { pushCommitResponse, pushSessionCreateResponse } from '../http/wire-responses.js';
import { PushSessionService } from './push-session.service.js';
import { SyncController } from '../http/sync-controller.decorator.js';

/**
 * Push sessions over HTTP (spec §3.2–§3.5): bind with Go rules, call the service, return the answer
 * (encoded like Go by SyncEndpointInterceptor).
 */
@SyncController()
export class PushController {
  constructor(private readonly pushSessions: PushSessionService) {}

  @Post('push-sessions')
  @HttpCode(200)
  @ApiOperation({ summary: 'Create a push session (or learn that the tuple is already committed)' })
  @ApiBody({ type: CreatePushSessionRequestDto })
  @ApiOkResponse({
    type: CreatePushSessionResponseDto,
    description: 'a staging session, or `already_committed` with the bundle of this tuple',
  })
  @ApiSyncErrors({
    400: ['invalid_request', 'push_session_invalid'],
    409: [
      'scope_uninitialized',
      'scope_initializing',
      'initialization_stale',
      'source_sequence_out_of_order',
      'source_sequence_changed',
      'source_retired',
    ],
    410: ['initialization_expired'],
    413: ['request_too_large'],
    500: ['push_session_create_failed'],
  })
  @SyncEndpoint('push_session_create_failed')
  async createPushSession(
    @Actor() actor: SyncActor,
    @Req() req: RequestWithSyncBody,
  ): Promise<PushSessionCreateResponse> {
    const parse = 'Failed to parse push session request';
    const body = bodyObject(req, parse);
    const sourceBundleId = bindScalar(body, 'source_bundle_id', readInt64);
    const plannedRowCount = bindScalar(body, 'planned_row_count', readInt64);
    const initializationId = bindScalar(body, 'initialization_id', readString);
    if (sourceBundleId === undefined || plannedRowCount === undefined || initializationId === undefined)
      throw new OversyncError('invalid_request', parse);
    const result = await this.pushSessions.create(actor, {
      sourceBundleId,
      plannedRowCount,
      // PostgreSQL text holds no NUL: such an id matches no lease (a UUID's text) whatever stands in for
      // it, so U+FFFD keeps Go's answer for every scope state (http-input fuzz seed 484431551: a 500)
      initializationId: goTrimSpace(initializationId).replaceAll('\u0000', '\ufffd'),
    });
    return pushSessionCreateResponse(result);
  }

  @Post('push-sessions/:push_id/chunks')
  @HttpCode(200)
  @ApiOperation({ summary: 'Upload the next chunk of rows of a push session' })
  @ApiParam({
    name: 'push_id',
    type: String,
    format: 'uuid',
    description: 'the push_id answered by POST /sync/push-sessions',
  })
  @ApiBody({ type: PushChunkRequestDto })
  @ApiOkResponse({ type: PushChunkResponseDto })
  @ApiSyncErrors({
    400: ['invalid_request', 'push_chunk_invalid'],
    403: ['push_session_forbidden'],
    404: ['push_session_not_found'],
    409: ['push_chunk_out_of_order'],
    410: ['push_session_expired'],
    413: ['request_too_large'],
    500: ['push_chunk_failed'],
  })
  @SyncEndpoint('push_chunk_failed')
  async uploadChunk(
    @Actor() actor: SyncActor,
    @CheckedParam('push_id', PUSH_ID) pushId: string,
    @Req() req: RequestWithSyncBody,
  ): Promise<PushChunkResponse> {
    const result = await this.pushSessions.uploadChunk(actor, pushId, requestBody(req));
    return { push_id: pushId, next_expected_row_ordinal: result.nextExpectedRowOrdinal };
  }

  @Post('push-sessions/:push_id/commit')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Commit a fully staged push session into one bundle',
    description:
      'A `push_conflict` answer carries a `conflict` member with the server row; `source_retired` names the ' +
      'replacing source.',
  })
  @ApiParam({
    name: 'push_id',
    type: String,
    format: 'uuid',
    description: 'the push_id answered by POST /sync/push-sessions',
  })
  @ApiOkResponse({ type: CommittedBundleDto, description: 'the committed bundle' })
  @ApiSyncErrors({
    400: ['push_commit_invalid'],
    403: ['push_session_forbidden'],
    404: ['push_session_not_found'],
    409: [
      'push_conflict',
      'source_sequence_out_of_order',
      'source_sequence_changed',
      'source_retired',
      'scope_initializing',
      'initialization_stale',
    ],
    410: ['push_session_expired', 'initialization_expired'],
    500: ['push_session_commit_failed'],
  })
  @SyncEndpoint('push_session_commit_failed')
  async commit(
    @Actor() actor: SyncActor,
    @CheckedParam('push_id', PUSH_ID) pushId: string,
  ): Promise<PushCommitResponse> {
    return pushCommitResponse(await this.pushSessions.commit(actor, pushId));
  }

  @Delete('push-sessions/:push_id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Abandon a push session' })
  @ApiParam({
    name: 'push_id',
    type: String,
    format: 'uuid',
    description: 'the push_id answered by POST /sync/push-sessions',
  })
  @ApiNoContentResponse({ description: 'deleted (or already gone)' })
  @ApiSyncErrors({
    403: ['push_session_forbidden'],
    404: ['push_session_not_found'],
    500: ['push_session_delete_failed'],
  })
  @SyncEndpoint('push_session_delete_failed')
  async deletePushSession(@Actor() actor: SyncActor, @CheckedParam('push_id', PUSH_ID) pushId: string): Promise<void> {
    await this.pushSessions.delete(actor, pushId);
  }
}
