import { describe, expect, it } from '@jest/globals';
import { bindMember, bindScalar, readBool, readInt64 } from './json-binding.js';
import { ExactObject, JsonNumber, JsonSyntaxError, MAX_REQUEST_JSON_DEPTH, parseExactJson } from './json-reader.js';
import { parseJsonText, parseLosslessJson, toLosslessValue } from './json-views.js';
import { canonicalDoubleJson, canonicalExactJson } from './canonical-exact-json.js';
import { canonicalJson } from './canonical-json.js';
import type { JsonValue } from './wire-types.js';

const asDouble = (value: unknown): JsonValue => value as JsonValue;

const object = (text: string): ExactObject => {
  const value = parseExactJson(text);
  if (!(value instanceof ExactObject)) throw new Error('not an object');
  return value;
};

describe('parseExactJson (the one reader)', () => {
  it('keeps number literals as written and every member in document order, duplicates included', () => {
    const value = object('{"b":1.50,"a":9007199254740993,"b":-0e0}');
    expect(value.names).toEqual(['b', 'a', 'b']);
    expect(value.values).toEqual([new JsonNumber('1.50'), new JsonNumber('9007199254740993'), new JsonNumber('-0e0')]);
    expect(value.members).toEqual([
      ['b', new JsonNumber('1.50')],
      ['a', new JsonNumber('9007199254740993')],
      ['b', new JsonNumber('-0e0')],
    ]);
  });

  it('a 20,000-deep array is a clean JsonSyntaxError at any limit, never a stack overflow', () => {
    const deep = `${'['.repeat(20_000)}${']'.repeat(20_000)}`;
    expect(() => parseExactJson(deep)).toThrow(JsonSyntaxError);
    expect(() => parseExactJson(deep)).toThrow(/exceeded max depth/);
    expect(() => parseExactJson(`{"a":${deep}}`, MAX_REQUEST_JSON_DEPTH)).toThrow(/exceeded max depth/);
    expect(() => parseExactJson(`${'['.repeat(10_000)}${']'.repeat(10_000)}`)).not.toThrow();
    expect(() => parseExactJson(`${'['.repeat(513)}${']'.repeat(513)}`, MAX_REQUEST_JSON_DEPTH)).toThrow(
      /exceeded max depth/,
    );
    // the views and the canonical writers are iterative too
    const deepObject = `${'{"a":'.repeat(9_999)}1${'}'.repeat(9_999)}`;
    expect(canonicalDoubleJson(parseExactJson(deepObject))).toBe(deepObject);
    expect(canonicalJson(parseJsonText(deepObject))).toBe(deepObject);
    expect(canonicalJson(asDouble(parseLosslessJson(deepObject)))).toBe(deepObject);
  });

  it('refuses what Go refuses: trailing data, bad literals, bad numbers, raw control characters, bad escapes', () => {
    for (const text of [
      '{"a":1} x',
      '[1,]',
      '{"a":1,}',
      'tru',
      '01',
      '1.',
      '-',
      '1e',
      '"a\u0001"',
      '"\\x"',
      '"\\u12g4"',
      '',
      ' ',
      '{"a" 1}',
      '[1 2]',
      '"abc',
    ]) {
      expect(() => parseExactJson(text)).toThrow(JsonSyntaxError);
    }
    expect(() => parseExactJson('{"a":}')).toThrow(/at offset 5$/);
  });

  it('decodes lone surrogates and invalid UTF-8 as Go does (U+FFFD each)', () => {
    expect(parseExactJson('"\\ud800\\u0041"')).toBe('\ufffdA');
    expect(parseExactJson('"\\ud83d\\ude00"')).toBe('😀');
    expect(parseExactJson('"\ud83d x"')).toBe('\ufffd x');
    expect(parseExactJson(Buffer.from([0x22, 0x61, 0xed, 0xa0, 0x80, 0x62, 0x22]))).toBe('a\ufffd\ufffd\ufffdb');
    expect(object('{"\\u0061":1}').names).toEqual(['a']);
  });
});

describe('parseExactJson with a member stream', () => {
  it('hands over the elements of every top-level array member that binds, leaving it empty in the tree', () => {
    const seen: string[] = [];
    const stream = {
      binds: (name: string) => name.toLowerCase() === 'rows',
      start: () => seen.push('start'),
      element: (value: unknown) => seen.push(canonicalExactJson(value as Parameters<typeof canonicalExactJson>[0])),
    };
    const tree = parseExactJson(
      '{"rows":[1,{"a":[2]}],"x":{"rows":[3]},"other":[4],"ROWS":[],"Rows":[[5]]}',
      10,
      stream,
    );
    expect(seen).toEqual(['start', '1', '{"a":[2]}', 'start', 'start', '[5]']);
    expect(canonicalExactJson(tree)).toBe('{"ROWS":[],"Rows":[],"other":[4],"rows":[],"x":{"rows":[3]}}');
    seen.length = 0;
    expect(() => parseExactJson('{"rows":[1,2]', 10, stream)).toThrow(JsonSyntaxError);
    expect(seen).toEqual(['start', '1', '2']);
    expect(() => parseExactJson('[{"rows":[1]}]', 10, stream)).not.toThrow();
    expect(seen).toEqual(['start', '1', '2']);
  });
});

describe('Go member binding over the tree', () => {
  it('the LAST case-folded match wins, as encoding/json', () => {
    const body = object('{"has_local_pending_rows":true,"HAS_LOCAL_PENDING_ROWS":false}');
    expect(bindScalar(body, 'has_local_pending_rows', readBool)).toBe(false);
    expect(bindScalar(object('{"A":true,"a":null}'), 'a', readBool)).toBe(true);
    expect(bindScalar(object('{"a":true,"A":"x"}'), 'a', readBool)).toBeUndefined();
    expect(bindMember(object('{"rows":[1],"ROWS":null}'), 'rows')).toBeNull();
    expect(bindScalar(object('{"\u212aey":1}'), 'key', readInt64)).toBe(1n);
  });

  it('int64 fields take integer literals in range only', () => {
    expect(bindScalar(object('{"n":9223372036854775807}'), 'n', readInt64)).toBe(9223372036854775807n);
    for (const literal of ['1.0', '1e2', '9223372036854775808', '"1"', 'true'])
      expect(bindScalar(object(`{"n":${literal}}`), 'n', readInt64)).toBeUndefined();
  });
});

describe('views', () => {
  it('Go doubles for hashing, lossless bigint for rows, __proto__ an ordinary member', () => {
    expect(parseJsonText('{"n":9007199254740993}')).toEqual({ n: 9007199254740992 });
    expect(parseLosslessJson('{"n":9007199254740993,"f":1.5,"z":-0}')).toEqual({ n: 9007199254740993n, f: 1.5, z: -0 });
    const proto = toLosslessValue(parseExactJson('{"__proto__":{"x":1}}')) as Record<string, unknown>;
    expect(Object.keys(proto)).toEqual(['__proto__']);
    expect(Object.keys(parseJsonText('{"__proto__":1}') as object)).toEqual(['__proto__']);
    expect(() => parseJsonText('[1e400]')).toThrow(JsonSyntaxError);
    expect(canonicalExactJson(parseExactJson('{"b":9007199254740993,"a":1.50}'))).toBe(
      '{"a":1.5,"b":9007199254740993}',
    );
    expect(() => canonicalDoubleJson(parseExactJson('{"a":1e400,"a":1}'))).toThrow(RangeError);
  });
});
