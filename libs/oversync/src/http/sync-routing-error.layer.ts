import { Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { NextFunction, Request, Response } from 'express';
import { errorCodeForStatus, errorEnvelope } from '@oversync/protocol';
import { replyWire } from './wire-reply.js';

const MODULE_PATHS = /^\/syncx?(?:\/|$)/;

/**
 * Express fails some requests while matching routes, before any controller, guard or filter of the
 * module runs: a path parameter that is not percent-encoded UTF-8 (`/sync/push-sessions/%FF/chunks`)
 * is a 400 `URIError`, which Nest's global handler answers in its own shape. Mounted after the routes
 * and before Nest's handler, this answers such 4xx errors on the module's paths with the envelope
 * (spec §8.25). Found by test/fuzz/http-input.e2e-spec.ts.
 */
@Injectable()
export class SyncRoutingErrorLayer implements OnModuleInit {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  onModuleInit(): void {
    // Nest registers routes before onModuleInit and its own error handler after it, so this sits in between.
    const adapter = this.adapterHost.httpAdapter;
    // Fastify matches routes itself and answers through the module's filter; its 404s reach the fallback controller
    if (!adapter || adapter.getType() !== 'express') return;
    adapter.use((error: unknown, req: Request, res: Response, next: NextFunction) => {
      const status = (error as { status?: unknown } | null)?.status;
      if (typeof status !== 'number' || status < 400 || status > 499 || !MODULE_PATHS.test(req.path) || res.headersSent) return next(error);
      replyWire(adapter, res, status, errorEnvelope(errorCodeForStatus(status), error instanceof Error ? error.message : 'invalid request'));
    });
  }
}
