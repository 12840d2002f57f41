import { afterEach, describe, expect, it } from '@jest/globals';
import { createServer, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import type { StreamableFile } from '@nestjs/common';
import { StreamedWireBody, wireReplyValue, type WirePlatform } from './wire-reply.js';

// What the platforms' reply() does with a StreamableFile, on Node's own HTTP server: headers, then the stream piped.
const fastify: WirePlatform = {
  getType: () => 'fastify',
  setHeader: (response: ServerResponse, name: string, value: string) => response.setHeader(name, value),
} as unknown as WirePlatform;

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((done) => server?.close(done));
  server = undefined;
});

/**
 * Serves one streamed body with `flushEachWrite` (`flushEachWrite` false: without), writes `frame` into
 * it once the answer has started, and reports how many bytes the socket still held corked right after
 * that write returned, before the current tick ends.
 */
async function corkedAfterWrite(flushEachWrite: boolean): Promise<{ corked: number; received: string }> {
  let corked = -1;
  const frame = 'event: bundle\ndata: {}\n\n';
  server = createServer((_req, res) => {
    const out = new PassThrough();
    const file = wireReplyValue(fastify, res, new StreamedWireBody(out, { flushEachWrite })) as StreamableFile;
    res.writeHead(200);
    res.flushHeaders();
    file.getStream().pipe(res);
    setTimeout(() => {
      out.write(frame);
      corked = res.socket?.writableCorked ?? -1;
      setTimeout(() => out.end(), 5);
    }, 5);
  });
  await new Promise<void>((listening) => server!.listen(0, '127.0.0.1', listening));
  const { port } = server.address() as AddressInfo;
  const received = await new Promise<string>((done, failed) => {
    request({ host: '127.0.0.1', port }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => done(text));
    })
      .on('error', failed)
      .end();
  });
  return { corked, received };
}

describe('streamed answers written as they are produced', () => {
  it('an SSE frame leaves the socket at once, not at the end of the tick that wrote it', async () => {
    const { corked, received } = await corkedAfterWrite(true);
    expect(corked).toBe(0);
    expect(received).toBe('event: bundle\ndata: {}\n\n');
  });

  it('other streamed bodies keep Node’s batching of a tick’s writes', async () => {
    const { corked, received } = await corkedAfterWrite(false);
    expect(corked).toBe(1);
    expect(received).toBe('event: bundle\ndata: {}\n\n');
  });
});
