import { describe, expect, it } from '@jest/globals';
import { canonicalWirePayload, captureWirePayload, WirePayloadError } from './wire-payload.js';

const bytea = new Set(['data']);

describe('captureWirePayload and canonicalWirePayload (§4.7.4)', () => {
  it('passes a null payload through', () => {
    expect(captureWirePayload('null', bytea)).toEqual({ wire: 'null', hashed: 'null' });
    expect(canonicalWirePayload('null', bytea)).toBe('null');
  });

  it('writes canonically, bytea null or already base64 kept', () => {
    const jsonb = '{"id": "11111111-1111-4111-8111-111111111111", "name": "Alpha <a>", "score": 1.500, "data": null}';
    const canonical =
      '{"data":null,"id":"11111111-1111-4111-8111-111111111111","name":"Alpha \\u003ca\\u003e","score":1.5}';
    expect(captureWirePayload(jsonb, bytea)).toEqual({ wire: canonical, hashed: canonical });
    expect(canonicalWirePayload('{"data": "AAEC/f7/", "x": 1.50}', bytea)).toBe('{"data":"AAEC/f7/","x":1.5}');
  });

  it('converts bytea hex to base64 (member names matched lower-cased)', () => {
    expect(canonicalWirePayload('{"id": "a", "data": "\\\\x000102fdfeff", "x": 1.50}', bytea)).toBe(
      '{"data":"AAEC/f7/","id":"a","x":1.5}',
    );
    expect(canonicalWirePayload('{"DATA": "\\\\X00"}', bytea)).toBe('{"DATA":"AA=="}');
    expect(canonicalWirePayload('{"other": "\\\\x00"}', bytea)).toBe('{"other":"\\\\x00"}');
  });

  it('drops one hidden scope member in any letter case', () => {
    expect(canonicalWirePayload('{"_SYNC_SCOPE_ID": "alice", "b": 1, "a": 2}', bytea)).toBe('{"a":2,"b":1}');
    expect(canonicalWirePayload('{"_sync_scope_id": "alice"}', new Set())).toBe('{}');
  });

  it('stores numbers a double cannot hold exactly and hashes their double form (§8.2)', () => {
    const payloadDb =
      '{"d": "2025-01-02", "id": "33333333-3333-4333-8333-333333333333", "doc": {"z": [1, 2], "a": {"k": ' +
      '"v"}}, "data": "\\\\x000102fdfeff", "flag": true, "note": null, "n_dbl": 0.1, "n_int": ' +
      '9007199254740993, "n_num": 1234.500, "_sync_scope_id": "alice"}';
    expect(captureWirePayload(payloadDb, bytea)).toEqual({
      wire:
        '{"d":"2025-01-02","data":"AAEC/f7/","doc":{"a":{"k":"v"},"z":[1,2]},"flag":true,' +
        '"id":"33333333-3333-4333-8333-333333333333","n_dbl":0.1,"n_int":9007199254740993,"n_num":1234.5,' +
        '"note":null}',
      hashed:
        '{"d":"2025-01-02","data":"AAEC/f7/","doc":{"a":{"k":"v"},"z":[1,2]},"flag":true,' +
        '"id":"33333333-3333-4333-8333-333333333333","n_dbl":0.1,"n_int":9007199254740992,"n_num":1234.5,' +
        '"note":null}',
    });
    expect(canonicalWirePayload('{"n": 9223372036854775807, "m": 123456789012345678901234.5}', bytea)).toBe(
      '{"m":123456789012345678901234.5,"n":9223372036854775807}',
    );
  });

  it('fails on non-objects and undecodable or non-string bytea values', () => {
    expect(() => canonicalWirePayload('[1]', bytea)).toThrow(WirePayloadError);
    expect(() => canonicalWirePayload('"x"', bytea)).toThrow(WirePayloadError);
    expect(() => captureWirePayload('{"data": 1}', bytea)).toThrow(WirePayloadError);
    expect(() => captureWirePayload('{"data": "\\\\xzz"}', bytea)).toThrow(WirePayloadError);
    expect(() => captureWirePayload('{"data": "\\\\x0"}', bytea)).toThrow(WirePayloadError);
    expect(() => captureWirePayload('{"data": "not base64"}', bytea)).toThrow(WirePayloadError);
  });
});
