import { applyDecorators, Controller, UseFilters, UseGuards, UseInterceptors } from '@nestjs/common';
import { ApiTags } from '../openapi/optional-swagger.js';
import { ApiSyncAuthenticated } from '../openapi/sync-openapi.js';
import { OversyncActorGuard } from '../auth/oversync-actor.guard.js';
import { OversyncExceptionFilter } from '../errors/oversync-exception.filter.js';
import { SyncEndpointInterceptor } from '../errors/sync-endpoint.interceptor.js';

/**
 * A controller of the authenticated sync API under `path` (default `sync`): documented under the
 * `sync` tag with bearer auth and the source header, the host's guards then the actor resolved
 * (OversyncActorGuard), errors answered with the envelope (OversyncExceptionFilter), answers encoded
 * like Go (SyncEndpointInterceptor).
 */
export function SyncController(path = 'sync'): ClassDecorator {
  // applied bottom-up, as the same stack written above a class would be
  return applyDecorators(
    UseInterceptors(SyncEndpointInterceptor),
    UseFilters(OversyncExceptionFilter),
    UseGuards(OversyncActorGuard),
    Controller(path),
    ApiSyncAuthenticated(),
    ApiTags('sync'),
  );
}
