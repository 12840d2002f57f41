import { describe, expect, it } from '@jest/globals';
import { parsePushChunk } from './push-chunk.parser.js';
import { SyncCatalog } from '../schema/sync-catalog.js';
import type { RegisteredTable } from '../schema/registered-table.js';
import { OversyncError } from '../errors/oversync.error.js';

const files: RegisteredTable = {
  tableId: 1,
  schema: 'business',
  table: 'files',
  name: 'business.files',
  keyColumn: 'id',
  keyKind: 1,
  columnTypes: new Map([
    ['id', 'uuid'],
    ['name', 'text'],
    ['size', 'int8'],
    ['data', 'bytea'],
    ['_sync_scope_id', 'text'],
  ]),
};
const catalog = new SyncCatalog([files]);
const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const row = (n: number, payload: unknown = { id: id(n), name: `f${n}`, size: n }, extra: object = {}) => ({
  schema: 'business',
  table: 'files',
  key: { id: id(n) },
  op: 'INSERT',
  base_row_version: 0,
  payload,
  ...extra,
});
const chunk = (body: unknown, maxRows = 10) =>
  parsePushChunk(typeof body === 'string' ? body : JSON.stringify(body), catalog, maxRows);
/** the answer of a refused chunk: code and message */
const refusal = (body: unknown, maxRows = 10): string => {
  try {
    chunk(body, maxRows);
  } catch (error) {
    if (error instanceof OversyncError) return `${error.code}: ${error.message}`;
    throw error;
  }
  throw new Error('chunk was accepted');
};
const payloads = (body: unknown) => chunk(body).payloads.split('\n');
const PARSE = 'invalid_request: Failed to parse push chunk request';

