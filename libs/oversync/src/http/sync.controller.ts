import {
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  Post,
  Query,
  Req,
  UseFilters,
  UseGuards,
  UseInterceptors,
} from '@nestjs/common';
import {
  ApiBody,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '../openapi/optional-swagger.js';
import { ApiInt64Query, ApiSyncAuthenticated, ApiSyncErrors } from '../openapi/sync-openapi.js';
import { DEFAULT_BUNDLES_PER_PULL, MAX_BUNDLES_PER_PULL, type PushChunkResponse } from '@oversync/protocol';
import { Actor, type SyncActor } from '../auth/sync-actor.js';
import { OversyncError } from '../errors/oversync.error.js';
import { SyncEndpoint } from '../errors/sync-endpoint.decorator.js';
import { SyncEndpointInterceptor } from '../errors/sync-endpoint.interceptor.js';
import { OversyncExceptionFilter } from '../errors/oversync-exception.filter.js';
import { OversyncActorGuard } from '../auth/oversync-actor.guard.js';
import { ConnectService } from '../connect/connect.service.js';
import { PushSessionService } from '../push/push-session.service.js';
import { PullService } from '../pull/pull.service.js';
import { CapabilitiesService } from '../health/capabilities.service.js';
import { bindScalar, readBool, readInt64, readString } from '@oversync/protocol';
import { goTrimSpace } from '../schema/go-string-semantics.js';
import { bodyObject, requestBody } from './request-binding.js';
import { Int64Pipe } from './int64.pipe.js';
import type { RequestWithSyncBody } from './sync-body.middleware.js';
import type { StreamedWireBody } from './wire-reply.js';
import { PUSH_ID } from './session-id.pipe.js';
import {
  CapabilitiesResponseDto,
  CommittedBundleDto,
  CommittedBundleRowsResponseDto,
  ConnectRequestDto,
  ConnectResponseDto,
  CreatePushSessionRequestDto,
  CreatePushSessionResponseDto,
  PullResponseDto,
  PushChunkRequestDto,
  PushChunkResponseDto,
} from './sync.dto.js';
import { ReturnedWireReply } from './wire-stream.js';
import type { ConnectResponse, EncodedJson, GoJsonValue } from '@oversync/protocol';
import { pushCommitResponse, pushSessionCreateResponse } from './wire-responses.js';

const CHUNK_INVALID = 'committed_bundle_chunk_invalid';

/**
 * Thin HTTP layer of /sync (spec §3): bind the request with Go rules, call the service, return the
 * answer; SyncEndpointInterceptor encodes it like Go on either platform.
 */
@ApiTags('sync')
@ApiSyncAuthenticated()
@Controller('sync')
@UseGuards(OversyncActorGuard)
@UseFilters(OversyncExceptionFilter)
@UseInterceptors(SyncEndpointInterceptor)
export class SyncController {
  constructor(
    private readonly connectService: ConnectService,
    private readonly pushSessions: PushSessionService,
    private readonly pullService: PullService,
    private readonly capabilities: CapabilitiesService,
  ) {}

  @Post('connect')
  @HttpCode(200)
  @ApiOperation({ summary: 'Resolve first authority for the user scope' })
  @ApiBody({ type: ConnectRequestDto })
  @ApiOkResponse({
    type: ConnectResponseDto,
    description: 'how the device proceeds: pull, seed from local rows, start empty, or retry later',
  })
  @ApiSyncErrors({ 400: ['invalid_request'], 413: ['request_too_large'], 500: ['connect_failed'] })
  @SyncEndpoint('connect_failed')
  async connect(@Actor() actor: SyncActor, @Req() req: RequestWithSyncBody): Promise<ConnectResponse> {
    const body = bodyObject(req, 'Failed to parse connect request');
    const pending = bindScalar(body, 'has_local_pending_rows', readBool);
    if (pending === undefined) throw new OversyncError('invalid_request', 'Failed to parse connect request');
    return this.connectService.connect(actor, pending);
  }

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
  async createPushSession(@Actor() actor: SyncActor, @Req() req: RequestWithSyncBody): Promise<GoJsonValue> {
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
      initializationId: goTrimSpace(initializationId),
    });
    return pushSessionCreateResponse(result);
  }

  @Post('push-sessions/:push_id/chunks')
  @HttpCode(200)
  @ApiOperation({ summary: 'Upload the next chunk of rows of a push session' })
  @ApiParam({ name: 'push_id', format: 'uuid', description: 'the push_id answered by POST /sync/push-sessions' })
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
    @Param('push_id', PUSH_ID) pushId: string,
    @Req() req: RequestWithSyncBody,
  ): Promise<GoJsonValue> {
    const result = await this.pushSessions.uploadChunk(actor, pushId, requestBody(req));
    return { push_id: pushId, next_expected_row_ordinal: result.nextExpectedRowOrdinal } satisfies PushChunkResponse;
  }

  @Post('push-sessions/:push_id/commit')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Commit a fully staged push session into one bundle',
    description:
      'A `push_conflict` answer carries a `conflict` member with the server row; `source_retired` names the replacing source.',
  })
  @ApiParam({ name: 'push_id', format: 'uuid', description: 'the push_id answered by POST /sync/push-sessions' })
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
  async commit(@Actor() actor: SyncActor, @Param('push_id', PUSH_ID) pushId: string): Promise<GoJsonValue> {
    return pushCommitResponse(await this.pushSessions.commit(actor, pushId));
  }

  @Delete('push-sessions/:push_id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Abandon a push session' })
  @ApiParam({ name: 'push_id', format: 'uuid', description: 'the push_id answered by POST /sync/push-sessions' })
  @ApiNoContentResponse({ description: 'deleted (or already gone)' })
  @ApiSyncErrors({
    403: ['push_session_forbidden'],
    404: ['push_session_not_found'],
    500: ['push_session_delete_failed'],
  })
  @SyncEndpoint('push_session_delete_failed')
  async deletePushSession(@Actor() actor: SyncActor, @Param('push_id', PUSH_ID) pushId: string): Promise<void> {
    await this.pushSessions.delete(actor, pushId);
  }

  @Get('committed-bundles/:bundle_seq/rows')
  @ApiOperation({ summary: 'Page through the authoritative rows of one committed bundle' })
  @ApiParam({
    name: 'bundle_seq',
    schema: { type: 'integer', format: 'int64', minimum: 1 },
    description: 'a bundle_seq of this user',
  })
  @ApiInt64Query('after_row_ordinal', 'rows already received (default 0)', { minimum: 0 })
  @ApiInt64Query('max_rows', 'page size (default and maximum: capabilities bundle_limits.*_committed_bundle_chunk)', {
    minimum: 1,
  })
  @ApiOkResponse({ type: CommittedBundleRowsResponseDto })
  @ApiSyncErrors({
    400: ['committed_bundle_chunk_invalid'],
    404: ['committed_bundle_not_found'],
    409: ['history_pruned', 'scope_uninitialized', 'scope_initializing'],
    500: ['committed_bundle_rows_failed'],
  })
  @SyncEndpoint('committed_bundle_rows_failed')
  async committedRows(
    @Actor() actor: SyncActor,
    @Param('bundle_seq', new Int64Pipe('bundle_seq', { code: CHUNK_INVALID, required: true })) bundleSeq: bigint,
    @Query('after_row_ordinal', new Int64Pipe('after_row_ordinal', { code: CHUNK_INVALID })) after: bigint | null,
    @Query('max_rows', new Int64Pipe('max_rows', { code: CHUNK_INVALID })) maxRows: bigint | null,
  ): Promise<EncodedJson | StreamedWireBody> {
    const reply = new ReturnedWireReply();
    return reply.answer(
      this.pullService.committedRows(
        actor,
        {
          bundleSeq,
          afterRowOrdinal: after,
          maxRows: maxRows === null ? null : Number(maxRows > 1_000_000n ? 1_000_000n : maxRows),
        },
        reply,
      ),
    );
  }

  @Get('pull')
  @ApiOperation({ summary: 'Pull committed bundles after a checkpoint, up to a stable sequence' })
  @ApiInt64Query('after_bundle_seq', 'the device checkpoint: bundles after this one (default 0)', { minimum: 0 })
  @ApiInt64Query('max_bundles', `bundles per page (default ${DEFAULT_BUNDLES_PER_PULL})`, {
    minimum: 1,
    maximum: MAX_BUNDLES_PER_PULL,
  })
  @ApiInt64Query('target_bundle_seq', 'the stable_bundle_seq of the first page while has_more (default 0 = current)', {
    minimum: 0,
  })
  @ApiOkResponse({ type: PullResponseDto })
  @ApiSyncErrors({
    400: ['invalid_request'],
    409: ['history_pruned', 'scope_uninitialized', 'scope_initializing'],
    500: ['pull_failed'],
  })
  @SyncEndpoint('pull_failed')
  async pull(
    @Actor() actor: SyncActor,
    @Query('after_bundle_seq', new Int64Pipe('after_bundle_seq', { code: 'invalid_request', min: 0n }))
    after: bigint | null,
    @Query(
      'max_bundles',
      new Int64Pipe('max_bundles', { code: 'invalid_request', min: 1n, max: BigInt(MAX_BUNDLES_PER_PULL) }),
    )
    max: bigint | null,
    @Query('target_bundle_seq', new Int64Pipe('target_bundle_seq', { code: 'invalid_request', min: 0n }))
    target: bigint | null,
  ): Promise<EncodedJson | StreamedWireBody> {
    const reply = new ReturnedWireReply();
    return reply.answer(
      this.pullService.pull(
        actor,
        {
          afterBundleSeq: after ?? 0n,
          maxBundles: Number(max ?? DEFAULT_BUNDLES_PER_PULL),
          targetBundleSeq: target ?? 0n,
        },
        reply,
      ),
    );
  }

  @Get('capabilities')
  @ApiOperation({ summary: 'Protocol version, registered tables, features and limits' })
  @ApiOkResponse({ type: CapabilitiesResponseDto })
  @ApiSyncErrors({ 500: ['capabilities_failed'] })
  @SyncEndpoint('capabilities_failed')
  capabilitiesOf(@Actor() actor: SyncActor): GoJsonValue {
    return this.capabilities.capabilities(actor);
  }
}
