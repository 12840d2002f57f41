import http from 'node:http';
import net from 'node:net';

/** One HTTP request as the fuzzers build it: any method, a raw path, repeated headers, raw body bytes. */
export interface RawRequest {
  method: string;
  /** path and query exactly as they go on the request line (Node accepts bytes 0x21–0xFF) */
  path: string;
  /** header lines in order; an array value sends the header once per element */
  headers: Array<[string, string | string[]]>;
  body?: Buffer;
  /**
   * How the body is framed: `exact` Content-Length, `chunked` transfer encoding, or `long` (declares
   * more than is sent: the server waits for the rest, the client gives up and closes). A Content-Length
   * shorter than the body is not generated: Node's HTTP parser answers the leftover bytes itself.
   */
  framing?: 'exact' | 'chunked' | 'long';
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** raw header lines as received (name, value, name, value, …) */
  rawHeaders: string[];
  body: Buffer;
  /** true when the response was a server-sent event stream that the client closed after the headers */
  stream: boolean;
}

/** The answer, or `undefined` when the server sent none before `timeoutMs` (then the socket is closed). */
export function sendRaw(baseUrl: string, request: RawRequest, timeoutMs = 10_000): Promise<RawResponse | undefined> {
  const url = new URL(baseUrl);
  const body = request.body ?? Buffer.alloc(0);
  const framing = request.framing ?? 'exact';
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: url.hostname,
      port: url.port,
      method: request.method,
      path: request.path,
      agent: false,
      setHost: true,
    });
    for (const [name, value] of request.headers) req.setHeader(name, value);
    if (framing === 'exact' && (body.length > 0 || request.method === 'POST'))
      req.setHeader('Content-Length', body.length);
    if (framing === 'long') req.setHeader('Content-Length', body.length + 16);
    const timer = setTimeout(() => {
      req.destroy();
      resolve(undefined);
    }, timeoutMs);
    req.on('response', (res) => {
      if (res.statusCode === 200 && String(res.headers['content-type'] ?? '').startsWith('text/event-stream')) {
        clearTimeout(timer);
        resolve({ status: 200, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.alloc(0), stream: true });
        req.destroy();
        return;
      }
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          rawHeaders: res.rawHeaders,
          body: Buffer.concat(chunks),
          stream: false,
        });
      });
      res.on('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
    req.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      // the server may answer (e.g. 413) and close before the whole body was written
      if (error.code === 'EPIPE' || error.code === 'ECONNRESET') resolve(undefined);
      else reject(error);
    });
    if (body.length > 0) req.write(body);
    req.end();
  });
}

/** A one-line description of a request for failure messages (bodies abbreviated). */
export function describeRequest(request: RawRequest): string {
  const body = request.body ?? Buffer.alloc(0);
  const shown =
    body.length > 300
      ? `${JSON.stringify(body.subarray(0, 300).toString('latin1'))}… (${body.length} bytes)`
      : JSON.stringify(body.toString('latin1'));
  const headers = request.headers.map(([name, value]) => `${name}: ${JSON.stringify(value).slice(0, 120)}`).join(' | ');
  return (
    `${request.method} ` +
    `${request.path.length > 200 ? `${request.path.slice(0, 200)}… (${request.path.length} chars)` : request.path} ` +
    `[${headers}] framing=${request.framing ?? 'exact'} body=${shown}`
  );
}

/** Writes raw bytes on one connection; everything the server sends until it closes (or `timeoutMs`). */
export function exchangeRaw(baseUrl: string, bytes: Buffer, timeoutMs = 5000): Promise<Buffer> {
  const url = new URL(baseUrl);
  return new Promise((resolve) => {
    const socket = net.connect(Number(url.port), url.hostname);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    // the server may answer and close before all bytes were written
    socket.on('error', () => undefined);
    socket.write(bytes);
  });
}

/** The HTTP/1.1 responses in a raw byte stream: status, lower-cased headers, body by Content-Length. */
export function splitResponses(raw: Buffer): Array<{ status: number; headers: Record<string, string>; body: string }> {
  const out: Array<{ status: number; headers: Record<string, string>; body: string }> = [];
  let rest = raw.toString('latin1');
  while (rest.startsWith('HTTP/1.1 ')) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const lines = rest.slice(0, end).split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1))
      headers[line.slice(0, line.indexOf(':')).toLowerCase()] = line.slice(line.indexOf(':') + 1).trim();
    const length = Number(headers['content-length'] ?? 0);
    out.push({
      status: Number(lines[0]!.split(' ')[1]),
      headers,
      body: Buffer.from(rest.slice(end + 4, end + 4 + length), 'latin1').toString('utf8'),
    });
    rest = rest.slice(end + 4 + length);
  }
  return out;
}
