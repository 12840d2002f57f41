import { describe, expect, it } from '@jest/globals';
import type Database from 'better-sqlite3';
import { sqliteFiles } from './sqlite-file.spec-support.js';
import { canonicalEqualityText, parseJson, stringifyJson } from './json-value.js';
import { inspectManagedTables } from './managed-table.js';
import {
  localKeyFromWireKey,
  sqlValuesFromLocalImage,
  sqlValuesFromWirePayload,
  wireKeyString,
  wirePayloadFromLocalImage,
} from './row-codec.js';

const databases = sqliteFiles();

/** The local tables whose declared types drive the codecs (BLOB UUID keys and FKs, typed columns). */
function localTables(): Database.Database {
  const db = databases.open().db;
  db.exec(`
    CREATE TABLE files (id BLOB PRIMARY KEY NOT NULL, name TEXT, data BLOB);
    CREATE TABLE file_reviews (id BLOB PRIMARY KEY NOT NULL, review TEXT,
      file_id BLOB REFERENCES files(id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED);
    CREATE TABLE typed_rows (id TEXT PRIMARY KEY NOT NULL, name TEXT, count_value INTEGER, rating REAL, data BLOB,
      created_at TEXT);`);
  return db;
}

const [files, reviews, typed] = inspectManagedTables(localTables(), [
  { tableName: 'files', syncKeyColumnName: 'id' },
  { tableName: 'file_reviews', syncKeyColumnName: 'id' },
  { tableName: 'typed_rows', syncKeyColumnName: 'id' },
]) as [
  ReturnType<typeof inspectManagedTables>[number],
  ReturnType<typeof inspectManagedTables>[number],
  ReturnType<typeof inspectManagedTables>[number],
];

describe('lossless JSON', () => {
  it('keeps 64-bit integers exact and everything else as JSON.parse would', () => {
    const text =
      '{"a":9007199254740993,"b":-9223372036854775808,"c":1.5,"d":2.0,"e":"x\\u00e9","f":[null,true],"g":-0}';
    const value = parseJson(text);
    expect(value).toEqual({
      a: 9007199254740993n,
      b: -9223372036854775808n,
      c: 1.5,
      d: 2,
      e: 'xé',
      f: [null, true],
      g: -0,
    });
    expect(stringifyJson(value)).toBe(
      '{"a":9007199254740993,"b":-9223372036854775808,"c":1.5,"d":2,"e":"xé","f":[null,true],"g":0}',
    );
    expect(canonicalEqualityText(parseJson('{"b":2.0,"a":"t"}'))).toBe(
      canonicalEqualityText(parseJson('{"a":"t","b":2}')),
    );
    expect(() => parseJson('{"a":1} x')).toThrow(/after top-level value/);
    expect(() => parseJson('{"a":1e400}')).toThrow(/out of range/);
  });
});

describe('row codecs (spec §9)', () => {
  it('converts the local image to the wire: BLOB key/FK → UUID text, other BLOBs → base64', () => {
    expect(
      stringifyJson(
        wirePayloadFromLocalImage(
          files,
          parseJson('{"id":"6f1c2a9e3b4d4e5f8a7b1c2d3e4f5a6b","name":"a.jpg","data":"ffd8ffe0"}') as never,
        ),
      ),
    ).toBe('{"data":"/9j/4A==","id":"6f1c2a9e-3b4d-4e5f-8a7b-1c2d3e4f5a6b","name":"a.jpg"}');
    expect(
      stringifyJson(
        wirePayloadFromLocalImage(
          reviews,
          parseJson(
            '{"id":"00000000000000000000000000000002","review":"r","file_id":"6f1c2a9e3b4d4e5f8a7b1c2d3e4f5a6b"}',
          ) as never,
        ),
      ),
    ).toBe(
      '{"file_id":"6f1c2a9e-3b4d-4e5f-8a7b-1c2d3e4f5a6b","id":"00000000-0000-0000-0000-000000000002","review":"r"}',
    );
    expect(() => wirePayloadFromLocalImage(files, parseJson('{"id":"abcd","name":"x","data":null}') as never)).toThrow(
      /failed to decode blob UUID pk for column id/,
    );
  });

  it('maps keys between local hex and wire UUID text, strictly on download', () => {
    expect(wireKeyString(files, '6f1c2a9e3b4d4e5f8a7b1c2d3e4f5a6b')).toBe('6f1c2a9e-3b4d-4e5f-8a7b-1c2d3e4f5a6b');
    expect(localKeyFromWireKey(files, { id: '6F1C2A9E-3B4D-4E5F-8A7B-1C2D3E4F5A6B' })).toBe(
      '6f1c2a9e3b4d4e5f8a7b1c2d3e4f5a6b',
    );
    expect(() => localKeyFromWireKey(files, { id: '6f1c2a9e3b4d4e5f8a7b1c2d3e4f5a6b' })).toThrow(
      'invalid canonical wire UUID encoding',
    );
    expect(() => localKeyFromWireKey(files, {})).toThrow('bundle row key for files is missing id');
    expect(localKeyFromWireKey(typed, { id: 'text-key' })).toBe('text-key');
  });

  it('decodes wire payloads strictly into SQLite values', () => {
    const values = sqlValuesFromWirePayload(files, {
      id: '6f1c2a9e-3b4d-4e5f-8a7b-1c2d3e4f5a6b',
      name: 'a',
      data: '/9j/4A==',
    });
    expect(values.map((v) => (Buffer.isBuffer(v) ? v.toString('hex') : v))).toEqual([
      '6f1c2a9e3b4d4e5f8a7b1c2d3e4f5a6b',
      'a',
      'ffd8ffe0',
    ]);
    expect(() =>
      sqlValuesFromWirePayload(files, { id: '6f1c2a9e-3b4d-4e5f-8a7b-1c2d3e4f5a6b', name: 'a', data: 'ffd8ffe' }),
    ).toThrow('failed to decode canonical wire blob payload field data: invalid canonical wire blob encoding');
    expect(() => sqlValuesFromWirePayload(files, { id: '6f1c2a9e-3b4d-4e5f-8a7b-1c2d3e4f5a6b', name: 'a' })).toThrow(
      'payload for files must contain every table column',
    );
    expect(
      sqlValuesFromWirePayload(typed, {
        id: 'k',
        name: true,
        count_value: 9007199254740993n,
        rating: 2,
        data: '',
        created_at: null,
      }),
    ).toEqual(['k', 1, 9007199254740993n, 2n, Buffer.alloc(0), null]);
    // The local image's hex is not base64 (a `cafebabe` would silently decode as base64, §15 item 3).
    expect(
      sqlValuesFromLocalImage(files, { id: '6f1c2a9e3b4d4e5f8a7b1c2d3e4f5a6b', name: 'a', data: 'cafebabe' })[2],
    ).toEqual(Buffer.from('cafebabe', 'hex'));
  });
});
