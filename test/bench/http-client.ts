// The bench's HTTP client for protocol calls. Its processes share the 2 cores with the servers and
// PostgreSQL, so every microsecond it spends is taken from the server under test (ours and the reference
// alike). Default: HTTP/1.1 on keep-alive sockets written and read here — one socket write per request of
// exactly the bytes node:http sends for the same call (request line, the caller's headers in their order,
// content-length, Host, Connection: keep-alive) and a small response reader (content-length or chunked).
// In the many-devices load it costs the client processes about half the CPU of node:http (README,
// "Twelfth round": the client's CPU per cycle). `BENCH_CLIENT=node-http` measures with node:http on a
// keep-alive agent (the eleventh round's client), `BENCH_CLIENT=fetch` with fetch (undici, before that).
import http from 'node:http';
import net from 'node:net';

export interface HttpAnswer {
  status: number;
  text: string;
}

const client = process.env.BENCH_CLIENT ?? 'raw';
const agent = new http.Agent({ keepAlive: true });

/** One request; the answer's status and body as text. */
export function httpCall(
  url: string,
  method: string,
  headers: Record<string, string>,
  body?: string,
): Promise<HttpAnswer> {
  if (client === 'fetch') return fetchCall(url, method, headers, body);
  if (client === 'node-http') return nodeHttpCall(url, method, headers, body);
  return rawCall(url, method, headers, body);
}

