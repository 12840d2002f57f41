/**
 * The bench's own HTTP client (test/bench/http-client.ts): the requests it writes are byte for byte
 * node:http's for the same calls, and it reads every framing of an answer (content-length, chunked,
 * no body, until close) however the bytes arrive, on reused keep-alive sockets; against the reference
 * app on both HTTP platforms, a push and a pull give the answers node:http gets.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import http from 'node:http';
import net from 'node:net';
import { nodeHttpCall, rawCall } from './http-client.js';
import { SyncApi, userRows } from './sync-api.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const HEADERS = { authorization: 'Bearer t', 'oversync-source-id': 'w-1', 'content-type': 'application/json' };
const CALLS: Array<[string, string, string | undefined]> = [
  ['POST', '/sync/push-sessions', JSON.stringify({ source_bundle_id: 1, planned_row_count: 5, note: 'é€😀' })],
  ['POST', '/sync/push-sessions/abc/commit', undefined],
  ['GET', '/sync/pull?after_bundle_seq=0&max_bundles=100', undefined],
  ['DELETE', '/sync/push-sessions/abc', undefined],
];

/** A loopback TCP server answering each request with `answer` bytes, written as `pieces`; records what it got. */
async function rawServer(answer: (request: string) => Buffer, pieceSize = Infinity) {
  const received: string[] = [];
  const sockets: net.Socket[] = [];
  const server = net.createServer((socket) => {
    sockets.push(socket);
    socket.on('data', (data) => {
      const text = data.toString('latin1');
      received.push(text);
      const bytes = answer(text);
      void (async () => {
        for (let at = 0; at < bytes.length; at += pieceSize) {
          socket.write(bytes.subarray(at, at + pieceSize));
          if (pieceSize !== Infinity) await new Promise((r) => setImmediate(r));
        }
        if (bytes.includes('connection: close')) socket.end();
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    connections: () => sockets.length,
    close: () => {
      // the clients keep their sockets alive
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

const TEXT = 'ünïcode € 😀 '.repeat(50);
const chunkedBody = (text: string) => {
  const bytes = Buffer.from(text);
  const parts: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += 97) {
    const part = bytes.subarray(at, at + 97);
    parts.push(Buffer.from(`${part.length.toString(16)}\r\n`), part, Buffer.from('\r\n'));
  }
  return Buffer.concat([...parts, Buffer.from('0\r\nx-trailer: 1\r\n\r\n')]);
};
const FRAMINGS: Record<string, Buffer> = {
  length: Buffer.concat([
    Buffer.from(
      `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(TEXT)}\r\n\r\n`,
    ),
    Buffer.from(TEXT),
  ]),
  chunked: Buffer.concat([
    Buffer.from('HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n'),
    chunkedBody(TEXT),
  ]),
  'no content': Buffer.from('HTTP/1.1 204 No Content\r\nKeep-Alive: timeout=5\r\n\r\n'),
  'empty, length 0': Buffer.from('HTTP/1.1 409 Conflict\r\nContent-Length: 0\r\n\r\n'),
  'until close': Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n'), Buffer.from(TEXT)]),
};

describe('bench HTTP client', () => {
  it('writes the bytes node:http writes for the same calls', async () => {
    const server = await rawServer(() => Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}'));
    try {
      for (const [method, path, body] of CALLS) {
        await nodeHttpCall(server.url + path, method, HEADERS, body);
        await rawCall(server.url + path, method, HEADERS, body);
      }
      expect(server.received).toHaveLength(CALLS.length * 2);
      for (let i = 0; i < CALLS.length; i++) expect(server.received[2 * i + 1]).toBe(server.received[2 * i]);
    } finally {
      await server.close();
    }
  });

  for (const [name, bytes] of Object.entries(FRAMINGS))
    it(`reads an answer framed by ${name}, whole and a byte at a time`, async () => {
      for (const pieceSize of [Infinity, 1, 7]) {
        const server = await rawServer(() => bytes, pieceSize);
        try {
          const [method, path, body] = CALLS[0]!;
          const expected = await nodeHttpCall(server.url + path, method, HEADERS, body);
          // twice: the second call reuses the socket unless the answer closed it
          for (let i = 0; i < 2; i++) expect(await rawCall(server.url + path, method, HEADERS, body)).toEqual(expected);
          expect(server.connections()).toBe(name === 'until close' ? 3 : 2);
        } finally {
          await server.close();
        }
      }
    });

  it('opens a new socket when the server closed the idle one or its keep-alive time is over', async () => {
    const server = http.createServer((request, response) => response.end('ok'));
    server.keepAliveTimeout = 1500; // answers `Keep-Alive: timeout=1`: the client keeps a socket idle 0 s
    let connections = 0;
    server.on('connection', () => connections++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/`;
    try {
      expect(await rawCall(url, 'GET', {}, undefined)).toEqual({ status: 200, text: 'ok' });
      expect(await rawCall(url, 'GET', {}, undefined)).toEqual({ status: 200, text: 'ok' });
      expect(connections).toBe(2);
      server.keepAliveTimeout = 60_000;
      await rawCall(url, 'GET', {}, undefined);
      await rawCall(url, 'GET', {}, undefined);
      expect(connections).toBe(3);
      server.closeIdleConnections();
      await new Promise((r) => setTimeout(r, 50));
      expect(await rawCall(url, 'GET', {}, undefined)).toEqual({ status: 200, text: 'ok' });
      expect(connections).toBe(4);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('rejects when the server hangs up mid-answer', async () => {
    const server = await rawServer(() =>
      Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: 10\r\nconnection: close\r\n\r\nabc'),
    );
    try {
      await expect(rawCall(`${server.url}/x`, 'GET', {}, undefined)).rejects.toThrow('socket hang up');
    } finally {
      await server.close();
    }
  });

  for (const adapter of ['fastify', 'express'] as const)
    describe(`against the reference app on ${adapter}`, () => {
      let app: TestApp;
      beforeAll(async () => {
        app = await startTestApp({ adapter });
      });
      afterAll(async () => {
        await app?.close();
      });

      it('pushes and pulls as node:http does', async () => {
        const token = await app.signIn('bench-client');
        const writer = new SyncApi(app.baseUrl, token, 'w-bench');
        await writer.call('POST', '/sync/connect', { has_local_pending_rows: false });
        const pushed = await writer.push(1, userRows(5));
        const headers = { ...HEADERS, authorization: `Bearer ${token}`, 'oversync-source-id': 'r-bench' };
        const pull = `${app.baseUrl}/sync/pull?after_bundle_seq=0&max_bundles=100`;
        const expected = await nodeHttpCall(pull, 'GET', headers, undefined);
        expect(expected.status).toBe(200);
        const pulled = JSON.parse(expected.text) as { bundles: { bundle_seq: number }[] };
        expect(pulled.bundles.map((b) => b.bundle_seq)).toEqual([pushed.commit.bundle_seq]);
        expect(await rawCall(pull, 'GET', headers, undefined)).toEqual(expected);
        // an error answer too
        const missing = `${app.baseUrl}/sync/push-sessions/00000000-0000-0000-0000-000000000000/commit`;
        const error = await nodeHttpCall(missing, 'POST', headers, undefined);
        expect(error.status).toBeGreaterThanOrEqual(400);
        expect(await rawCall(missing, 'POST', headers, undefined)).toEqual(error);
      });
    });
});
