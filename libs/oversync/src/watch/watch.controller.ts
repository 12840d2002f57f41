import { Controller, Get, Headers, Query, UseFilters, UseGuards, UseInterceptors } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiResponse, ApiTags } from '../openapi/optional-swagger.js';
import { ApiInt64Query, ApiSyncAuthenticated, ApiSyncErrors } from '../openapi/sync-openapi.js';
import type { StreamedWireBody } from '../http/wire-reply.js';
import { Actor, type SyncActor } from '../auth/sync-actor.js';
import { OversyncActorGuard } from '../auth/oversync-actor.guard.js';
import { OversyncError } from '../errors/oversync.error.js';
import { SyncEndpoint } from '../errors/sync-endpoint.decorator.js';
import { SyncEndpointInterceptor } from '../errors/sync-endpoint.interceptor.js';
import { OversyncExceptionFilter } from '../errors/oversync-exception.filter.js';
import { parseInt64Param, queryValue } from '../http/request-binding.js';
import { BundleChangeStream } from './bundle-change-stream.js';
import { WatchService } from './watch.service.js';
import { OversyncTelemetry } from '../observability/oversync-telemetry.js';

/** A non-negative int64 checkpoint, or null when absent; `name` goes into the 400 message. */
function checkpoint(value: unknown, name: string): bigint | null {
  const parsed = parseInt64Param(value);
  if (parsed === undefined) throw new OversyncError('invalid_request', `${name} must be an integer`);
  if (parsed !== null && parsed < 0n) throw new OversyncError('invalid_request', `${name} must be >= 0`);
  return parsed;
}

/**
 * GET /sync/watch (spec §3.8): wake-up hints over server-sent events. Unlike the reference the
 * parameters are checked before the host policy, and an EventSource's `Last-Event-ID` counts as
 * a checkpoint too (the larger of the two wins).
 */
@ApiTags('sync')
@ApiSyncAuthenticated()
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
  @ApiInt64Query('after_bundle_seq', 'the client checkpoint; a newer committed bundle is announced at once (default 0)', { minimum: 0 })
  @ApiHeader({ name: 'Last-Event-ID', required: false, description: 'EventSource reconnect checkpoint (the `id:` of the last event)', schema: { type: 'integer', format: 'int64', minimum: 0 } })
  @ApiResponse({
    status: 200,
    description: 'text/event-stream of `event: bundle` frames (`data: {"bundle_seq":…}` then `id:` = bundle_seq) and `: heartbeat` comments',
    content: { 'text/event-stream': { schema: { type: 'string', example: 'retry: 2000\n\nevent: bundle\ndata: {"bundle_seq":12,"source_id":"device-1","source_bundle_id":3}\nid: 12\n\n' } } },
  })
  @ApiSyncErrors({
    400: ['invalid_request'],
    403: ['bundle_change_watch_forbidden'],
    409: ['scope_uninitialized', 'scope_initializing'],
    429: ['bundle_change_watch_user_limit'],
    500: ['bundle_change_watch_failed'],
    503: ['bundle_change_watch_disabled', 'bundle_change_watch_capacity', 'service_unavailable'],
  })
  @SyncEndpoint('bundle_change_watch_failed')
  async watch(@Actor() actor: SyncActor, @Query() query: Record<string, unknown>, @Headers('last-event-id') lastEventIdHeader: unknown): Promise<StreamedWireBody> {
    const after = checkpoint(queryValue(query.after_bundle_seq), 'after_bundle_seq') ?? 0n;
    const lastEventId = checkpoint(queryValue(lastEventIdHeader), 'Last-Event-ID') ?? 0n;
    const subscription = await this.watchService.subscribe(actor, after > lastEventId ? after : lastEventId);
    return new BundleChangeStream(subscription, this.watchService.heartbeatIntervalMs, () => this.telemetry.watchEventSent()).start();
  }
}