/** node:http on a keep-alive agent (`BENCH_CLIENT=node-http`) */
export function nodeHttpCall(url: string, method: string, headers: Record<string, string>, body?: string) {
  return new Promise<HttpAnswer>((resolve, reject) => {
    const request = http.request(
      url,
      {
        method,
        agent,
        headers: body === undefined ? headers : { ...headers, 'content-length': Buffer.byteLength(body) },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

async function fetchCall(
  url: string,
  method: string,
  headers: Record<string, string>,
  body?: string,
): Promise<HttpAnswer> {
  const res = await fetch(url, { method, headers, body });
  return { status: res.status, text: await res.text() };
}

// node:http sends no Content-Length on a body-less request of these methods, `Content-Length: 0` on others
const BODYLESS = new Set(['GET', 'HEAD', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT']);
/** idle keep-alive sockets per origin (`host:port`), most recently used last */
const idle = new Map<string, Connection[]>();

/** the default: the bytes node:http would send, written and read on keep-alive sockets of this module */
export function rawCall(
  url: string,
  method: string,
  headers: Record<string, string>,
  body?: string,
): Promise<HttpAnswer> {
  // url is `http://host:port/path…` (the bench's base URLs); the origin ends at the path's slash
  if (!url.startsWith('http://')) throw new Error(`the bench's client speaks plain HTTP only: ${url}`);
  const slash = url.indexOf('/', 7);
  const origin = slash < 0 ? url.slice(7) : url.slice(7, slash);
  let head = `${method} ${slash < 0 ? '/' : url.slice(slash)} HTTP/1.1\r\n`;
  for (const name in headers) head += `${name}: ${headers[name]}\r\n`;
  if (body !== undefined) head += `content-length: ${Buffer.byteLength(body)}\r\n`;
  head += `Host: ${origin}\r\nConnection: keep-alive\r\n`;
  if (body === undefined && !BODYLESS.has(method)) head += 'Content-Length: 0\r\n';
  head += '\r\n';
  const pool = idle.get(origin);
  let connection: Connection | undefined;
  while ((connection = pool?.pop()) && !connection.reusable()) connection.socket.destroy();
  connection ??= new Connection(origin);
  return connection.send(body === undefined ? head : head + body);
}

/** One keep-alive socket: a request at a time, its answer read by content-length or chunked encoding. */
class Connection {
  readonly socket: net.Socket;
  private pending?: { resolve: (answer: HttpAnswer) => void; reject: (error: Error) => void };
  /** bytes not yet consumed (the head until complete, or a chunk-size line) */
  private buffered: Buffer | undefined;
  private status = 0;
  /** what is read next: the head, a content-length body, a chunk-size line, a chunk, the trailer, or until close */
  private state: 'head' | 'length' | 'chunks' | 'chunk' | 'trailer' | 'close' = 'head';
  private remaining = 0;
  private body: Buffer[] = [];
  private keepAlive = true;
  /** how long the server keeps an idle socket (its `Keep-Alive: timeout=`), less a second, as node:http's agent */
  private idleLimitMs = Infinity;
  private idleSince = 0;

  constructor(private readonly origin: string) {
    const colon = origin.lastIndexOf(':');
    this.socket = net.connect({ host: origin.slice(0, colon), port: Number(origin.slice(colon + 1)), noDelay: true });
    this.socket.on('data', (data: Buffer) => {
      try {
        this.read(data);
      } catch (error) {
        this.fail(error as Error);
      }
    });
    this.socket.on('error', (error) => this.fail(error));
    this.socket.on('close', () => {
      if (this.state === 'close' && this.pending) return this.finish();
      this.fail(new Error('socket hang up'));
    });
  }

  reusable(): boolean {
    return !this.socket.destroyed && performance.now() - this.idleSince < this.idleLimitMs;
  }

  send(bytes: string): Promise<HttpAnswer> {
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.socket.write(bytes);
    });
  }

  private fail(error: Error): void {
    const pending = this.pending;
    this.pending = undefined;
    this.socket.destroy();
    pending?.reject(error);
  }

  private read(data: Buffer): void {
    if (!this.pending) throw new Error('bytes from the server with no request outstanding');
    if (this.buffered) {
      data = Buffer.concat([this.buffered, data]);
      this.buffered = undefined;
    }
    let at = 0;
    while (at < data.length) {
      if (this.state === 'length' || this.state === 'chunk') {
        const take = Math.min(this.remaining, data.length - at);
        // a chunk's CRLF is counted in `remaining`: keep only its data bytes
        const keep = this.state === 'chunk' ? Math.min(take, this.remaining - 2) : take;
        if (keep > 0) this.body.push(data.subarray(at, at + keep));
        this.remaining -= take;
        at += take;
        if (this.remaining > 0) continue;
        if (this.state === 'length') return this.complete(data, at);
        this.state = 'chunks';
      } else if (this.state === 'close') {
        // no length, no chunks: the body runs until the server closes
        this.body.push(data.subarray(at));
        return;
      } else {
        // a line-oriented part: the head (up to an empty line), a chunk-size line, a trailer line
        const end = data.indexOf(this.state === 'head' ? '\r\n\r\n' : '\r\n', at, 'latin1');
        if (end < 0) {
          this.buffered = data.subarray(at);
          return;
        }
        const line = data.toString('latin1', at, end);
        at = end + (this.state === 'head' ? 4 : 2);
        if (this.state === 'head') {
          if (this.parseHead(line)) return this.complete(data, at);
        } else if (this.state === 'chunks') {
          const size = parseInt(line, 16);
          if (Number.isNaN(size)) throw new Error(`bad chunk size line ${JSON.stringify(line)}`);
          if (size === 0) this.state = 'trailer';
          else [this.state, this.remaining] = ['chunk', size + 2];
        } else if (line === '') {
          // the empty line that ends the trailer ends the answer
          return this.complete(data, at);
        }
      }
    }
  }

  /** reads the status and how the body ends; true when there is no body */
  private parseHead(head: string): boolean {
    // "HTTP/1.1 200 OK\r\nname: value\r\n…"
    this.status = Number(head.slice(9, 12));
    let length = -1;
    let chunked = false;
    this.keepAlive = head.startsWith('HTTP/1.1');
    for (const line of head.split('\r\n').slice(1)) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).toLowerCase();
      const value = line
        .slice(colon + 1)
        .trim()
        .toLowerCase();
      if (name === 'content-length') length = Number(value);
      else if (name === 'transfer-encoding') chunked = value.endsWith('chunked');
      else if (name === 'connection') this.keepAlive = value !== 'close';
      else if (name === 'keep-alive') {
        const timeout = /timeout=(\d+)/.exec(value);
        if (timeout) this.idleLimitMs = Number(timeout[1]) * 1000 - 1000;
      }
    }
    this.body = [];
    if (this.status === 204 || this.status === 304 || length === 0) return true;
    if (chunked) this.state = 'chunks';
    else if (length > 0) [this.state, this.remaining] = ['length', length];
    else [this.state, this.keepAlive] = ['close', false];
    return false;
  }

  private complete(data: Buffer, at: number): void {
    if (at < data.length) throw new Error('bytes after the answer');
    this.finish();
  }

  private finish(): void {
    const pending = this.pending!;
    this.pending = undefined;
    const answer = { status: this.status, text: Buffer.concat(this.body).toString() };
    this.body = [];
    this.state = 'head';
    if (this.keepAlive) {
      this.idleSince = performance.now();
      let pool = idle.get(this.origin);
      if (!pool) idle.set(this.origin, (pool = []));
      pool.push(this);
    } else {
      this.socket.destroy();
    }
    pending.resolve(answer);
  }
}
