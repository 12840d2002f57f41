import { Controller, Get, Query, Req, Res, UseFilters, UseGuards, UseInterceptors } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOperation, ApiProduces, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { Actor, type SyncActor } from '../auth/sync-actor.js';
import { OversyncActorGuard } from '../auth/oversync-actor.guard.js';
import { badRequest } from '../errors/oversync.error.js';
import { SyncEndpoint } from '../errors/sync-endpoint.decorator.js';
import { SyncEndpointInterceptor } from '../errors/sync-endpoint.interceptor.js';
import { OversyncExceptionFilter } from '../errors/oversync-exception.filter.js';
import { parseInt64Param, queryValue } from '../http/request-binding.js';
import { ErrorResponseDto } from '../http/sync.dto.js';
import { BundleChangeStream } from './bundle-change-stream.js';
import { WatchService } from './watch.service.js';
import { OversyncTelemetry } from '../observability/oversync-telemetry.js';

/** A non-negative int64 checkpoint, or null when absent; `name` goes into the 400 message. */
function checkpoint(value: unknown, name: string): bigint | null {
  const parsed = parseInt64Param(value);
  if (parsed === undefined) throw badRequest('invalid_request', `${name} must be an integer`);
  if (parsed !== null && parsed < 0n) throw badRequest('invalid_request', `${name} must be >= 0`);
  return parsed;
}

/**
 * GET /sync/watch (spec §3.8): wake-up hints over server-sent events. Unlike the reference the
 * parameters are checked before the host policy, and an EventSource's `Last-Event-ID` counts as
 * a checkpoint too (the larger of the two wins).
 */
@ApiTags('sync')
@ApiBearerAuth()
@ApiHeader({ name: 'Oversync-Source-ID', required: true, description: 'the device source id (UUID)' })
@Controller('sync')
@UseGuards(OversyncActorGuard)
@UseFilters(OversyncExceptionFilter)
@UseInterceptors(SyncEndpointInterceptor)
export class WatchController {
  constructor(
    private readonly watchService: WatchService,
    private readonly telemetry: OversyncTelemetry,
  ) {}

  @Get('watch')
  @ApiOperation({ summary: 'Stream bundle change hints (SSE `event: bundle`) until the client disconnects' })
  @ApiProduces('text/event-stream')
  @ApiQuery({ name: 'after_bundle_seq', required: false, description: 'the client checkpoint; a newer committed bundle is announced at once' })
  @ApiHeader({ name: 'Last-Event-ID', required: false, description: 'EventSource reconnect checkpoint (the `id:` of the last event)' })
  @ApiResponse({ status: 200, description: 'text/event-stream of `event: bundle` frames and `: heartbeat` comments' })
  @ApiResponse({ status: 403, description: 'bundle_change_watch_forbidden (host policy)', type: ErrorResponseDto })
  @ApiResponse({ status: 409, description: 'scope_uninitialized / scope_initializing', type: ErrorResponseDto })
  @ApiResponse({ status: 429, description: 'bundle_change_watch_user_limit: too many streams for this user', type: ErrorResponseDto })
  @ApiResponse({ status: 503, description: 'bundle_change_watch_disabled, bundle_change_watch_capacity or service_unavailable', type: ErrorResponseDto })
  @SyncEndpoint('bundle_change_watch_failed', 'Failed to subscribe bundle change watch')
  async watch(@Actor() actor: SyncActor, @Query() query: Record<string, unknown>, @Req() req: Request, @Res() res: Response): Promise<void> {
    const after = checkpoint(queryValue(query.after_bundle_seq), 'after_bundle_seq') ?? 0n;
    const lastEventId = checkpoint(req.header('last-event-id'), 'Last-Event-ID') ?? 0n;
    const subscription = await this.watchService.subscribe(actor, after > lastEventId ? after : lastEventId);
    new BundleChangeStream(req, res, subscription, this.watchService.heartbeatIntervalMs, () => this.telemetry.watchEventSent()).start();
  }
}
