import { describe, expect, it } from '@jest/globals';
import { Readable } from 'node:stream';
import { copyOutBinary } from './copy-out.js';
import type { SyncClient } from './sync-database.js';

/** PostgreSQL's binary COPY framing of (int8, text|null) tuples: header, tuples, trailer. */
function binaryCopy(tuples: Array<[bigint, string | null]>): Buffer {
  const parts: Buffer[] = [
    Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'),
    Buffer.from([0, 0, 0, 0, 0, 0, 0, 4]),
    Buffer.from('abcd'),
  ];
  for (const [seq, text] of tuples) {
    const head = Buffer.alloc(2 + 4 + 8 + 4);
    head.writeInt16BE(2, 0);
    head.writeInt32BE(8, 2);
    head.writeBigInt64BE(seq, 6);
    head.writeInt32BE(text === null ? -1 : Buffer.byteLength(text), 14);
    parts.push(head);
    if (text !== null) parts.push(Buffer.from(text));
  }
  parts.push(Buffer.from([0xff, 0xff]));
  return Buffer.concat(parts);
}

/** A client whose COPY answers `bytes` cut at the given sizes (the stream COPY reads from the socket). */
function clientAnswering(bytes: Buffer, cut: (offset: number) => number): SyncClient {
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length;) {
    const size = Math.max(1, Math.min(cut(at), bytes.length - at));
    chunks.push(bytes.subarray(at, at + size));
    at += size;
  }
  return { query: () => Readable.from(chunks) } as unknown as SyncClient;
}

describe('copyOutBinary', () => {
  const tuples: Array<[bigint, string | null]> = Array.from({ length: 300 }, (_, i) => [
    i % 7 === 0 ? 9_007_199_254_740_993n : BigInt(i),
    i % 11 === 0 ? null : `{"row":${i},"text":"${'é😀'.repeat(i % 13)}"}`,
  ]);
  const bytes = binaryCopy(tuples);

  it.each([
    ['whole', () => bytes.length],
    ['one byte at a time', () => 1],
    ['odd sizes', (at: number) => 1 + ((at * 7919) % 97)],
    ['header split', (at: number) => (at === 0 ? 5 : 4096)],
  ])('parses every tuple in order whatever the chunking (%s)', async (_label, cut) => {
    const seen: Array<[bigint, string | null]> = [];
    let pieces: Buffer[] = [];
    let flushes = 0;
    const take = () => {
      const last = seen[seen.length - 1];
      if (last && last[1] !== null) last[1] = Buffer.concat(pieces).toString('utf8');
      pieces = [];
    };
    const count = await copyOutBinary(clientAnswering(bytes, cut), 'SELECT 1', {
      tuple(lead, lastLength) {
        take();
        seen.push([lead[0]!.readBigInt64BE(0), lastLength === -1 ? null : '']);
      },
      piece(bytes) {
        pieces.push(bytes);
      },
      flush: async () => {
        flushes++;
      },
    });
    take();
    expect(count).toBe(tuples.length);
    expect(seen).toEqual(tuples);
    expect(flushes).toBeGreaterThan(0);
  });

  it('refuses data without the binary COPY signature', async () => {
    const handler = { tuple: () => undefined, piece: () => undefined, flush: async () => undefined };
    await expect(
      copyOutBinary(
        clientAnswering(Buffer.from('not a binary copy stream at all'), () => 64),
        'SELECT 1',
        handler,
      ),
    ).rejects.toThrow(/signature/);
  });

  it('passes a last field that spans many buffers on as views of them, never copied', async () => {
    const big = 'x'.repeat(300_000);
    const copy = binaryCopy([
      [1n, big],
      [2n, big],
    ]);
    const received: Buffer[] = [];
    const chunks: Buffer[] = [];
    for (let at = 0; at < copy.length; at += 65_536) chunks.push(Buffer.from(copy.subarray(at, at + 65_536)));
    const client = { query: () => Readable.from(chunks) } as unknown as SyncClient;
    const lengths: number[] = [];
    await copyOutBinary(client, 'SELECT 1', {
      tuple: (_lead, lastLength) => lengths.push(lastLength),
      piece: (bytes) => received.push(bytes),
      flush: async () => undefined,
    });
    expect(lengths).toEqual([300_000, 300_000]);
    expect(Buffer.concat(received).toString()).toBe(big + big);
    expect(received.every((piece) => chunks.some((chunk) => chunk.buffer === piece.buffer))).toBe(true);
  });

  it('refuses a stream cut before its trailer', async () => {
    const handler = { tuple: () => undefined, piece: () => undefined, flush: async () => undefined };
    const cutShort = bytes.subarray(0, bytes.length - 2);
    await expect(
      copyOutBinary(
        clientAnswering(cutShort, () => 4096),
        'SELECT 1',
        handler,
      ),
    ).rejects.toThrow(/trailer/);
  });
});
