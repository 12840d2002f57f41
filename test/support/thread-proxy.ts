/**
 * A loopback HTTP proxy on a thread of its own, for client suites whose client blocks this thread while a
 * response arrives (a pull page applied as it streams in): each response is read whole from the target,
 * then sent on by that thread, now and then changed by an armed rule (a status, a replaced text, a body
 * sent in pieces with pauses or cut mid-way). Rules are data, not callbacks: they cross to the thread.
 */
import { Worker } from 'node:worker_threads';

export interface ThreadProxyRule {
  readonly method: string;
  /** a regular expression's source, matched against the path without the query string */
  readonly path: string;
  readonly status?: number;
  /** the body replacing the real one (with `status`) */
  readonly body?: string;
  /** the first occurrence of `[0]` in the real body replaced by `[1]` */
  readonly replace?: readonly [string, string];
  /** the body sent in pieces of `pieceBytes`, a pause of `pauseMs` after piece `pauseAt` (or every `pauseEvery`) */
  readonly dribble?: {
    readonly pieceBytes: number;
    readonly pauseMs?: number;
    readonly pauseAt?: number;
    readonly pauseEvery?: number;
    /** the connection destroyed once this many bytes of the body went out */
    readonly cutAfter?: number;
  };
}

const PROXY = `
const { parentPort, workerData } = require('node:worker_threads');
const http = require('node:http');
const target = new URL(workerData.target);
let rules = [];
parentPort.on('message', (message) => {
  if (message === 'clear') rules = [];
  else rules.push({ ...message.rule, times: message.times });
});
const pause = (ms) => new Promise((resolve) => (ms > 0 ? setTimeout(resolve, ms) : setImmediate(resolve)));
async function send(res, status, headers, body, dribble) {
  res.writeHead(status, { ...headers, 'content-length': String(body.length) });
  if (!dribble) return res.end(body);
  const end = Math.min(body.length, dribble.cutAfter ?? body.length);
  for (let at = 0, i = 0; at < end && !res.destroyed; at += dribble.pieceBytes, i++) {
    res.write(body.subarray(at, Math.min(end, at + dribble.pieceBytes)));
    const every = dribble.pauseEvery && i % dribble.pauseEvery === dribble.pauseEvery - 1;
    await pause(every || dribble.pauseAt === i ? dribble.pauseMs : 0);
  }
  if (end < body.length) res.destroy();
  else res.end();
}
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const path = (req.url || '/').split('?')[0];
    const rule = rules.find((r) => r.times > 0 && r.method === req.method && new RegExp(r.path).test(path));
    if (rule) rule.times--;
    const upstream = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url,
        headers: { ...req.headers, host: target.host }, agent: false },
      (answer) => {
        const parts = [];
        answer.on('data', (chunk) => parts.push(chunk));
        answer.on('end', () => {
          let body = Buffer.concat(parts);
          let status = answer.statusCode;
          if (rule && rule.status) [status, body] = [rule.status, Buffer.from(rule.body ?? '')];
          if (rule && rule.replace) body = Buffer.from(body.toString('utf8').replace(rule.replace[0], rule.replace[1]));
          const headers = { ...answer.headers };
          delete headers['content-length'];
          delete headers['transfer-encoding'];
          delete headers.etag;
          void send(res, status, headers, body, rule && rule.dribble);
        });
      },
    );
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
    upstream.end(Buffer.concat(chunks));
  });
});
server.listen(0, '127.0.0.1', () => parentPort.postMessage(server.address().port));
`;

export class ThreadProxy {
  private constructor(
    private readonly worker: Worker,
    readonly baseUrl: string,
  ) {}

  /** Starts the proxy's thread, listening on 127.0.0.1 (a free port) and forwarding to `targetBaseUrl`. */
  static async start(targetBaseUrl: string): Promise<ThreadProxy> {
    const worker = new Worker(PROXY, { eval: true, workerData: { target: targetBaseUrl } });
    const port = await new Promise<number>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    return new ThreadProxy(worker, `http://127.0.0.1:${port}`);
  }

  /** The next `times` matching responses follow `rule`. */
  arm(rule: ThreadProxyRule, times = 1): void {
    this.worker.postMessage({ rule, times });
  }

  /** Drops every armed rule that has not fired yet. */
  clear(): void {
    this.worker.postMessage('clear');
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}