describe('parsePushChunk', () => {
  it('writes canonical payloads, the key added when absent; repeated name lists take the same text', () => {
    const rows = payloads({
      start_row_ordinal: 0,
      rows: [row(1), row(2), row(3, { size: 3, name: 'c' }), row(4, { size: 4, name: 'd' }), row(5, { data: 'AAE=' })],
    });
    expect(rows).toEqual([
      `{"id":"${id(1)}","name":"f1","size":1}`,
      `{"id":"${id(2)}","name":"f2","size":2}`,
      `{"id":"${id(3)}","name":"c","size":3}`,
      `{"id":"${id(4)}","name":"d","size":4}`,
      `{"data":"\\\\x0001","id":"${id(5)}"}`,
    ]);
  });

  it('columns in upload order; a DELETE has an empty payload line', () => {
    const deleted = { ...row(2, undefined), op: 'delete', base_row_version: 7, payload: undefined };
    expect(chunk({ start_row_ordinal: 3, rows: [deleted, row(1)] })).toEqual({
      startRowOrdinal: 3n,
      length: 2,
      tableIds: [1, 1],
      keyHex: [id(2), id(1)].map((k) => k.replaceAll('-', '')),
      opCodes: [3, 1],
      baseRowVersions: [7n, 0n],
      payloads: `\n{"id":"${id(1)}","name":"f1","size":1}`,
      insertShape: null,
    });
  });

  it('names the one table and member list of a chunk of INSERTs, in canonical order, else none', () => {
    const shape = (rows: unknown[]) => chunk({ start_row_ordinal: 0, rows }).insertShape;
    // member order as sent does not matter; the key member, added when absent, is one of them
    expect(shape([row(1), row(2, { size: 2, name: 'b', id: id(2) }), row(3, { name: 'c', size: 3 })])).toBe(
      '1 id,name,size',
    );
    expect(shape([row(1), row(2, { name: 'b' })])).toBeNull();
    expect(shape([row(1), { ...row(2), op: 'UPDATE', base_row_version: 1 }])).toBeNull();
    expect(shape([{ ...row(1), op: 'UPDATE', base_row_version: 1 }])).toBeNull();
    // a repeated member is never a kept name list
    expect(
      chunk(`{"start_row_ordinal":0,"rows":[${JSON.stringify(row(1)).replace('"size":1', '"size":1,"size":2')}]}`)
        .insertShape,
    ).toBeNull();
  });

  it('every rule holds for a name list seen before: key, number range, bytea, case of a member', () => {
    const seen = JSON.stringify(row(1));
    const body = (second: string) => `{"start_row_ordinal":0,"rows":[${seen},${second}]}`;
    const second = JSON.stringify(row(2));
    expect(refusal(body(second.replace(`"payload":{"id":"${id(2)}"`, `"payload":{"id":"${id(3)}"`)))).toBe(
      'push_chunk_invalid: payload key business.files.id must match request key',
    );
    expect(refusal(body(second.replace('"size":2', '"size":1e400')))).toBe(
      'push_chunk_invalid: payload for business.files must be a JSON object',
    );
    expect(refusal(body(second.replace('"size":2', '"Size":2')))).toBe(
      `push_chunk_invalid: payload for business.files row ${id(2)} member "Size" must be spelled as its column "size"`,
    );
    const bytes = JSON.stringify(row(3, { data: 'AAE=' }));
    expect(
      refusal(`{"start_row_ordinal":0,"rows":[${bytes},${bytes.replace('AAE=', '!!').replaceAll(id(3), id(4))}]}`),
    ).toBe('push_chunk_invalid: payload binary field business.files.data must be valid base64');
    // a repeated member (the last wins) is never a known name list
    const twice = second.replace('"size":2', '"size":2,"size":7');
    expect(payloads(body(twice))[1]).toBe(`{"id":"${id(2)}","name":"f2","size":7}`);
    expect(payloads(`{"start_row_ordinal":0,"rows":[${twice},${seen}]}`)[1]).toBe(
      `{"id":"${id(1)}","name":"f1","size":1}`,
    );
  });

  it('answers as if the whole document were bound first: syntax, then types, then the chunk, then the first bad row', () => {
    const bad = JSON.stringify(row(1, undefined, { table: 'nope' }));
    const good = JSON.stringify(row(2));
    const typeError = JSON.stringify(row(3, undefined, { base_row_version: 'x' }));
    expect(refusal(`{"start_row_ordinal":0,"rows":[${bad},${good}]}`)).toBe(
      'push_chunk_invalid: table business.nope is not registered',
    );
    expect(refusal(`{"start_row_ordinal":0,"rows":[${bad},${typeError}]}`)).toBe(PARSE);
    expect(refusal(`{"start_row_ordinal":0,"rows":[${bad},${good}]} x`)).toBe(PARSE);
    expect(refusal(`{"start_row_ordinal":0,"rows":[${bad},${good}],"start_row_ordinal":"0"}`)).toBe(PARSE);
    expect(refusal(`{"start_row_ordinal":-1,"rows":[${bad}]}`)).toBe(
      'push_chunk_invalid: start_row_ordinal must be >= 0',
    );
    expect(refusal(`{"start_row_ordinal":0,"rows":[${bad},${good},${good}]}`, 2)).toBe(
      'push_chunk_invalid: rows length 3 exceeds max_rows_per_push_chunk 2',
    );
    expect(refusal(`{"start_row_ordinal":0,"rows":[${good},${good}]}`)).toBe(
      `push_chunk_invalid: duplicate target row in push request: business.files ${id(2)}`,
    );
  });

  it('binds each row field as Go does: any letter case, null keeps a scalar, the last member wins', () => {
    const text = JSON.stringify(row(1));
    const one = (edit: (row: string) => string) => `{"start_row_ordinal":0,"rows":[${edit(text)}]}`;
    expect(
      chunk(
        one((r) =>
          r
            .replace('"schema":"business"', '"schema":"nope","\u017fCHEMA":"business","Schema":null')
            .replace('"op":"INSERT"', '"op":"DELETE","OP":"INSERT","Op":null')
            .replace('"base_row_version":0', '"Base_Row_Version":3,"base_row_version":null'),
        ),
      ),
    ).toMatchObject({ tableIds: [1], opCodes: [1], baseRowVersions: [3n] });
    // a type error in any binding member, an earlier one too
    expect(refusal(one((r) => r.replace('"table":"files"', '"TABLE":1,"table":"files"')))).toBe(PARSE);
    expect(refusal(one((r) => r.replace('"base_row_version":0', '"base_row_version":1.0')))).toBe(PARSE);
    // key and payload: the last binding member, null included
    expect(refusal(one((r) => r.replace('"key":{', '"Key":null,"key":{').replace('"op":', '"kEY":null,"op":')))).toBe(
      'push_chunk_invalid: row key for business.files must include "id"',
    );
    expect(refusal(one((r) => `${r.slice(0, -1)},"Payload":null}`))).toBe(
      'push_chunk_invalid: payload for business.files must be a JSON object',
    );
    expect(payloads(one((r) => r.replace('"payload":{', '"PAYLOAD":{"name":"x"},"payload":{')))).toEqual([
      `{"id":"${id(1)}","name":"f1","size":1}`,
    ]);
  });

  it('binds the last "rows" member, in any letter case, and only at the top level', () => {
    const bad = JSON.stringify(row(1, undefined, { table: 'nope' }));
    const typeError = JSON.stringify(row(3, undefined, { base_row_version: 'x' }));
    const good = JSON.stringify(row(2));
    expect(chunk(`{"start_row_ordinal":5,"rows":[${bad},${typeError}],"ROWS":[${good}]}`)).toMatchObject({
      startRowOrdinal: 5n,
      length: 1,
      tableIds: [1],
      keyHex: [id(2).replaceAll('-', '')],
      opCodes: [1],
      baseRowVersions: [0n],
    });
    expect(refusal(`{"start_row_ordinal":0,"rows":[${good}],"rows":[]}`)).toBe(
      'push_chunk_invalid: rows must not be empty',
    );
    expect(refusal(`{"start_row_ordinal":0,"rows":[${good}],"rows":null}`)).toBe(
      'push_chunk_invalid: rows must not be empty',
    );
    expect(refusal(`{"start_row_ordinal":0,"rows":[${good}],"rows":{}}`)).toBe(PARSE);
    expect(refusal(`{"start_row_ordinal":0,"x":{"rows":[${good}]}}`)).toBe(
      'push_chunk_invalid: rows must not be empty',
    );
    expect(refusal(`[{"rows":[${good}]}]`)).toBe(PARSE);
  });
});
