import type { NextFunction, Request, Response } from 'express';
import { OversyncError } from '../errors/oversync.error.js';

const MAX_ACTION_BODY_BYTES = 16 * 1024;

export interface RequestWithAdminBody extends Request {
  /** The body text, or 'too_large'. */
  oversyncAdminBody?: string;
}

/**
 * Reads the small JSON bodies of the admin actions itself, so parsing does not depend on the host's
 * body parser (the reference host turns it off) and errors keep the module's envelope.
 */
export function readAdminBody(req: RequestWithAdminBody, _res: Response, next: NextFunction): void {
  if (req.method !== 'POST' || req.readableEnded || (req as { _body?: boolean })._body) {
    next();
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size <= MAX_ACTION_BODY_BYTES) chunks.push(chunk);
  });
  req.on('end', () => {
    req.oversyncAdminBody = size > MAX_ACTION_BODY_BYTES ? 'too_large' : Buffer.concat(chunks).toString('utf8');
    next();
  });
  req.on('error', next);
}

/**
 * The JSON object body of an action. Actions require `Content-Type: application/json`: a cross-site
 * form cannot send it without a CORS preflight, on top of the bearer token the page sends in a header.
 */
export function actionBody(req: RequestWithAdminBody): Record<string, unknown> {
  const type = String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') throw new OversyncError('invalid_request', 'admin actions take a JSON body (Content-Type: application/json)');
  if (req.oversyncAdminBody === 'too_large') throw new OversyncError('invalid_request', 'request body is too large');
  const hostParsed = (req as { body?: unknown }).body;
  let value: unknown = hostParsed;
  if (req.oversyncAdminBody !== undefined) {
    try {
      value = req.oversyncAdminBody === '' ? {} : JSON.parse(req.oversyncAdminBody);
    } catch {
      throw new OversyncError('invalid_request', 'request body is not valid JSON');
    }
  }
  if (value === undefined) value = {};
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new OversyncError('invalid_request', 'request body must be a JSON object');
  return value as Record<string, unknown>;
}
