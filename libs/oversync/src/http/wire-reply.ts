import type { Response } from 'express';
import { encodeGoJson, JSON_CONTENT_TYPE, type GoJsonValue } from '@oversync/protocol';

/** Writes one JSON value + "\n" with `Content-Type: application/json` (no charset), as the Go encoder does. */
export function sendWire(res: Response, status: number, body: GoJsonValue): void {
  const bytes = Buffer.from(`${encodeGoJson(body)}\n`, 'utf8');
  // the protocol error code, for the request metrics and log line (observability/sync-request-telemetry.middleware.ts)
  if (status >= 400) res.locals.oversyncErrorCode = (body as { error?: unknown } | null)?.error;
  res.status(status);
  res.setHeader('Content-Type', JSON_CONTENT_TYPE);
  res.setHeader('Content-Length', bytes.length);
  res.end(bytes);
}

export function sendNoContent(res: Response): void {
  res.status(204);
  res.end();
}
