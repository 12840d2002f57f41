import { All, Controller, Req, UseFilters } from '@nestjs/common';
import { PATH_METADATA } from '@nestjs/common/constants.js';
import { ApiExcludeController } from '../openapi/optional-swagger.js';
import { OversyncExceptionFilter } from '../errors/oversync-exception.filter.js';
import { OversyncError } from '../errors/oversync.error.js';
import type { AnswerHeaders } from '../errors/oversync-exception.filter.js';

// The module's routes and their methods, for 405 + Allow on a known path (spec §3.0.1).
const ROUTES: Array<[RegExp, string[]]> = [
  [/^\/sync\/connect$/, ['POST']],
  [/^\/sync\/push-sessions$/, ['POST']],
  [/^\/sync\/push-sessions\/[^/]+\/chunks$/, ['POST']],
  [/^\/sync\/push-sessions\/[^/]+\/commit$/, ['POST']],
  [/^\/sync\/push-sessions\/[^/]+$/, ['DELETE']],
  [/^\/sync\/committed-bundles\/[^/]+\/rows$/, ['GET']],
  [/^\/sync\/pull$/, ['GET']],
  [/^\/sync\/watch$/, ['GET']],
  [/^\/sync\/snapshot-sessions$/, ['POST']],
  [/^\/sync\/snapshot-sessions\/[^/]+$/, ['GET', 'DELETE']],
  [/^\/sync\/capabilities$/, ['GET']],
  [/^\/syncx\/(status|health)$/, ['GET']],
];

/**
 * Unknown paths and wrong methods under /sync and /syncx answer in the protocol envelope instead of
 * the framework's default body (spec §8.25), written by the module's exception filter. Registered
 * after the module's other controllers.
 */
@ApiExcludeController()
@Controller()
@UseFilters(OversyncExceptionFilter)
export class SyncFallbackController {
  @All(['sync', 'sync/*path', 'syncx', 'syncx/*path'])
  fallback(@Req() req: { method: string; originalUrl?: string; url: string }): never {
    const requestPath = (req.originalUrl ?? req.url).split('?')[0]!;
    const path = requestPath.replace(/\/+$/, '');
    const route = ROUTES.find(([pattern]) => pattern.test(path));
    if (route && !route[1].includes(req.method)) {
      const refusal = new OversyncError('method_not_allowed', `Only ${route[1].join(' or ')} method is allowed`);
      throw Object.assign(refusal, { headers: { Allow: route[1].join(', ') } } satisfies AnswerHeaders);
    }
    throw new OversyncError('not_found', `no sync route ${req.method} ${requestPath}`);
  }
}

/**
 * Fastify's router spells a trailing wildcard `*` where Express' spells `*path` (and refuses the
 * other's): called by the module before Nest registers routes, with the platform in use.
 */
export function useFallbackPathsOf(platform: string | undefined): void {
  const paths =
    platform === 'fastify' ? ['sync', 'sync/*', 'syncx', 'syncx/*'] : ['sync', 'sync/*path', 'syncx', 'syncx/*path'];
  // the handler function is the metadata target Nest reads; it is never called unbound
  // eslint-disable-next-line @typescript-eslint/unbound-method
  Reflect.defineMetadata(PATH_METADATA, paths, SyncFallbackController.prototype.fallback);
}
