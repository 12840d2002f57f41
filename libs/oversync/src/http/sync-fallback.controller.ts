import { All, Controller, Req, Res, UseFilters } from '@nestjs/common';
import { ApiExcludeController } from '../openapi/optional-swagger.js';
import type { Request, Response } from 'express';
import { OversyncExceptionFilter } from '../errors/oversync-exception.filter.js';
import { errorEnvelope } from '@oversync/protocol';
import { sendWire } from './wire-reply.js';

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
 * the framework's default body (spec §8.25). Registered after the module's other controllers.
 */
@ApiExcludeController()
@Controller()
@UseFilters(OversyncExceptionFilter)
export class SyncFallbackController {
  @All(['sync', 'sync/*path', 'syncx', 'syncx/*path'])
  fallback(@Req() req: Request, @Res() res: Response): void {
    const path = req.path.replace(/\/+$/, '');
    const route = ROUTES.find(([pattern]) => pattern.test(path));
    if (route && !route[1].includes(req.method)) {
      res.setHeader('Allow', route[1].join(', '));
      sendWire(res, 405, errorEnvelope('method_not_allowed', `Only ${route[1].join(' or ')} method is allowed`));
      return;
    }
    sendWire(res, 404, errorEnvelope('not_found', `no sync route ${req.method} ${req.path}`));
  }
}
