import { describe, expect, it } from '@jest/globals';
import {
  ERROR_CODES,
  errorCodeForStatus,
  errorEnvelope,
  errorStatus,
  EXTENSION_ERROR_CODES,
  GENERIC_ERROR_MESSAGES,
  isKnownErrorCode,
} from './error-codes.js';
import { encodeGoJson } from './go-json-encode.js';
import { DEFAULT_BUNDLE_LIMITS, MAX_BUNDLES_PER_PULL } from './limits.js';
import { encodeBundleChangeNotification, encodeWatchEventFrame } from './watch-event.js';
import { capabilityFeatures, CAPABILITY_FEATURES, SYNC_ROUTES } from './wire-types.js';
import { compareUtf8 } from './go-json-encode.js';

describe('error codes (§6)', () => {
  it('maps every code of the spec table to its status', () => {
    expect(Object.keys(ERROR_CODES)).toHaveLength(44);
    expect(errorStatus('push_conflict')).toBe(409);
    expect(errorStatus('initialization_expired')).toBe(410);
    expect(errorStatus('bundle_change_watch_disabled')).toBe(503);
    expect(errorStatus('push_session_forbidden')).toBe(403);
    expect(errorStatus('committed_bundle_not_found')).toBe(404);
    expect(errorStatus('method_not_allowed')).toBe(405);
  });

  it('recognises codes without trusting the prototype', () => {
    expect(isKnownErrorCode('history_pruned')).toBe(true);
    expect(isKnownErrorCode('pull_invalid')).toBe(false);
    expect(isKnownErrorCode('toString')).toBe(false);
  });

  it('looks up the extension codes, and no code is in both tables', () => {
    expect(errorStatus('request_too_large')).toBe(413);
    expect(errorStatus('admin_source_retired')).toBe(409);
    expect(isKnownErrorCode('bundle_change_watch_capacity')).toBe(true);
    expect(isKnownErrorCode('hasOwnProperty')).toBe(false);
    expect(Object.keys(EXTENSION_ERROR_CODES).filter((code) => Object.hasOwn(ERROR_CODES, code))).toEqual([]);
  });

  it('names a failure known only by its status with a code of that status', () => {
    for (const status of [400, 401, 403, 404, 405, 408, 413, 429, 431, 500])
      expect(errorStatus(errorCodeForStatus(status))).toBe(status);
    expect(errorCodeForStatus(418)).toBe('invalid_request');
    expect(errorCodeForStatus(502)).toBe('internal_error');
  });

  it('writes the envelope with error and message first, then the extra members in order', () => {
    expect(encodeGoJson(errorEnvelope('source_retired', 'gone', { source_id: 'a', replaced_by_source_id: 'b' }))).toBe(
      '{"error":"source_retired","message":"gone","source_id":"a","replaced_by_source_id":"b"}',
    );
  });

  it('keeps the generic messages inside the table', () => {
    for (const code of Object.keys(GENERIC_ERROR_MESSAGES)) expect(isKnownErrorCode(code)).toBe(true);
  });
});

describe('limits and capabilities (§3.12, §7)', () => {
  it('advertises the default bundle limits without zero members', () => {
    expect(DEFAULT_BUNDLE_LIMITS.max_bundles_per_pull).toBe(MAX_BUNDLES_PER_PULL);
    expect(Object.values(DEFAULT_BUNDLE_LIMITS).every((value) => value !== undefined && value > 0)).toBe(true);
  });

  it('lists the features sorted, all true but server_checkpoint_tracking and the watch flag', () => {
    expect([...CAPABILITY_FEATURES].sort(compareUtf8)).toEqual([...CAPABILITY_FEATURES]);
    const features = capabilityFeatures(false);
    expect(
      Object.entries(features)
        .filter(([, on]) => !on)
        .map(([name]) => name),
    ).toEqual(['bundle_change_watch', 'server_checkpoint_tracking']);
  });

  it('builds route paths', () => {
    expect(SYNC_ROUTES.committedBundleRows(7n)).toBe('/sync/committed-bundles/7/rows');
    expect(SYNC_ROUTES.pushSessionCommit('3a0df608-4dc2-44bb-b5fd-7f569180cbde')).toBe(
      '/sync/push-sessions/3a0df608-4dc2-44bb-b5fd-7f569180cbde/commit',
    );
  });
});

describe('watch frames (§3.8, §4.14)', () => {
  it('writes SSE events like the spec example, then the id line', () => {
    expect(encodeWatchEventFrame({ bundle_seq: 7n })).toBe('event: bundle\ndata: {"bundle_seq":7}\nid: 7\n\n');
    expect(encodeWatchEventFrame({ bundle_seq: 8n, source_id: 'device-b', source_bundle_id: 3n })).toBe(
      'event: bundle\ndata: {"bundle_seq":8,"source_id":"device-b","source_bundle_id":3}\nid: 8\n\n',
    );
    expect(encodeWatchEventFrame({ bundle_seq: 9n, source_id: '', source_bundle_id: 0n })).toBe(
      'event: bundle\ndata: {"bundle_seq":9}\nid: 9\n\n',
    );
  });

  it('writes the NOTIFY payload in member order', () => {
    expect(
      encodeBundleChangeNotification({ user_pk: 1n, bundle_seq: 8n, source_id: 'd<1>', source_bundle_id: 3n }),
    ).toBe('{"user_pk":1,"bundle_seq":8,"source_id":"d\\u003c1\\u003e","source_bundle_id":3}');
  });
});
