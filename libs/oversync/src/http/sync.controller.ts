import { Controller, Delete, Get, HttpCode, Param, Post, Query, Req, Res, UseFilters, UseGuards, UseInterceptors } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiHeader, ApiOperation, ApiParam, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { Actor, type SyncActor } from '../auth/sync-actor.js';
import { badRequest } from '../errors/oversync.error.js';
import { SyncEndpoint } from '../errors/sync-endpoint.decorator.js';
import { SyncEndpointInterceptor } from '../errors/sync-endpoint.interceptor.js';
import { OversyncExceptionFilter } from '../errors/oversync-exception.filter.js';
import { OversyncActorGuard } from '../auth/oversync-actor.guard.js';
import { ConnectService } from '../connect/connect.service.js';
import { PushSessionService } from '../push/push-session.service.js';
import { PullService } from '../pull/pull.service.js';
import { CapabilitiesService } from '../health/capabilities.service.js';
import { member, readBool, readInt64, readString } from '../wire/exact-json.js';
import { goTrimSpace } from '../schema/go-string-semantics.js';
import { bodyObject, parseInt64Param, queryValue, requestBody } from './request-binding.js';
import type { RequestWithSyncBody } from './sync-body.middleware.js';
import { sendNoContent, sendWire } from './wire-reply.js';
import { expressWireReply } from './wire-stream.js';
import { ConnectRequestDto, CreatePushSessionRequestDto, PushChunkRequestDto, ErrorResponseDto } from './sync.dto.js';

