import { Inject, Injectable, Logger, type NestMiddleware, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { SSE_CONTENT_TYPE } from '@oversync/protocol';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { OVERSYNC_CONFIG } from '../oversync.constants.js';
import type { OversyncConfig } from '../oversync.config.js';
import type { RequestWithActor } from '../auth/sync-actor.js';
import { OversyncTelemetry } from './oversync-telemetry.js';
import { syncRouteTemplate } from './sync-route-template.js';
import { errorCodeOf } from '../http/wire-reply.js';

/** Node's request as both platforms hand it to middleware (Express adds `originalUrl`). */
type Request = IncomingMessage & { originalUrl?: string };
type NextFunction = (error?: unknown) => void;

const TRACKED = Symbol('oversync.requestTelemetry');
/** Every path of the module's routes and of its fallback (`/sync…`, `/syncx…`), as the middleware is mounted. */
const MODULE_PATH = /^\/syncx?(?:[/?]|$)/i;
const REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

/** The host's request id: pino-http's `req.id`, else a well-formed `X-Request-Id` header. */
function requestIdOf(req: Request & { id?: unknown }): string | undefined {
  if (typeof req.id === 'string' || typeof req.id === 'number') return String(req.id);
  const header = req.headers['x-request-id'];
  return typeof header === 'string' && REQUEST_ID.test(header) ? header : undefined;
}

/** What the module uses of a Fastify instance (no import of fastify: an Express host need not have it). */
interface FastifyRequestHooks {
  addHook(
    name: 'onRequest',
    hook: (request: { raw: Request }, reply: { raw: ServerResponse }, done: () => void) => void,
  ): void;
}

/**
 * Counts and times every request on the module's routes (guard refusals and body errors included)
 * when it ends, and logs one structured line per request when `logging.requests` is on: ids, route,
 * status, error code, duration — never headers, tokens or bodies. On Fastify it is a native onRequest
 * hook (registered ahead of the module's body reader, SyncBodyFirstLayer), not middleware run by middie.
 */
@Injectable()
export class SyncRequestTelemetryMiddleware implements NestMiddleware, OnModuleInit {
  private readonly logger = new Logger('OversyncRequests');

  constructor(
    @Inject(OVERSYNC_CONFIG) private readonly config: OversyncConfig,
    private readonly telemetry: OversyncTelemetry,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  onModuleInit(): void {
    const adapter = this.adapterHost.httpAdapter;
    if (adapter?.getType() !== 'fastify' || (!this.telemetry.metrics && !this.config.logging.requests)) return;
    (adapter.getInstance() as FastifyRequestHooks).addHook('onRequest', (request, reply, done) => {
      if (MODULE_PATH.test(request.raw.url ?? '')) this.track(request.raw, reply.raw, request);
      done();
    });
  }

  use(req: Request, res: ServerResponse, next: NextFunction): void {
    if (!this.telemetry.metrics && !this.config.logging.requests) return next();
    this.track(req, res, req);
    next();
  }

  /**
   * Records `req` when `res` ends; `actorHolder` is where the guard puts the actor (Fastify's request, Node's on
   * Express).
   */
  private track(req: Request, res: ServerResponse, actorHolder: object): void {
    // mounted for each controller's routes: the fallback controller's wildcard matches every path again
    const seen = req as Request & { [TRACKED]?: true };
    if (seen[TRACKED]) return;
    seen[TRACKED] = true;
    const start = performance.now();
    let recorded = false;
    const record = () => {
      if (recorded) return;
      recorded = true;
      this.finished(req, res, (performance.now() - start) / 1000, actorHolder);
    };
    // 'close' alone for a client that went away (and for watch streams)
    res.once('finish', record);
    res.once('close', record);
  }

  private finished(req: Request, res: ServerResponse, seconds: number, actorHolder: object): void {
    const route = syncRouteTemplate((req.originalUrl ?? req.url ?? '').split('?')[0] ?? '');
    const status = res.writableFinished ? res.statusCode : 499;
    const errorCode = errorCodeOf(res);
    const stream = String(res.getHeader('content-type') ?? '').startsWith(SSE_CONTENT_TYPE);
    this.telemetry.requestFinished({ method: req.method ?? '', route, status, errorCode, seconds, stream });
    // load balancers probe health every second or so: counted, not logged
    if (!this.config.logging.requests || route === '/syncx/health') return;
    const actor = (actorHolder as RequestWithActor).oversyncActor ?? (req as RequestWithActor).oversyncActor;
    this.logger.log({
      msg: 'sync request',
      request_id: requestIdOf(req),
      user_id: actor?.userId,
      source_id: actor?.sourceId,
      method: req.method,
      route,
      status,
      error_code: errorCode || undefined,
      duration_ms: Math.round(seconds * 10_000) / 10,
    });
  }
}
