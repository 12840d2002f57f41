import { Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { NextFunction, Request, Response } from 'express';
import { sendWire } from './wire-reply.js';

const MODULE_PATHS = /^\/syncx?(?:\/|$)/;
const CODES: Record<number, string> = { 404: 'not_found', 405: 'method_not_allowed', 413: 'request_too_large' };

// What each POST route answers for a body that is not JSON: the same as when the module parses it
// itself. Needed when the host's JSON parser (Nest's default, on) fails before the route runs.
const PARSE_FAILURES: Array<[RegExp, string, string]> = [
  [/^\/sync\/connect$/, 'invalid_request', 'Failed to parse connect request'],
  [/^\/sync\/push-sessions$/, 'invalid_request', 'Failed to parse push session request'],
  [/^\/sync\/push-sessions\/[^/]+\/chunks$/, 'push_chunk_invalid', 'Failed to parse push chunk request'],
  [/^\/sync\/snapshot-sessions$/, 'snapshot_session_invalid', 'Failed to parse snapshot session request'],
];

/** The envelope for an error of the host's body parser (body-parser's `type`) on a module path. */
function bodyParserFailure(error: unknown, path: string): { status: number; error: string; message: string } | undefined {
  const type = (error as { type?: unknown } | null)?.type;
  if (type === 'entity.too.large') return { status: 413, error: 'request_too_large', message: 'request body exceeds the configured limit' };
  if (type !== 'entity.parse.failed') return undefined;
  const route = PARSE_FAILURES.find(([pattern]) => pattern.test(path.replace(/\/+$/, '')));
  return route ? { status: 400, error: route[1], message: route[2] } : undefined;
}

/**
 * Express fails some requests while matching routes, before any controller, guard or filter of the
 * module runs: a path parameter that is not percent-encoded UTF-8 (`/sync/push-sessions/%FF/chunks`)
 * is a 400 `URIError`, which Nest's global handler answers in its own shape. Mounted after the routes
 * and before Nest's handler, this answers such 4xx errors on the module's paths with the envelope
 * (spec §8.25). Found by test/fuzz/http-input.e2e-spec.ts. Errors of the host's JSON body parser
 * (Nest's default parser runs before any route) get the answers the routes give for the same body.
 */
@Injectable()
export class SyncRoutingErrorLayer implements OnModuleInit {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  onModuleInit(): void {
    // Nest registers routes before onModuleInit and its own error handler after it, so this sits in between.
    this.adapterHost.httpAdapter?.use((error: unknown, req: Request, res: Response, next: NextFunction) => {
      const status = (error as { status?: unknown } | null)?.status;
      if (typeof status !== 'number' || status < 400 || status > 499 || !MODULE_PATHS.test(req.path) || res.headersSent) return next(error);
      const parserFailure = bodyParserFailure(error, req.path);
      if (parserFailure) return sendWire(res, parserFailure.status, { error: parserFailure.error, message: parserFailure.message });
      sendWire(res, status, { error: CODES[status] ?? 'invalid_request', message: error instanceof Error ? error.message : 'invalid request' });
    });
  }
}
