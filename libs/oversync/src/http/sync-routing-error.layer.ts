import { Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { NextFunction, Request, Response } from 'express';
import { errorCodeForStatus, errorEnvelope } from '@oversync/protocol';
import { encodeWire, replyWire, WIRE_CONTENT_TYPE } from './wire-reply.js';

/** What the layer uses of Fastify (no import of fastify: an Express host need not have it). */
interface FastifySendHooks {
  addHook(
    name: 'onSend',
    hook: (
      request: { method: string; url: string },
      reply: { statusCode: number; getHeader(name: string): unknown; header(name: string, value: string): unknown },
      payload: unknown,
      done: (error: Error | null, payload?: unknown) => void,
    ) => void,
  ): void;
}

const MODULE_PATHS = /^\/syncx?(?:\/|$)/i;

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
    if (adapter?.getType() === 'fastify') return this.onFastify(adapter.getInstance() as FastifySendHooks);
    if (!adapter || adapter.getType() !== 'express') return;
    adapter.use((error: unknown, req: Request, res: Response, next: NextFunction) => {
      const status = (error as { status?: unknown } | null)?.status;
      if (typeof status !== 'number' || status < 400 || status > 499 || !MODULE_PATHS.test(req.path) || res.headersSent)
        return next(error);
      replyWire(
        adapter,
        res,
        status,
        errorEnvelope(errorCodeForStatus(status), error instanceof Error ? error.message : 'invalid request'),
      );
    });
  }

  /**
   * Fastify answers some requests on the module's paths before any of its routes or filters run: a
   * route parameter left empty (`/sync/push-sessions//chunks`) goes to Nest's not-found handler. Such
   * 4xx answers (not in the wire's own Content-Type) are rewritten into the envelope as they are sent.
   */
  private onFastify(instance: FastifySendHooks): void {
    instance.addHook('onSend', (request, reply, payload, done) => {
      const status = reply.statusCode;
      const path = request.url.split('?')[0] ?? '';
      if (
        status < 400 ||
        status > 499 ||
        !MODULE_PATHS.test(path) ||
        reply.getHeader('content-type') === WIRE_CONTENT_TYPE
      )
        return done(null, payload);
      const message =
        status === 404 ? `no sync route ${request.method} ${path}` : (messageOf(payload) ?? 'invalid request');
      reply.header('Content-Type', WIRE_CONTENT_TYPE);
      done(null, encodeWire(errorEnvelope(errorCodeForStatus(status), message)));
    });
  }
}

/** The message of a framework's JSON error body. */
function messageOf(payload: unknown): string | undefined {
  if (typeof payload !== 'string') return undefined;
  try {
    const message = (JSON.parse(payload) as { message?: unknown }).message;
    return typeof message === 'string' ? message : undefined;
  } catch {
    return undefined;
  }
}
