// The layout view on the servers' own layout and just off it. Its agreement with the full reader and
// Go binding on generated bodies is checked where that decoding lives: the client's
// wire-decode.layout-view.spec.ts.
import { describe, expect, it } from '@jest/globals';
import { parseLosslessJson } from './json-views.js';
import { PAYLOAD_IN_TEXT, readPullPageLayout, readSnapshotChunkLayout } from './wire-layout-view.js';

const row = (op: string, payload: string | undefined) =>
  `{"schema":"business","table":"users","key":{"id":"k1"},"op":"${op}","row_version":7` +
  (payload === undefined ? '}' : `,"payload":${payload}}`);
const page = (rows: string) =>
  `{"stable_bundle_seq":7,"bundles":[{"bundle_seq":7,"source_id":"device-1","source_bundle_id":2,"row_count":1,` +
  `"bundle_hash":"ab","rows":[${rows}]}],"has_more":false}`;
const chunk = (payload: string) =>
  `{"snapshot_id":"s1","snapshot_bundle_seq":7,"rows":[{"schema":"business","table":"users",` +
  `"key":{"id":"k1"},"row_version":7,"payload":${payload}}],"next_row_ordinal":1,"has_more":true}`;
const PAYLOAD = '{"id":"k1","n":12345678901234567890,"x":-0.5e-3,"ok":true,"none":null,"name":"é"}';

describe('readPullPageLayout', () => {
  it('reads the servers layout into the wire types, int64 members as bigint, payload values lossless', () => {
    const read = readPullPageLayout(`${page(`${row('INSERT', PAYLOAD)},${row('DELETE', undefined)}`)}\n`);
    expect(read).toEqual({
      stable_bundle_seq: 7n,
      bundles: [
        {
          bundle_seq: 7n,
          source_id: 'device-1',
          source_bundle_id: 2n,
          row_count: 1n,
          bundle_hash: 'ab',
          rows: [
            {
              schema: 'business',
              table: 'users',
              key: { id: 'k1' },
              op: 'INSERT',
              row_version: 7n,
              payload: parseLosslessJson(PAYLOAD),
            },
            {
              schema: 'business',
              table: 'users',
              key: { id: 'k1' },
              op: 'DELETE',
              row_version: 7n,
              payload: undefined,
            },
          ],
        },
      ],
      has_more: false,
    });
    const payload = read!.bundles[0]!.rows[0]!.payload;
    // the lossless view's own value: bigint beyond 2^53, objects that inherit nothing
    expect(payload).toStrictEqual(parseLosslessJson(PAYLOAD));
    expect(Object.getPrototypeOf(payload)).toBe(Object.getPrototypeOf(parseLosslessJson(PAYLOAD)));
  });

  it.each([
    ['whitespace inside', page(row('INSERT', '{"id": "k1"}'))],
    ['an escape', page(row('INSERT', '{"id":"k\\u0031"}'))],
    ['a nested payload', page(row('INSERT', '{"a":{"b":1}}'))],
    ['a duplicate member', page(row('INSERT', '{"a":1,"a":2}'))],
    ['a __proto__ member', page(row('INSERT', '{"__proto__":1}'))],
    ['an unknown op', page(row('insert', '{"a":1}'))],
    ['a number beyond float64', page(row('INSERT', '{"a":1e400}'))],
    [
      'another member order',
      page(row('INSERT', '{"a":1}')).replace(
        '"bundle_seq":7,"source_id":"device-1"',
        '"source_id":"device-1","bundle_seq":7',
      ),
    ],
    [
      'a long integer',
      page(row('INSERT', '{"a":1}')).replace('"stable_bundle_seq":7', '"stable_bundle_seq":1234567890123456'),
    ],
    ['trailing text', `${page(row('INSERT', '{"a":1}'))} x`],
  ])('leaves a body with %s to the full reader', (_, body) => {
    expect(readPullPageLayout(body)).toBeUndefined();
  });
});

describe('readSnapshotChunkLayout', () => {
  it('reads a chunk and hands over each payload and key as the body holds them', () => {
    const texts: string[] = [];
    const keys: string[] = [];
    const read = readSnapshotChunkLayout(chunk(PAYLOAD), texts, keys);
    expect(read).toMatchObject({ snapshot_id: 's1', snapshot_bundle_seq: 7n, next_row_ordinal: 1n, has_more: true });
    // the object is checked, not built: its text is the payload
    expect(read!.rows[0]!.payload).toBe(PAYLOAD_IN_TEXT);
    expect(texts).toEqual([PAYLOAD]);
    expect(keys).toEqual(['{"id":"k1"}']);
    expect(readSnapshotChunkLayout(chunk(PAYLOAD))!.rows[0]!.payload).toStrictEqual(parseLosslessJson(PAYLOAD));
  });

  it.each([
    ['the same members', '{"a":"y","b":null,"c":false}'],
    ['a number', '{"a":"y","b":12,"c":true}'],
    ['an escape', '{"a":"y\\\\","b":null,"c":true}'],
    ['a control character', '{"a":"y\u0001","b":null,"c":true}'],
    ['a lone surrogate', '{"a":"y\ud800","b":null,"c":true}'],
    ['whitespace', '{"a": "y","b":null,"c":true}'],
    ['a member more', '{"a":"y","b":null,"c":true,"d":"z"}'],
    ['a member less', '{"a":"y","b":null}'],
    ['a repeated member', '{"a":"y","b":null,"a":"z"}'],
    ['a nested object', '{"a":"y","b":{},"c":true}'],
  ])('reads a payload with %s after one of plain members as it reads it alone', (_, payload) => {
    const rows = (...payloads: string[]) =>
      payloads
        .map((p) => `{"schema":"business","table":"users","key":{"id":"k1"},"row_version":7,"payload":${p}}`)
        .join(',');
    const body = (...payloads: string[]) =>
      `{"snapshot_id":"s1","snapshot_bundle_seq":7,"rows":[${rows(...payloads)}],"next_row_ordinal":1,"has_more":true}`;
    const alone: string[] = [];
    const after: string[] = [];
    const first = '{"a":"x","b":null,"c":true}';
    const read = readSnapshotChunkLayout(body(first, first, payload), after);
    expect(read === undefined).toBe(readSnapshotChunkLayout(body(payload), alone) === undefined);
    if (read) expect(after).toEqual([first, first, ...alone]);
  });

  it('leaves a row without payload to the full reader (which refuses it)', () => {
    expect(readSnapshotChunkLayout(chunk(PAYLOAD).replace(`,"payload":${PAYLOAD}`, ''))).toBeUndefined();
  });
});
