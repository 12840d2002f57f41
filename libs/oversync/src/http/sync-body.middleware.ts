import { Inject, Injectable, type NestMiddleware } from '@nestjs/common';
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

/**
 * Reads the raw body of the module's POST routes itself, so parsing follows Go `encoding/json`
 * rules and errors get the protocol envelope. Works whatever the host's body parser does:
 * an unread stream is read here; `rawBody: true` hosts give the bytes; otherwise the parsed
 * `req.body` is re-serialised (numbers beyond 2^53 may then have lost precision).
 */
@Injectable()
export class SyncBodyMiddleware implements NestMiddleware {
  constructor(@Inject(OVERSYNC_CONFIG) private readonly config: OversyncConfig) {}

  use(req: Request & RequestWithSyncBody & { rawBody?: Buffer; _body?: boolean }, _res: Response, next: NextFunction): void {
    if (req.method !== 'POST') return next();
    const limit = this.config.maxRequestBodyBytes;
    if (Buffer.isBuffer(req.rawBody)) {
      if (req.rawBody.length > limit) req.oversyncBodyError = 'too_large';
      else req.oversyncBody = decodeUtf8LikeGo(req.rawBody);
      return next();
    }
    if (req._body || req.readableEnded) {
      req.oversyncBody = req.body === undefined || (typeof req.body === 'object' && req.body !== null && Object.keys(req.body).length === 0 && !req.headers['content-length'])
        ? ''
        : typeof req.body === 'string' ? req.body : JSON.stringify(req.body);
      return next();
    }
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > limit) {
      req.oversyncBodyError = 'too_large';
      req.resume();
      return next();
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      if (!req.oversyncBodyError) req.oversyncBody = decodeUtf8LikeGo(Buffer.concat(chunks));
      next();
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
}
