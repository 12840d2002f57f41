import { createParamDecorator, Get, Query, type ExecutionContext } from '@nestjs/common';
import { encodeWatchEventFrame, SSE_CONTENT_TYPE, WATCH_RETRY_FRAME } from '@oversync/protocol';
import { ApiHeader, ApiOperation, ApiResponse } from '../openapi/optional-swagger.js';
import { ApiInt64Query, ApiSyncErrors } from '../openapi/sync-openapi.js';
import type { StreamedWireBody } from '../http/wire-reply.js';
import { Actor, type SyncActor } from '../auth/sync-actor.js';
import { SyncEndpoint } from '../errors/sync-endpoint.decorator.js';
import { Int64Pipe } from '../http/int64.pipe.js';
import { BundleChangeStream } from './bundle-change-stream.js';
import { WatchService } from './watch.service.js';
import { OversyncTelemetry } from '../observability/oversync-telemetry.js';
import { SyncController } from '../http/sync-controller.decorator.js';

const checkpoint = (name: string) => new Int64Pipe(name, { code: 'invalid_request', min: 0n });

/** One request header, through pipes (Nest's `@Headers()` takes none). */
const RequestHeader = createParamDecorator(
  (name: string, context: ExecutionContext): unknown =>
    context.switchToHttp().getRequest<{ headers: Record<string, unknown> }>().headers[name],
);

/**
 * GET /sync/watch (spec §3.8): wake-up hints over server-sent events. Unlike the reference the
 * parameters are checked before the host policy, and an EventSource's `Last-Event-ID` counts as
 * a checkpoint too (the larger of the two wins).
 */
@SyncController()
export class WatchController {
  constructor(
    private readonly watchService: WatchService,
    private readonly telemetry: OversyncTelemetry,
  ) {}

  @Get('watch')
  @ApiOperation({ summary: 'Stream bundle change hints (SSE `event: bundle`) until the client disconnects' })
  @ApiInt64Query(
    'after_bundle_seq',
    'the client checkpoint; a newer committed bundle is announced at once (default 0)',
    { minimum: 0 },
  )
  @ApiHeader({
    name: 'Last-Event-ID',
    required: false,
    description: 'EventSource reconnect checkpoint (the `id:` of the last event)',
    schema: { type: 'integer', format: 'int64', minimum: 0 },
  })
  @ApiResponse({
    status: 200,
    description:
      'text/event-stream of `event: bundle` frames (`data: {"bundle_seq":…}` then `id:` = bundle_seq) and `: ' +
      'heartbeat` comments',
    content: {
      [SSE_CONTENT_TYPE]: {
        schema: {
          type: 'string',
          example:
            WATCH_RETRY_FRAME + encodeWatchEventFrame({ bundle_seq: 12n, source_id: 'device-1', source_bundle_id: 3n }),
        },
      },
    },
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
  async watch(
    @Actor() actor: SyncActor,
    @Query('after_bundle_seq', checkpoint('after_bundle_seq')) afterBundleSeq: bigint | null,
    @RequestHeader('last-event-id', checkpoint('Last-Event-ID')) lastEventId: bigint | null,
  ): Promise<StreamedWireBody> {
    const after = afterBundleSeq ?? 0n;
    const lastEvent = lastEventId ?? 0n;
    const subscription = await this.watchService.subscribe(actor, after > lastEvent ? after : lastEvent);
    return new BundleChangeStream(subscription, this.watchService.heartbeatIntervalMs, () =>
      this.telemetry.watchEventSent(),
    ).start();
  }
}
