// The bench's HTTP client for protocol calls: node:http on a keep-alive agent. fetch (undici) costs the
// client about half as much CPU again per small request (0.79 vs 0.50 ms measured on a loaded 2-core
// machine), and the client shares the machine with the server, so it inflated every latency figure,
// ours and the reference server's alike. `BENCH_CLIENT=fetch` measures with fetch as before.
import http from 'node:http';

export interface HttpAnswer {
  status: number;
  text: string;
}

const useFetch = process.env.BENCH_CLIENT === 'fetch';
const agent = new http.Agent({ keepAlive: true });

/** One request; the answer's status and body as text. */
export function httpCall(
  url: string,
  method: string,
  headers: Record<string, string>,
  body?: string,
): Promise<HttpAnswer> {
  if (useFetch) return fetchCall(url, method, headers, body);
  return new Promise((resolve, reject) => {
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
