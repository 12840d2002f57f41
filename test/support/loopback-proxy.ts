/**
 * A loopback HTTP proxy in front of a real server, for client e2e suites that need a response the
 * real server never produces (a tampered bundle, a malformed body, an answer lost after the server
 * processed the request). Every request is forwarded and answered by the real server; the proxy
 * records what the client sent and, for requests matched by an armed rewrite, changes the status
 * or bytes of that one response in flight. Unmatched responses (SSE included) stream through.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';

export interface ProxiedRequest {
  readonly method: string;
  /** path without the query string */
  readonly path: string;
  /** the raw query string, without `?` ('' when none) */
  readonly rawQuery: string;
  readonly query: URLSearchParams;
  /** lower-cased header names, as Node receives them */
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

export interface ProxiedResponse {
  readonly status: number;
  readonly body: string;
}

/** What replaces the real response; absent fields keep the real status or body. */
export interface ResponseRewrite {
  readonly status?: number;
  readonly body?: string;
  /** the body sent in this many pieces, `pieceDelayMs` apart (a page that arrives slowly) */
  readonly pieces?: number;
  readonly pieceDelayMs?: number;
  /** without a Content-Length (chunked) */
  readonly chunked?: boolean;
  /** only this many bytes of the body are sent, then the connection is cut (its Content-Length says all) */
  readonly cutAfterBytes?: number;
}

interface ArmedRewrite {
  readonly method: string;
  readonly path: RegExp;
  readonly rewrite: (response: ProxiedResponse, request: ProxiedRequest) => ResponseRewrite;
  remaining: number;
}

export class LoopbackProxy {
  /** Every request the client sent through the proxy, in arrival order. */
  readonly requests: ProxiedRequest[] = [];
  private readonly rewrites: ArmedRewrite[] = [];

  private constructor(
    private readonly server: http.Server,
    private readonly target: URL,
    readonly baseUrl: string,
  ) {}

  /** Listens on 127.0.0.1 (a free port) and forwards to `targetBaseUrl`. */
  static async start(targetBaseUrl: string): Promise<LoopbackProxy> {
    // eslint-disable-next-line prefer-const -- the server's handler refers to the proxy built after it listens
    let proxy: LoopbackProxy | undefined;
    const server = http.createServer((req, res) => proxy!.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    proxy = new LoopbackProxy(server, new URL(targetBaseUrl), `http://127.0.0.1:${port}`);
    return proxy;
  }

  /**
   * The next `times` responses to `method` requests whose path matches `path` are rewritten: the
   * real server still handles the request, the client gets `rewrite(realResponse)` instead.
   */
  rewriteResponse(
    method: string,
    path: RegExp,
    rewrite: (response: ProxiedResponse, request: ProxiedRequest) => ResponseRewrite,
    times = 1,
  ): void {
    this.rewrites.push({ method, path, rewrite, remaining: times });
  }

  /** Drops every armed rewrite that has not fired yet. */
  clearRewrites(): void {
    this.rewrites.length = 0;
  }

  /** Recorded requests of `method` whose path matches `path`. */
  requestsTo(method: string, path: RegExp): ProxiedRequest[] {
    return this.requests.filter((r) => r.method === method && path.test(r.path));
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const url = req.url ?? '/';
      const queryAt = url.indexOf('?');
      const rawQuery = queryAt < 0 ? '' : url.slice(queryAt + 1);
      const request: ProxiedRequest = {
        method: req.method ?? 'GET',
        path: queryAt < 0 ? url : url.slice(0, queryAt),
        rawQuery,
        query: new URLSearchParams(rawQuery),
        headers: req.headers,
        body: body.toString('utf8'),
      };
      this.requests.push(request);
      const armed = this.rewrites.find(
        (r) => r.remaining > 0 && r.method === request.method && r.path.test(request.path),
      );
      if (armed) armed.remaining--;
      this.forward(req, res, body, request, armed);
    });
  }

  /** The body as the rewrite says: whole, in pieces over time, or cut short. */
  private async send(res: http.ServerResponse, out: Buffer, changed: ResponseRewrite): Promise<void> {
    const sent = changed.cutAfterBytes === undefined ? out : out.subarray(0, changed.cutAfterBytes);
    const pieces = Math.max(1, changed.pieces ?? 1);
    const size = Math.ceil(sent.length / pieces);
    for (let at = 0; at < sent.length; at += size) {
      if (at > 0 && changed.pieceDelayMs) await delay(changed.pieceDelayMs);
      if (res.destroyed) return;
      res.write(sent.subarray(at, at + size));
    }
    if (changed.cutAfterBytes === undefined) res.end();
    else res.destroy();
  }

  private forward(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    body: Buffer,
    request: ProxiedRequest,
    armed: ArmedRewrite | undefined,
  ): void {
    const upstream = http.request(
      {
        host: this.target.hostname,
        port: this.target.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: this.target.host },
        agent: false,
      },
      (answer) => {
        if (!armed) {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          return;
        }
        const parts: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => parts.push(chunk));
        answer.on('end', () => {
          const real: ProxiedResponse = {
            status: answer.statusCode ?? 502,
            body: Buffer.concat(parts).toString('utf8'),
          };
          const changed = armed.rewrite(real, request);
          const out = Buffer.from(changed.body ?? real.body, 'utf8');
          const headers = { ...answer.headers };
          delete headers['content-length'];
          delete headers['transfer-encoding'];
          delete headers.etag;
          res.writeHead(
            changed.status ?? real.status,
            changed.chunked ? headers : { ...headers, 'content-length': String(out.length) },
          );
          void this.send(res, out, changed);
        });
      },
    );
    upstream.on('error', () => res.destroy());
    // A client that goes away (an aborted watch stream) ends the upstream request too.
    res.on('close', () => upstream.destroy());
    upstream.end(body);
  }
}
