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
    let flushes = 0;
    const count = await copyOutBinary(clientAnswering(bytes, cut), 'SELECT 1', {
      tuple(fields) {
        seen.push([fields[0]!.readBigInt64BE(0), fields[1] === null ? null : fields[1]!.toString('utf8')]);
      },
      flush: async () => {
        flushes++;
      },
    });
    expect(count).toBe(tuples.length);
    expect(seen).toEqual(tuples);
    expect(flushes).toBeGreaterThan(0);
  });

  it('refuses data without the binary COPY signature', async () => {
    const handler = { tuple: () => undefined, flush: async () => undefined };
    await expect(
      copyOutBinary(
        clientAnswering(Buffer.from('not a binary copy stream at all'), () => 64),
        'SELECT 1',
        handler,
      ),
    ).rejects.toThrow(/signature/);
  });
});
