import type { Response } from 'express';
import { encodeWire, type WireValue } from '../wire/wire-json.js';

/** Writes one JSON value + "\n" with `Content-Type: application/json` (no charset), as the Go encoder does. */
export function sendWire(res: Response, status: number, body: WireValue): void {
  const bytes = Buffer.from(`${encodeWire(body)}\n`, 'utf8');
  res.status(status);
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('Content-Length', bytes.length);
  res.end(bytes);
}

export function sendNoContent(res: Response): void {
  res.status(204);
  res.end();
}
