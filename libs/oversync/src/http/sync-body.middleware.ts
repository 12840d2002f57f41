import { Inject, Injectable, Logger, type NestMiddleware, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { AsyncResource } from 'node:async_hooks';
import type { NextFunction, Request, Response } from 'express';
import { OVERSYNC_CONFIG } from '../oversync.constants.js';
import type { OversyncConfig } from '../oversync.config.js';
import { decodeUtf8LikeGo } from '@oversync/protocol';

export interface RequestWithSyncBody {
  /** The request body as text, decoded as UTF-8 the way Go reads it (each byte of an invalid sequence → U+FFFD). */
  oversyncBody?: string;
  /** Set instead of `oversyncBody` when the body could not be read (e.g. too large). */
  oversyncBodyError?: 'too_large' | 'aborted';
}

type SyncRequest = Request & RequestWithSyncBody & { rawBody?: Buffer; _body?: boolean };

/**
 * The module's POST routes (with or without a global prefix, in any case as the routers match
 * them): the only requests whose bodies it reads.
 */
const SYNC_POST_PATH = /(?:^|\/)sync\/(?:connect|push-sessions(?:\/[^/]+\/chunks)?|snapshot-sessions)\/?$/i;

/** Every path of the module's routes and of its fallback (`/sync…`, `/syncx…`). */
const MODULE_PATH = /^\/syncx?(?:\/|$)/i;

/** The methods whose bodies Fastify never parses: for them a Content-Type alone announces nothing to hide. */
const UNPARSED_METHODS = new Set(['GET', 'HEAD', 'TRACE']);

/**
 * Whether a request on the module's paths carries a body for Fastify to be kept from: one announced by
 * its framing, or (a method Fastify parses) a Content-Type, which makes it parse even an empty body.
 */
function hasBody(req: SyncRequest): boolean {
  const length = req.headers['content-length'];
  return (
    req.headers['transfer-encoding'] !== undefined ||
    (length !== undefined && length !== '0') ||
    (req.headers['content-type'] !== undefined && !UNPARSED_METHODS.has(req.method))
  );
}

/** The path of Node's request (Express' `req.path`: no query string). */
function pathOf(req: { url?: string }): string {
  const url = req.url ?? '';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/**
 * Reads the unread body stream of a request up to `limit` bytes into `oversyncBody` (or sets
 * `oversyncBodyError`), then calls `done`.
 */
function readStream(req: SyncRequest, limit: number, next: () => void): void {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > limit) {
    req.oversyncBodyError = 'too_large';
    req.resume();
    return next();
  }
  // the stream's events run in the socket's async context: the request goes on in the caller's (a host's
  // AsyncLocalStorage, e.g. a log context entered by an earlier hook), as Fastify's own body parsers do.
  // runInAsyncScope, not AsyncResource.bind: on Node 20 bind also builds two deprecation wrappers per call
  const caller = new AsyncResource('OVERSYNC_BODY');
  const done = () => caller.runInAsyncScope(next);
  const chunks: Buffer[] = [];
  let size = 0;
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    if (!req.oversyncBodyError) {
      // one piece is decoded as it came; the pieces are let go here, not with the request (a bulk chunk's
      // 1.1 MB of socket buffers would otherwise stay alive through its parse and staging)
      const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
      chunks.length = 0;
      req.oversyncBody = decodeUtf8LikeGo(bytes);
    }
    done();
  };
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > limit) {
      req.oversyncBodyError = 'too_large';
      chunks.length = 0;
      return;
    }
    if (!req.oversyncBodyError) chunks.push(chunk);
  });
  req.on('end', finish);
  req.on('error', () => {
    req.oversyncBodyError = 'aborted';
    finish();
  });
}

/**
 * Reads the raw body of the module's POST routes itself, so parsing follows Go `encoding/json`
 * rules (64-bit integers exact) and errors get the protocol envelope, whatever the host's body
 * parser does. On Express it reads them first (see SyncBodyFirstLayer), before the host's parser,
 * which then skips them; the host's own routes are parsed as the host configured. Should the stream
 * already be consumed: `rawBody: true` hosts give the bytes; otherwise the parsed `req.body` is
 * re-serialised (numbers beyond 2^53 may then have lost precision).
 */
@Injectable()
export class SyncBodyMiddleware implements NestMiddleware {
  constructor(@Inject(OVERSYNC_CONFIG) private readonly config: OversyncConfig) {}

