import { applyDecorators, Controller, UseFilters, UseGuards } from '@nestjs/common';
import { ApiTags } from '../openapi/optional-swagger.js';
import { ApiSyncAuthenticated } from '../openapi/sync-openapi.js';
import { OversyncActorGuard } from '../auth/oversync-actor.guard.js';
import { OversyncExceptionFilter } from '../errors/oversync-exception.filter.js';
import { encodeEndpointAnswers } from '../errors/sync-endpoint-call.js';

/**
 * A controller of the authenticated sync API under `path` (default `sync`): documented under the
 * `sync` tag with bearer auth and the source header, the host's guards then the actor resolved
 * (OversyncActorGuard), errors answered with the envelope (OversyncExceptionFilter), each handler's
 * answer encoded like Go and its unexpected errors mapped to the endpoint's code (encodeEndpointAnswers,
 * what SyncEndpointInterceptor does for other routes, without Nest's per-request interceptor chain).
 */
export function SyncController(path = 'sync'): ClassDecorator {
  // applied bottom-up, as the same stack written above a class would be
  return applyDecorators(
    (target: object) => encodeEndpointAnswers((target as { prototype: object }).prototype),
    UseFilters(OversyncExceptionFilter),
    UseGuards(OversyncActorGuard),
    Controller(path),
    ApiSyncAuthenticated(),
    ApiTags('sync'),
  );
}
