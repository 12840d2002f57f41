import { Controller, Delete, Get, HttpCode, Param, Post, Query, Req, Res, UseFilters, UseGuards, UseInterceptors } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiHeader, ApiOkResponse, ApiOperation, ApiParam, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { Actor, type SyncActor } from '../auth/sync-actor.js';
import { OversyncActorGuard } from '../auth/oversync-actor.guard.js';
import { badRequest } from '../errors/oversync.error.js';
import { SyncEndpoint } from '../errors/sync-endpoint.decorator.js';
import { SyncEndpointInterceptor } from '../errors/sync-endpoint.interceptor.js';
import { OversyncExceptionFilter } from '../errors/oversync-exception.filter.js';
import { parseInt64Param, queryValue, requestBody } from '../http/request-binding.js';
import type { RequestWithSyncBody } from '../http/sync-body.middleware.js';
import { sendNoContent, sendWire } from '../http/wire-reply.js';
import { SNAPSHOT_ID } from '../http/session-id.pipe.js';
import { ErrorResponseDto } from '../http/sync.dto.js';
import { SnapshotSessionService } from './snapshot-session.service.js';
import { parseSnapshotSessionRequest } from './snapshot-request.parser.js';
import { CreateSnapshotSessionRequestDto, SnapshotChunkResponseDto, SnapshotSessionResponseDto } from './snapshot.dto.js';

/** Snapshot sessions over HTTP (spec §3.9–§3.11): bind with Go rules, call the service, encode like Go. */
@ApiTags('sync')
@ApiBearerAuth()
@ApiHeader({ name: 'Oversync-Source-ID', required: true, description: 'the device source id (UUID)' })
@ApiResponse({ status: 401, description: 'not authenticated', type: ErrorResponseDto })
@Controller('sync/snapshot-sessions')
@UseGuards(OversyncActorGuard)
@UseFilters(OversyncExceptionFilter)
@UseInterceptors(SyncEndpointInterceptor)
export class SnapshotController {
  constructor(private readonly snapshots: SnapshotSessionService) {}

  @Post()
  @HttpCode(200)
  @ApiOperation({ summary: 'Freeze the user\'s current rows into a snapshot session (optionally rotating the source)' })
  @ApiBody({ type: CreateSnapshotSessionRequestDto, required: false })
  @ApiOkResponse({ type: SnapshotSessionResponseDto })
  @ApiResponse({ status: 409, description: 'scope not initialized, source_retired or source_replacement_invalid', type: ErrorResponseDto })
  @SyncEndpoint('snapshot_session_create_failed', 'Failed to create snapshot session')
  async create(@Actor() actor: SyncActor, @Req() req: RequestWithSyncBody, @Res() res: Response): Promise<void> {
    const replacement = parseSnapshotSessionRequest(requestBody(req));
    const session = await this.snapshots.create(actor, replacement);
    sendWire(res, 200, {
      snapshot_id: session.snapshotId,
      snapshot_bundle_seq: session.snapshotBundleSeq,
      row_count: session.rowCount,
      byte_count: session.byteCount === 0n ? undefined : session.byteCount,
      expires_at: session.expiresAt,
    });
  }

  @Get(':snapshot_id')
  @ApiOperation({ summary: 'Page through a snapshot session by row ordinal' })
  @ApiParam({ name: 'snapshot_id' })
  @ApiQuery({ name: 'after_row_ordinal', required: false, description: 'rows already received (default 0)' })
  @ApiQuery({ name: 'max_rows', required: false })
  @ApiOkResponse({ type: SnapshotChunkResponseDto })
  @SyncEndpoint('snapshot_chunk_failed', 'Failed to get snapshot chunk')
  async chunk(@Actor() actor: SyncActor, @Param('snapshot_id', SNAPSHOT_ID) snapshotId: string, @Query() query: Record<string, unknown>, @Res() res: Response): Promise<void> {
    const invalid = (message: string) => badRequest('snapshot_chunk_invalid', message);
    const after = parseInt64Param(queryValue(query.after_row_ordinal));
    if (after === undefined) throw invalid('after_row_ordinal must be an integer');
    const maxRows = parseInt64Param(queryValue(query.max_rows));
    if (maxRows === undefined) throw invalid('max_rows must be an integer');
    const max = maxRows === null ? null : Number(maxRows > 1_000_000n ? 1_000_000n : maxRows);
    sendWire(res, 200, await this.snapshots.chunk(actor, snapshotId, { afterRowOrdinal: after ?? 0n, maxRows: max }));
  }

  @Delete(':snapshot_id')
  @ApiOperation({ summary: 'Delete a snapshot session' })
  @ApiParam({ name: 'snapshot_id' })
  @SyncEndpoint('snapshot_session_delete_failed', 'Failed to delete snapshot session')
  async delete(@Actor() actor: SyncActor, @Param('snapshot_id', SNAPSHOT_ID) snapshotId: string, @Res() res: Response): Promise<void> {
    await this.snapshots.delete(actor, snapshotId);
    sendNoContent(res);
  }
}
