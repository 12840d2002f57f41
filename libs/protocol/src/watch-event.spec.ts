import { describe, expect, it } from '@jest/globals';
import { decodeBundleChangeNotification, encodeBundleChangeNotification } from './watch-event.js';
import type { BundleChangeNotification } from './wire-types.js';

describe('NOTIFY payload (§4.14)', () => {
  it('round-trips the encoder, source members omitted when empty', () => {
    const cases: BundleChangeNotification[] = [
      { user_pk: 7n, bundle_seq: 9007199254740993n, source_id: 'd<&>', source_bundle_id: 3n },
      { user_pk: 1n, bundle_seq: 2n },
      { user_pk: 9223372036854775807n, bundle_seq: 1n, source_id: 'é\u2028x' },
    ];
    for (const notification of cases) {
      const payload = encodeBundleChangeNotification(notification);
      expect(decodeBundleChangeNotification(payload)).toEqual(notification);
      expect(encodeBundleChangeNotification(decodeBundleChangeNotification(payload)!)).toBe(payload);
    }
    expect(decodeBundleChangeNotification('{"user_pk":7,"bundle_seq":2,"source_id":"","source_bundle_id":0}')).toEqual({
      user_pk: 7n,
      bundle_seq: 2n,
      source_id: undefined,
      source_bundle_id: undefined,
    });
  });

  it('rejects malformed payloads', () => {
    for (const bad of [
      '',
      'x',
      '[]',
      'null',
      '{"user_pk":0,"bundle_seq":1}',
      '{"user_pk":1,"bundle_seq":-1}',
      '{"user_pk":1}',
      '{"user_pk":"1","bundle_seq":1}',
      '{"user_pk":1,"bundle_seq":1.5}',
      '{"user_pk":1,"bundle_seq":9223372036854775808}',
      '{"user_pk":1,"bundle_seq":1,"source_id":3}',
      '{"user_pk":1,"bundle_seq":1,"source_bundle_id":"3"}',
      '{"user_pk":1,"bundle_seq":1} x',
    ]) {
      expect(decodeBundleChangeNotification(bad)).toBeUndefined();
    }
  });
});