  use(req: SyncRequest, _res: Response, next: NextFunction): void {
    if (req.method !== 'POST' || req.oversyncBody !== undefined || req.oversyncBodyError) return next();
    const limit = this.config.maxRequestBodyBytes;
    if (Buffer.isBuffer(req.rawBody)) {
      if (req.rawBody.length > limit) req.oversyncBodyError = 'too_large';
      else req.oversyncBody = decodeUtf8LikeGo(req.rawBody);
      return next();
    }
    if (req._body || req.readableEnded) {
      req.oversyncBody =
        req.body === undefined ||
        (typeof req.body === 'object' &&
          req.body !== null &&
          Object.keys(req.body as object).length === 0 &&
          !req.headers['content-length'])
          ? ''
          : typeof req.body === 'string'
            ? req.body
            : JSON.stringify(req.body);
      return next();
    }
    readStream(req, limit, next);
  }

  /** The early reader: the module's POST bodies only; marks them parsed so that body-parser skips them. */
  readFirst(req: SyncRequest, _res: Response, next: NextFunction): void {
    if (req.method !== 'POST' || req._body || req.readableEnded || !SYNC_POST_PATH.test(req.path)) return next();
    req._body = true; // body-parser's "already parsed" flag: the host's parsers leave this request alone
    readStream(req, this.limit, next);
  }

  get limit(): number {
    return this.config.maxRequestBodyBytes;
  }
}

interface ExpressRouterLike {
  stack?: unknown[];
}

/** What the module uses of a Fastify instance (no import of fastify: an Express host need not have it). */
interface FastifyHooks {
  addHook(
    name: 'onRequest',
    hook: (request: { raw: SyncRequest }, reply: unknown, done: (error?: Error) => void) => void,
  ): void;
}

/**
 * Fastify parses a body after its onRequest hooks; the module's bodies are read by then, so Fastify
 * is told there is none left (no Content-Type, length 0): its parsers, their limit and their error
 * answers stay out of the module's routes, as the host's body parser does on Express.
 */
function hideReadBody(req: SyncRequest): void {
  delete req.headers['content-type'];
  delete req.headers['transfer-encoding'];
  req.headers['content-length'] = '0';
}

/**
 * Reads the module's POST bodies ahead of the host's body parsing, so they are read by the module
 * with its own limit whether the host's parser is on, off, or has `rawBody`. On Express
 * SyncBodyMiddleware.readFirst goes to the front of the stack (Nest registers the host's parsers
 * before any module middleware); on Fastify an onRequest hook reads them before Fastify's
 * content-type parsers run. Other platforms keep the fallbacks of SyncBodyMiddleware.use.
 */
@Injectable()
export class SyncBodyFirstLayer implements OnModuleInit {
  private readonly logger = new Logger('OversyncModule');

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly body: SyncBodyMiddleware,
  ) {}

  onModuleInit(): void {
    const adapter = this.adapterHost.httpAdapter;
    if (adapter?.getType() === 'fastify') {
      (adapter.getInstance() as FastifyHooks).addHook('onRequest', (request, _reply, done) => {
        const req = request.raw;
        const path = pathOf(req);
        if (req.method !== 'POST' || !SYNC_POST_PATH.test(path)) {
          // a body on another of the module's paths (a commit, a wrong method) is not read:
          // discarded, not parsed (no 415)
          if (MODULE_PATH.test(path) && hasBody(req)) {
            req.resume();
            hideReadBody(req);
          }
          return done();
        }
        // Nest's middleware (SyncBodyMiddleware.use) may have read it already
        if (req.oversyncBody !== undefined || req.oversyncBodyError) {
          hideReadBody(req);
          return done();
        }
        readStream(req, this.body.limit, () => {
          hideReadBody(req);
          done();
        });
      });
      return;
    }
    if (!adapter || adapter.getType() !== 'express') return;
    const router = (adapter.getInstance() as { router?: ExpressRouterLike }).router;
    const stack = router?.stack;
    if (!Array.isArray(stack)) {
      this.logger.warn(
        'Express router not found: sync bodies are read after the host body parser (rawBody recommended)',
      );
      return;
    }
    adapter.use(this.body.readFirst.bind(this.body));
    stack.unshift(stack.pop());
  }
}
