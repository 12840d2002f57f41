import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { HttpException, StreamableFile } from '@nestjs/common';
import type { AbstractHttpAdapter } from '@nestjs/core';
import { encodeGoJson, JSON_CONTENT_TYPE, type GoJsonValue } from '@oversync/protocol';

/** The wire's only body type: Go's encoder writes `application/json` without a charset. */
export const WIRE_CONTENT_TYPE = JSON_CONTENT_TYPE;

/** What the encoding needs of the platform: its name and how it sets a header (Nest's adapter, or a stand-in of it). */
export type WirePlatform = Pick<AbstractHttpAdapter, 'getType' | 'setHeader'>;

/** One JSON value + "\n", as the Go encoder writes it. */
export function encodeWire(body: GoJsonValue): Buffer {
  return Buffer.from(`${encodeGoJson(body)}\n`, 'utf8');
}

/**
 * A whole answer with a status that is not the route's own (`/syncx/health` → 503 when unhealthy):
 * Nest sends a returned value with the route's status, so this is thrown and the module's exception
 * filter writes it as it is.
 */
export class WireAnswerException extends HttpException {
  constructor(
    status: number,
    readonly body: GoJsonValue,
  ) {
    super('wire answer', status);
  }
}

/** How a streamed body goes out: its Content-Type, other headers, and whether each chunk is flushed at once (SSE). */
export interface StreamedWireOptions {
  contentType?: string;
  headers?: Readonly<Record<string, string>>;
  /** flush compression middleware (`res.flush()`) after each chunk: SSE frames must not wait in a buffer */
  flushEachWrite?: boolean;
  /** the body's length in bytes when known before it is produced: sent as Content-Length (else chunked) */
  length?: number;
}

/** A body produced while it is sent: a large pull page read from PostgreSQL, the watch's SSE frames. */
export class StreamedWireBody {
  constructor(
    readonly stream: Readable,
    readonly options: StreamedWireOptions = {},
  ) {}
}

/** The platform's response object (Express' own, Fastify's `reply.raw`). */
export function rawResponse(response: unknown): ServerResponse {
  const reply = response as { raw?: ServerResponse };
  return reply.raw ?? (response as ServerResponse);
}

/**
 * The protocol error code of an answer, for the request metrics and log line
 * (observability/sync-request-telemetry.middleware.ts).
 */
const ERROR_CODE_OF_RESPONSE = Symbol.for('oversync.errorCode');

export function errorCodeOf(res: ServerResponse): string {
  const code = (res as ServerResponse & { [ERROR_CODE_OF_RESPONSE]?: unknown })[ERROR_CODE_OF_RESPONSE];
  return typeof code === 'string' ? code : '';
}

function noteErrorCode(response: unknown, status: number, body: GoJsonValue): void {
  if (status < 400) return;
  const code = (body as { error?: unknown } | null)?.error;
  (rawResponse(response) as ServerResponse & { [ERROR_CODE_OF_RESPONSE]?: unknown })[ERROR_CODE_OF_RESPONSE] = code;
}

/**
 * What a platform's `reply()` sends as the bytes given, with the Content-Length of a whole body:
 * Fastify sends a Buffer as it is; Express would JSON-encode it, and sends a StreamableFile's bytes.
 */
export function wireBytesFor(adapter: WirePlatform, bytes: Buffer): Buffer | StreamableFile {
  return adapter.getType() === 'fastify'
    ? bytes
    : new StreamableFile(bytes, { type: WIRE_CONTENT_TYPE, length: bytes.length });
}

/**
 * Writes a whole answer through the platform's adapter (exception filters, the routing-error layer):
 * the Go-encoded body, `Content-Type: application/json`, its Content-Length.
 */
export function replyWire(adapter: AbstractHttpAdapter, response: unknown, status: number, body: GoJsonValue): void {
  noteErrorCode(response, status, body);
  const bytes = encodeWire(body);
  if (adapter.getType() === 'express') {
    // Express' own response is Node's: written whole, without the ETag and charset res.send() would add
    const res = response as ServerResponse;
    res.statusCode = status;
    res.setHeader('Content-Type', WIRE_CONTENT_TYPE);
    res.setHeader('Content-Length', bytes.length);
    res.end(bytes);
    return;
  }
  setWireContentType(adapter, response);
  void adapter.reply(response, wireBytesFor(adapter, bytes), status);
}

/** Sets a header as given (Express' `res.set()` would add a charset to a Content-Type the wire does not have). */
function setHeader(adapter: WirePlatform, response: unknown, name: string, value: string): void {
  if (adapter.getType() === 'express') (response as ServerResponse).setHeader(name, value);
  else adapter.setHeader(response, name, value);
}

function setWireContentType(adapter: WirePlatform, response: unknown): void {
  setHeader(adapter, response, 'Content-Type', WIRE_CONTENT_TYPE);
}

/**
 * What a route's returned value becomes for the platform's `reply()`: the Go encoding of `answer`
 * with the wire's headers, or the stream of a StreamedWireBody; `undefined` stays empty (204).
 */
export function wireReplyValue(adapter: WirePlatform, response: unknown, answer: unknown): unknown {
  if (answer === undefined) return undefined;
  if (answer instanceof StreamedWireBody) return streamedReplyValue(adapter, response, answer);
  setWireContentType(adapter, response);
  return wireBytesFor(adapter, encodeWire(answer as GoJsonValue));
}

function streamedReplyValue(adapter: WirePlatform, response: unknown, body: StreamedWireBody): StreamableFile {
  const { contentType = WIRE_CONTENT_TYPE, headers = {}, flushEachWrite = false, length } = body.options;
  setHeader(adapter, response, 'Content-Type', contentType);
  for (const [name, value] of Object.entries(headers)) setHeader(adapter, response, name, value);
  const raw = rawResponse(response) as ServerResponse & { flush?: () => void };
  if (flushEachWrite) {
    // each chunk goes out as it is written: compression middleware holds what is written until flushed,
    // and Node's HTTP writer corks the socket until the next tick, so a frame written from a push
    // commit's continuation would wait behind the rest of that request's work, its answer included
    const write = raw.write.bind(raw) as (...args: unknown[]) => boolean;
    raw.write = ((...args: unknown[]) => {
      const accepted = write(...args);
      raw.flush?.();
      if (raw.socket?.writableCorked) raw.socket.uncork();
      return accepted;
    }) as ServerResponse['write'];
  }
  // a failure after the first byte cannot become an error answer: the connection is cut, never a short valid body
  return new StreamableFile(body.stream, length === undefined ? undefined : { length })
    .setErrorHandler((_error, res) => rawResponse(res).destroy())
    .setErrorLogger(() => undefined);
}
