import { JSON_CONTENT_TYPE } from '@oversync/protocol';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { OversyncError } from '../errors/oversync.error.js';

const MAX_ACTION_BODY_BYTES = 16 * 1024;

/**
 * Node's request as middleware gets it on Express and Fastify; the route's request is Fastify's wrapper there (`raw`).
 */
export interface RequestWithAdminBody extends IncomingMessage {
  /** the body text, or 'too_large' */
  oversyncAdminBody?: string;
  /** the Content-Type the action came with (Fastify is told there is no body left to parse) */
  oversyncAdminContentType?: string;
  raw?: RequestWithAdminBody;
}

/**
 * Reads the small JSON bodies of the admin actions itself, so parsing does not depend on the host's
 * body parser (the reference host turns it off) and errors keep the module's envelope.
 */
export function readAdminBody(req: RequestWithAdminBody, _res: ServerResponse, next: (error?: unknown) => void): void {
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
    // read here: a platform that parses bodies after middleware (Fastify) must not read it again
    req.oversyncAdminContentType = req.headers['content-type'];
    delete req.headers['content-type'];
    delete req.headers['transfer-encoding'];
    req.headers['content-length'] = '0';
    next();
  });
  req.on('error', next);
}

/**
 * The JSON object body of an action. Actions require `Content-Type: application/json`: a cross-site
 * form cannot send it without a CORS preflight, on top of the bearer token the page sends in a header.
 */
export function actionBody(request: RequestWithAdminBody): Record<string, unknown> {
  const req = request.raw ?? request;
  const type = String(req.oversyncAdminContentType ?? req.headers['content-type'] ?? '')
    .split(';')[0]!
    .trim()
    .toLowerCase();
  if (type !== JSON_CONTENT_TYPE)
    throw new OversyncError('invalid_request', 'admin actions take a JSON body (Content-Type: application/json)');
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
  if (!value || typeof value !== 'object' || Array.isArray(value))
    throw new OversyncError('invalid_request', 'request body must be a JSON object');
  return value as Record<string, unknown>;
}
