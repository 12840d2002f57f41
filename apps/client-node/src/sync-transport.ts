/**
 * HTTP to the sync server with Node's global `fetch`: auth and source headers, JSON bodies,
 * timeouts, the transient-failure classification and retry policy of spec/client.md §10.
 */
import { JSON_CONTENT_TYPE, SOURCE_ID_HEADER } from '@oversync/protocol';
import type { NormalizedRetryPolicy } from './config.js';
import {
  decodeErrorEnvelope,
  errorMessage,
  HttpStatusError,
  OversqliteError,
  renderServerErrorBody,
  RetryExhaustedError,
  TransportError,
} from './errors.js';

export type TokenProvider = () => string | Promise<string>;
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface SyncTransportOptions {
  readonly baseUrl: string;
  readonly tokenProvider: TokenProvider;
  readonly fetch?: FetchLike;
  /** Total time per request/response (default 120 s). Streams (watch) have no total timeout. */
  readonly requestTimeoutMs?: number;
}

export interface SyncRequest {
  readonly method: 'GET' | 'POST' | 'DELETE';
  readonly path: string;
  readonly query?: Readonly<Record<string, number | string | undefined>>;
  /** JSON text; its presence adds `Content-Type: application/json`. */
  readonly body?: string;
  readonly sourceId: string;
  readonly signal?: AbortSignal;
  /** The answer's bytes too (`bytes`): a pull page handed to the pull worker by transfer, not copied as text. */
  readonly keepBytes?: boolean;
}

export interface SyncResponse {
  readonly status: number;
  readonly body: string;
  /** The body's bytes, `body` their UTF-8 decoding (asked with `keepBytes`). */
  readonly bytes?: ArrayBuffer;
}

/** What `Response.text()` does with the bytes (UTF-8, a leading BOM dropped, bad sequences replaced). */
const UTF8 = new TextDecoder();

/** The token provider failed; never retried. */
export class TokenProviderError extends OversqliteError {}

const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

export class SyncTransport {
  readonly baseUrl: string;
  private readonly fetchImpl: FetchLike;
  private readonly timeoutMs: number;

  constructor(private readonly options: SyncTransportOptions) {
    // Every URL is built from the trimmed base (spec/client.md §15 item 18).
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.fetchImpl = options.fetch ?? ((input, init) => fetch(input, init));
    this.timeoutMs = options.requestTimeoutMs ?? 120_000;
  }