/** Thin HTTP layer of /sync (spec §3): bind the request with Go rules, call the service, encode like Go. */
@ApiTags('sync')
@ApiBearerAuth()
@ApiHeader({ name: 'Oversync-Source-ID', required: true, description: 'the device source id (UUID)' })
@ApiResponse({ status: 401, description: 'not authenticated', type: ErrorResponseDto })
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
  @SyncEndpoint('connect_failed', 'Failed to resolve connect lifecycle')
  async connect(@Actor() actor: SyncActor, @Req() req: RequestWithSyncBody, @Res() res: Response): Promise<void> {
    const body = bodyObject(req, 'Failed to parse connect request');
    const pending = readBool(member(body, 'has_local_pending_rows'));
    if (pending === undefined) throw badRequest('invalid_request', 'Failed to parse connect request');
    sendWire(res, 200, { ...(await this.connectService.connect(actor, pending)) });
  }

  @Post('push-sessions')
  @HttpCode(200)
  @ApiOperation({ summary: 'Create a push session (or learn that the tuple is already committed)' })
  @ApiBody({ type: CreatePushSessionRequestDto })
  @SyncEndpoint('push_session_create_failed', 'Failed to create push session')
  async createPushSession(@Actor() actor: SyncActor, @Req() req: RequestWithSyncBody, @Res() res: Response): Promise<void> {
    const parse = 'Failed to parse push session request';
    const body = bodyObject(req, parse);
    const sourceBundleId = readInt64(member(body, 'source_bundle_id'));
    const plannedRowCount = readInt64(member(body, 'planned_row_count'));
    const initializationId = readString(member(body, 'initialization_id'));
    if (sourceBundleId === undefined || plannedRowCount === undefined || initializationId === undefined) throw badRequest('invalid_request', parse);
    const result = await this.pushSessions.create(actor, { sourceBundleId, plannedRowCount, initializationId: goTrimSpace(initializationId) });
    if (result.status === 'staging') {
      sendWire(res, 200, { push_id: result.pushId, status: 'staging', planned_row_count: result.plannedRowCount });
      return;
    }
    const b = result.bundle;
    sendWire(res, 200, {
      status: 'already_committed',
      bundle_seq: BigInt(b.bundleSeq),
      source_id: b.sourceId || undefined,
      source_bundle_id: BigInt(b.sourceBundleId),
      row_count: b.rowCount || undefined,
      bundle_hash: b.bundleHash || undefined,
    });
  }

  @Post('push-sessions/:push_id/chunks')
  @HttpCode(200)
  @ApiOperation({ summary: 'Upload the next chunk of rows of a push session' })
  @ApiParam({ name: 'push_id' })
  @ApiBody({ type: PushChunkRequestDto })
  @SyncEndpoint('push_chunk_failed', 'Failed to upload push chunk')
  async uploadChunk(@Actor() actor: SyncActor, @Param('push_id') pushId: string, @Req() req: RequestWithSyncBody, @Res() res: Response): Promise<void> {
    const result = await this.pushSessions.uploadChunk(actor, pushId, requestBody(req));
    sendWire(res, 200, { push_id: pushId, next_expected_row_ordinal: result.nextExpectedRowOrdinal });
  }

  @Post('push-sessions/:push_id/commit')
  @HttpCode(200)
  @ApiOperation({ summary: 'Commit a fully staged push session into one bundle' })
  @ApiParam({ name: 'push_id' })
  @ApiResponse({ status: 409, description: 'push_conflict with a structured conflict, or a source sequencing error', type: ErrorResponseDto })
  @SyncEndpoint('push_session_commit_failed', 'Failed to commit push session')
  async commit(@Actor() actor: SyncActor, @Param('push_id') pushId: string, @Res() res: Response): Promise<void> {
    const b = await this.pushSessions.commit(actor, pushId);
    sendWire(res, 200, { bundle_seq: BigInt(b.bundleSeq), source_id: b.sourceId, source_bundle_id: BigInt(b.sourceBundleId), row_count: b.rowCount, bundle_hash: b.bundleHash });
  }

  @Delete('push-sessions/:push_id')
  @ApiOperation({ summary: 'Abandon a push session' })
  @ApiParam({ name: 'push_id' })
  @SyncEndpoint('push_session_delete_failed', 'Failed to delete push session')
  async deletePushSession(@Actor() actor: SyncActor, @Param('push_id') pushId: string, @Res() res: Response): Promise<void> {
    await this.pushSessions.delete(actor, pushId);
    sendNoContent(res);
  }

  @Get('committed-bundles/:bundle_seq/rows')
  @ApiOperation({ summary: 'Page through the authoritative rows of one committed bundle' })
  @ApiParam({ name: 'bundle_seq' })
  @ApiQuery({ name: 'after_row_ordinal', required: false })
  @ApiQuery({ name: 'max_rows', required: false })
  @SyncEndpoint('committed_bundle_rows_failed', 'Failed to fetch committed bundle rows')
  async committedRows(
    @Actor() actor: SyncActor,
    @Param('bundle_seq') bundleSeqParam: string,
    @Query() query: Record<string, unknown>,
    @Res() res: Response,
  ): Promise<void> {
    const invalid = (message: string) => badRequest('committed_bundle_chunk_invalid', message);
    const bundleSeq = parseInt64Param(bundleSeqParam);
    if (bundleSeq === undefined || bundleSeq === null) throw invalid('bundle_seq must be an integer');
    const after = parseInt64Param(queryValue(query.after_row_ordinal));
    if (after === undefined) throw invalid('after_row_ordinal must be an integer');
    const maxRows = parseInt64Param(queryValue(query.max_rows));
    if (maxRows === undefined) throw invalid('max_rows must be an integer');
    sendWire(res, 200, await this.pullService.committedRows(actor, { bundleSeq, afterRowOrdinal: after, maxRows: maxRows === null ? null : Number(maxRows > 1_000_000n ? 1_000_000n : maxRows) }));
  }

  @Get('pull')
  @ApiOperation({ summary: 'Pull committed bundles after a checkpoint, up to a stable sequence' })
  @ApiQuery({ name: 'after_bundle_seq', required: false })
  @ApiQuery({ name: 'max_bundles', required: false })
  @ApiQuery({ name: 'target_bundle_seq', required: false })
  @SyncEndpoint('pull_failed', 'Failed to process pull')
  async pull(@Actor() actor: SyncActor, @Query() query: Record<string, unknown>, @Res() res: Response): Promise<void> {
    const invalid = (message: string) => badRequest('invalid_request', message);
    const after = parseInt64Param(queryValue(query.after_bundle_seq));
    if (after === undefined) throw invalid('after_bundle_seq must be an integer');
    if (after !== null && after < 0n) throw invalid('after_bundle_seq must be >= 0');
    const max = parseInt64Param(queryValue(query.max_bundles));
    if (max === undefined) throw invalid('max_bundles must be an integer');
    if (max !== null && (max < 1n || max > 5000n)) throw invalid('max_bundles must be between 1 and 5000');
    const target = parseInt64Param(queryValue(query.target_bundle_seq));
    if (target === undefined) throw invalid('target_bundle_seq must be an integer');
    if (target !== null && target < 0n) throw invalid('target_bundle_seq must be >= 0');
    await this.pullService.pull(actor, { afterBundleSeq: after ?? 0n, maxBundles: Number(max ?? 1000n), targetBundleSeq: target ?? 0n }, expressWireReply(res));
  }

  @Get('capabilities')
  @ApiOperation({ summary: 'Protocol version, registered tables, features and limits' })
  @SyncEndpoint('capabilities_failed', 'Failed to get capabilities')
  capabilitiesOf(@Actor() actor: SyncActor, @Res() res: Response): void {
    sendWire(res, 200, this.capabilities.capabilities(actor));
  }
}
