import { STATUS_CODES, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { encodeGoJson, errorEnvelope, errorStatus, type KnownErrorCode } from '@oversync/protocol';
import { encodeWire, WIRE_CONTENT_TYPE } from './wire-reply.js';

/** What Node's HTTP parser reports for a request it could not read (`clientError`). */
type ParserError = Error & { code?: string };

/** Envelope code per parser error (its status from the table), as Node's own default answers (lib/_http_server.js). */
function answerFor(error: ParserError): { code: KnownErrorCode; message: string } {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return { code: 'request_header_fields_too_large', message: 'request headers exceed the server limit' };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return { code: 'request_too_large', message: 'chunk extensions exceed the server limit' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { code: 'request_timeout', message: 'the request was not received in time' };
    case 'HPE_INVALID_METHOD':
      return { code: 'invalid_request', message: 'unknown or malformed HTTP method' };
    default:
      return { code: 'invalid_request', message: 'malformed HTTP request' };
  }
}

/** The raw HTTP/1.1 answer: the `{"error","message"}` envelope, `Content-Type: application/json`, then close. */
export function clientErrorResponse(error: ParserError): string {
  const { code, message } = answerFor(error);
  const status = errorStatus(code);
  const body = `${encodeGoJson(errorEnvelope(code, message))}\n`;
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Bad Request'}\r\nContent-Type: ` +
    `application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
  );
}

/**
 * Answers requests that Node's HTTP parser rejects before any framework code runs (headers over the
 * limit → 431, an unknown or lower-case method, bytes after a body that its `Content-Length` does not
 * cover → 400) with the protocol envelope instead of Node's empty body. Call once with the host's
 * server: `answerClientErrorsWithEnvelope(app.getHttpServer())` on Express; Fastify installs its own
 * handler, so pass `answerClientError` as its `clientErrorHandler` option instead.
 */
export function answerClientErrorsWithEnvelope(server: Server): void {
  server.on('clientError', answerClientError);
}

/**
 * One parser error on `socket`. Nothing is written into a response still under way (a request before
 * the unreadable bytes, still being handled): it finishes first, so the earlier request keeps its own
 * answer and the unreadable bytes get theirs after it (Node's default answers at once, or not at all
 * once headers were sent).
 */
export function answerClientError(error: ParserError, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const inFlight = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
  // written, then the connection is closed without waiting for the peer (Node's default destroys it too)
  const answer = () => {
    if (socket.writable) socket.end(clientErrorResponse(error), () => socket.destroy());
    else socket.destroy();
  };
  if (!inFlight || inFlight.writableFinished) return answer();
  if (!inFlight.req.complete) {
    // the unreadable bytes are this request's own (a broken chunked body): it can never be answered
    // by its handler, so it is answered here, as Node does, unless its answer already began
    if (inFlight.headersSent) socket.destroy();
    else answer();
    return;
  }
  // a complete earlier request still being handled: its answer goes first, then this one
  inFlight.once('finish', answer);
  inFlight.once('close', () => socket.destroy());
}

/** What `answerFrameworkError` uses of Fastify's request and reply (no import of fastify). */
interface FastifyFrameworkReply {
  code(status: number): FastifyFrameworkReply;
  header(name: string, value: string): FastifyFrameworkReply;
  send(payload?: unknown): unknown;
}

const MODULE_PATH = /^\/syncx?(?:[/?]|$)/;

/**
 * Fastify's `frameworkErrors` option: its router refuses a path that is not percent-encoded UTF-8
 * (`/sync/push-sessions/%FF/chunks`) before any hook, filter or route runs. On the module's paths
 * that is the envelope `400 invalid_request`, with the message Express gives
 * (`Failed to decode param '%FF'`); anything else goes on as Fastify answers it.
 */
export function answerFrameworkError(
  error: Error & { code?: string },
  request: { url?: string; raw?: { url?: string } },
  reply: FastifyFrameworkReply,
): void {
  const url = request.raw?.url ?? request.url ?? '';
  if (error.code !== 'FST_ERR_BAD_URL' || !MODULE_PATH.test(url)) {
    reply.send(error);
    return;
  }
  const path = url.split('?')[0]!;
  const segment = path.split('/').find((part) => !decodes(part)) ?? path;
  reply
    .code(400)
    .header('Content-Type', WIRE_CONTENT_TYPE)
    .send(encodeWire({ error: 'invalid_request', message: `Failed to decode param '${segment}'` }));
}

function decodes(text: string): boolean {
  try {
    decodeURIComponent(text);
    return true;
  } catch {
    return false;
  }
}
