import type { Response } from 'express';
import { encodeGoJson, type GoJsonValue } from '@oversync/protocol';

/** Writes one JSON value + "\n" with `Content-Type: application/json` (no charset), as the Go encoder does. */
export function sendWire(res: Response, status: number, body: GoJsonValue): void {
  const bytes = Buffer.from(`${encodeGoJson(body)}\n`, 'utf8');
  res.status(status);
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('Content-Length', bytes.length);
  res.end(bytes);
}

export function sendNoContent(res: Response): void {
  res.status(204);
  res.end();
}
