import { describe, expect, it } from '@jest/globals';
import { canonicalizeJsonText } from './canonical-json.js';
import { wirePayload, WirePayloadError } from './wire-payload.js';

const bytea = new Set(['data']);

describe('wirePayload (§4.7.4)', () => {
  it('returns empty and null payloads as they are', () => {
    expect(wirePayload('', bytea)).toBe('');
    expect(wirePayload('null', bytea)).toBe('null');
  });

  it('keeps pass-through text byte for byte when nothing changes', () => {
    const jsonb = '{"id": "11111111-1111-4111-8111-111111111111", "name": "Alpha <a>", "email": "alpha@example.com", "score": 1.500}';
    expect(wirePayload(jsonb, bytea)).toBe(jsonb);
    expect(wirePayload('{"data": "AAEC/f7/", "x": 1.50}', bytea)).toBe('{"data": "AAEC/f7/", "x": 1.50}');
    expect(wirePayload('{"data": null}', bytea)).toBe('{"data": null}');
  });

  it('converts bytea hex to base64 and then re-encodes canonically', () => {
    expect(wirePayload('{"id": "a", "data": "\\\\x000102fdfeff", "x": 1.50}', bytea)).toBe('{"data":"AAEC/f7/","id":"a","x":1.5}');
    expect(wirePayload('{"DATA": "\\\\X00"}', bytea)).toBe('{"DATA":"AA=="}');
  });

  it('drops one hidden scope member in any letter case', () => {
    expect(wirePayload('{"_SYNC_SCOPE_ID": "alice", "b": 1, "a": 2}', bytea)).toBe('{"a":2,"b":1}');
    expect(wirePayload('{"_sync_scope_id": "alice"}', new Set())).toBe('{}');
  });

  it('is the capture path when fed canonical text (the spec end-to-end observation)', () => {
    const payloadDb =
      '{"d": "2025-01-02", "id": "33333333-3333-4333-8333-333333333333", "doc": {"z": [1, 2], "a": {"k": "v"}}, "ts": "2025-01-02T03:04:05.123456+00:00", "data": "\\\\x000102fdfeff", "flag": true, "note": null, "tags": ["x", "y"], "n_dbl": 0.1, "n_int": 9007199254740992, "n_num": 1234.500, "ts_plain": "2025-01-02T03:04:05"}';
    expect(wirePayload(canonicalizeJsonText(payloadDb), bytea)).toBe(
      '{"d":"2025-01-02","data":"AAEC/f7/","doc":{"a":{"k":"v"},"z":[1,2]},"flag":true,"id":"33333333-3333-4333-8333-333333333333","n_dbl":0.1,"n_int":9007199254740992,"n_num":1234.5,"note":null,"tags":["x","y"],"ts":"2025-01-02T03:04:05.123456+00:00","ts_plain":"2025-01-02T03:04:05"}',
    );
  });

  it('fails on non-objects and undecodable or non-string bytea values', () => {
    expect(() => wirePayload('[1]', bytea)).toThrow(WirePayloadError);
    expect(() => wirePayload('{"data": 1}', bytea)).toThrow(WirePayloadError);
    expect(() => wirePayload('{"data": "\\\\xzz"}', bytea)).toThrow(WirePayloadError);
    expect(() => wirePayload('{"data": "not base64"}', bytea)).toThrow(WirePayloadError);
  });
});