  url(path: string, query?: SyncRequest['query']): string {
    const params = Object.entries(query ?? {})
      .filter((entry): entry is [string, string | number] => entry[1] !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(String(value))}`);
    return `${this.baseUrl}${path}${params.length ? `?${params.join('&')}` : ''}`;
  }

  /** One request; resolves with any HTTP status, rejects with `TransportError` when no answer arrived. */
  async send(request: SyncRequest): Promise<SyncResponse> {
    const headers = await this.headers(request.sourceId, request.body !== undefined);
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
    try {
      const response = await this.fetchImpl(this.url(request.path, request.query), {
        method: request.method,
        headers,
        body: request.body,
        signal,
      });
      if (!request.keepBytes) return { status: response.status, body: await response.text() };
      const bytes = await bodyBytes(response);
      return { status: response.status, body: UTF8.decode(bytes), bytes };
    } catch (err) {
      if (request.signal?.aborted) throw request.signal.reason ?? err;
      throw new TransportError(describeTransportFailure(err), isTransientTransportFailure(err), err);
    }
  }

  /**
   * What a worker thread needs to make `request` (a GET) itself with Node's HTTP client: its URL, headers
   * and timeout; undefined when this transport was given a `fetch` of the application's, which only this
   * thread has.
   */
  async forWorker(
    request: Pick<SyncRequest, 'path' | 'query' | 'sourceId'>,
  ): Promise<{ url: string; headers: Record<string, string>; timeoutMs: number } | undefined> {
    if (this.options.fetch) return undefined;
    const headers = await this.headers(request.sourceId, false);
    return { url: this.url(request.path, request.query), headers, timeoutMs: this.timeoutMs };
  }

  /** Opens a long-lived response (SSE); the caller reads and cancels the body. */
  async openStream(
    path: string,
    query: SyncRequest['query'],
    sourceId: string,
    signal: AbortSignal,
    lastEventId?: string,
  ): Promise<Response> {
    const headers = await this.headers(sourceId, false);
    if (lastEventId !== undefined) headers['Last-Event-ID'] = lastEventId;
    try {
      return await this.fetchImpl(this.url(path, query), { method: 'GET', headers, signal });
    } catch (err) {
      if (signal.aborted) throw signal.reason ?? err;
      throw new TransportError(describeTransportFailure(err), isTransientTransportFailure(err), err);
    }
  }

  private async headers(sourceId: string, json: boolean): Promise<Record<string, string>> {
    let token: string;
    try {
      token = await this.options.tokenProvider();
    } catch (err) {
      throw new TokenProviderError(`failed to obtain auth token: ${errorMessage(err)}`, { cause: err });
    }
    const headers: Record<string, string> = { Authorization: `Bearer ${token}` };
    if (sourceId.trim()) headers[SOURCE_ID_HEADER] = sourceId;
    if (json) headers['Content-Type'] = JSON_CONTENT_TYPE;
    return headers;
  }
}

/**
 * The body's bytes in one buffer of their own, copied once (`arrayBuffer()` copies the joined chunks
 * again: 32 MB more for a large pull page); a body read as one chunk is its own buffer already.
 */
async function bodyBytes(response: Response): Promise<ArrayBuffer> {
  const chunks: Uint8Array[] = [];
  let length = 0;
  const reader: ReadableStreamDefaultReader<Uint8Array> | undefined = response.body?.getReader();
  for (let read = await reader?.read(); read && !read.done; read = await reader!.read()) {
    chunks.push(read.value);
    length += read.value.byteLength;
  }
  const only = chunks.length === 1 ? chunks[0]! : undefined;
  if (only && only.byteOffset === 0 && only.byteLength === only.buffer.byteLength) return only.buffer as ArrayBuffer;
  const bytes = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return bytes.buffer;
}

/** Builds the typed error of a non-2xx answer (`message` replaces the default rendering). */
export function httpStatusError(operation: string, response: SyncResponse, message?: string): HttpStatusError {
  const envelope = decodeErrorEnvelope(response.body);
  return new HttpStatusError(
    operation,
    response.status,
    envelope?.code.trim() ?? '',
    envelope?.message ?? '',
    response.body,
    message,
  );
}

/** `server returned status %d: <code>: <message>` as a typed error (the Go client's wording for these operations). */
export function serverStatusError(operation: string, response: SyncResponse): HttpStatusError {
  return httpStatusError(
    operation,
    response,
    `server returned status ${response.status}: ${renderServerErrorBody(response.body)}`,
  );
}

/** Fails with the transient HTTP error when the status is 429/502/503/504, so a retry wrapper repeats. */
const TRANSIENT_STATUSES = new Set([429, 502, 503, 504]);

export function throwIfTransientStatus(operation: string, response: SyncResponse): SyncResponse {
  // A success body may be megabytes of rows: never parse it as an error envelope.
  if (!TRANSIENT_STATUSES.has(response.status)) return response;
  const error = httpStatusError(operation, response);
  if (error.transient) throw error;
  return response;
}

export function isTransientError(err: unknown): boolean {
  return (err instanceof HttpStatusError && err.transient) || (err instanceof TransportError && err.transient);
}

/** `withRetry` of spec/client.md §10.2. */
export async function withRetry<T>(
  policy: NormalizedRetryPolicy,
  operation: string,
  attempt: () => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  let backoff = policy.initialBackoffMs;
  for (let attemptNo = 1; ; attemptNo++) {
    try {
      return await attempt();
    } catch (err) {
      if (signal?.aborted || !isTransientError(err)) throw err;
      if (!policy.enabled) throw err;
      if (attemptNo >= policy.maxAttempts) throw new RetryExhaustedError(operation, attemptNo, err);
      const spread = backoff * policy.jitterFraction;
      await sleep(Math.max(0, backoff - spread + Math.random() * 2 * spread), signal);
      backoff = Math.min(backoff * 2, policy.maxBackoffMs);
    }
  }
}

/** Resolves after `ms`, or rejects with the signal's reason when aborted. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Errors may come from another realm (undici, test VMs): inspect them structurally. */
function causes(err: unknown): { name?: unknown; message?: unknown; code?: unknown }[] {
  const chain: { name?: unknown; message?: unknown; code?: unknown; cause?: unknown }[] = [];
  for (
    let cause: unknown = err;
    cause !== null && typeof cause === 'object' && chain.length < 5;
    cause = (cause as { cause?: unknown }).cause
  ) {
    chain.push(cause as { cause?: unknown });
  }
  return chain;
}

function isTransientTransportFailure(err: unknown): boolean {
  return causes(err).some(
    ({ name, message, code }) =>
      name === 'TimeoutError' ||
      message === 'terminated' ||
      (typeof code === 'string' && TRANSIENT_CODES.has(code)) ||
      (typeof message === 'string' &&
        /connection reset by peer|broken pipe|socket hang up|other side closed/i.test(message)),
  );
}

/** The messages of an error and its causes, e.g. `fetch failed: connect ECONNREFUSED 127.0.0.1:8080`. */
export function describeTransportFailure(err: unknown): string {
  const messages = causes(err)
    .map(({ message }) => (typeof message === 'string' ? message : ''))
    .filter(Boolean);
  return messages.length > 0 ? messages.join(': ') : String(err);
}
