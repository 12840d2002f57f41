import { describe, expect, it } from '@jest/globals';
import { JsonSyntaxError } from './json-reader.js';
import {
  compactGoJson,
  compactValidGoJson,
  compareUtf8,
  encodeGoJson,
  goJsonResponseBody,
  RawJson,
} from './go-json-encode.js';
import { DEFAULT_BUNDLE_LIMITS, PROTOCOL_VERSION } from './limits.js';
import {
  capabilityFeatures,
  type CapabilitiesResponse,
  type PushConflictErrorBody,
  type StatusResponse,
} from './wire-types.js';

// Expected bodies are the examples of spec/server.md §3 and §4.3, verbatim.
describe('encodeGoJson reproduces the spec examples', () => {
  it('capabilities (§3.12)', () => {
    const body: CapabilitiesResponse = {
      protocol_version: PROTOCOL_VERSION,
      schema_version: 1,
      app_name: 'my-sync-app',
      registered_tables: ['business.posts', 'business.users'],
      registered_table_specs: [
        { schema: 'business', table: 'posts', sync_key_columns: ['id'] },
        { schema: 'business', table: 'users', sync_key_columns: ['id'] },
      ],
      features: capabilityFeatures(true),
      bundle_limits: { ...DEFAULT_BUNDLE_LIMITS },
    };
    expect(encodeGoJson({ ...body })).toBe(
      '{"protocol_version":"v1","schema_version":1,"app_name":"my-sync-app",' +
        '"registered_tables":["business.posts","business.users"],"registered_table_specs":[{"schema":"business",' +
        '"table":"posts","sync_key_columns":["id"]},{"schema":"business","table":"users",' +
        '"sync_key_columns":["id"]}],"features":{"accepted_push_replay_visibility":true,' +
        '"bundle_change_watch":true,"bundle_pull":true,"bundle_push":true,"capabilities_endpoint":true,' +
        '"committed_bundle_row_fetch":true,"committed_bundle_visibility":true,"connect_lifecycle":true,' +
        '"graceful_shutdown":true,"history_pruned_errors":true,"history_pruned_visibility":true,' +
        '"push_session_chunking":true,"registered_write_rejection_enforced":true,' +
        '"retained_floor_visibility":true,"retained_window_visibility":true,"scope_initialization_leases":true,' +
        '"server_checkpoint_tracking":false,"snapshot_chunking":true,"status_endpoint":true,' +
        '"structured_sync_keys":true},"bundle_limits":{"max_bundles_per_pull":5000,' +
        '"default_rows_per_push_chunk":1000,"max_rows_per_push_chunk":5000,"push_session_ttl_seconds":900,' +
        '"default_rows_per_committed_bundle_chunk":1000,"max_rows_per_committed_bundle_chunk":5000,' +
        '"default_rows_per_snapshot_chunk":1000,"max_rows_per_snapshot_chunk":5000,' +
        '"snapshot_session_ttl_seconds":900,"initialization_lease_ttl_seconds":900}}',
    );
  });

  it('status (§3.13), with the trailing newline of a response body', () => {
    const body: StatusResponse = {
      status: 'healthy',
      version: 'v1',
      app_name: 'my-sync-app',
      lifecycle: 'running',
      accepting_operations: true,
      inflight_operations: 0,
      registered_tables: ['business.posts', 'business.users'],
      features: capabilityFeatures(true),
      user_state_retention_floor_ahead_count: 0n,
      latest_bundle_seq_max: 7n,
      retained_bundle_floor_min: 0n,
      retained_bundle_floor_max: 0n,
      retained_bundle_window_min: 7n,
      retained_bundle_window_max: 7n,
      history_pruned_error_count: 0n,
      accepted_push_replay_count: 0n,
      rejected_registered_write_count: 0n,
      committed_bundle_count: 7n,
      committed_bundle_bytes: 3480n,
    };
    expect(goJsonResponseBody({ ...body })).toBe(
      '{"status":"healthy","version":"v1","app_name":"my-sync-app","lifecycle":"running",' +
        '"accepting_operations":true,"inflight_operations":0,"registered_tables":["business.posts",' +
        '"business.users"],"features":{"accepted_push_replay_visibility":true,"bundle_change_watch":true,' +
        '"bundle_pull":true,"bundle_push":true,"capabilities_endpoint":true,"committed_bundle_row_fetch":true,' +
        '"committed_bundle_visibility":true,"connect_lifecycle":true,"graceful_shutdown":true,' +
        '"history_pruned_errors":true,"history_pruned_visibility":true,"push_session_chunking":true,' +
        '"registered_write_rejection_enforced":true,"retained_floor_visibility":true,' +
        '"retained_window_visibility":true,"scope_initialization_leases":true,"server_checkpoint_tracking":false,' +
        '"snapshot_chunking":true,"status_endpoint":true,"structured_sync_keys":true},' +
        '"user_state_retention_floor_ahead_count":0,"latest_bundle_seq_max":7,"retained_bundle_floor_min":0,' +
        '"retained_bundle_floor_max":0,"retained_bundle_window_min":7,"retained_bundle_window_max":7,' +
        '"history_pruned_error_count":0,"accepted_push_replay_count":0,"rejected_registered_write_count":0,' +
        '"committed_bundle_count":7,"committed_bundle_bytes":3480}\n',
    );
  });

  it('push conflict (§4.3) with a pass-through server_row', () => {
    const conflict = {
      error: 'push_conflict',
      message: 'update conflict on business.users 6f1c2a9e-3b4d-4e5f-8a7b-1c2d3e4f5a6b: expected version 9, got 7',
      conflict: {
        schema: 'business',
        table: 'users',
        key: { id: '6f1c2a9e-3b4d-4e5f-8a7b-1c2d3e4f5a6b' },
        op: 'UPDATE',
        base_row_version: 7,
        server_row_version: 9,
        server_row_deleted: false,
        server_row: new RawJson(
          '{"id": "6f1c2a9e-3b4d-4e5f-8a7b-1c2d3e4f5a6b", "age": 37, "name": "Ada King", "email": "ada@example.com"}',
        ),
      },
    } satisfies Omit<PushConflictErrorBody, 'conflict'> & { conflict: object };
    expect(encodeGoJson(conflict)).toBe(
      '{"error":"push_conflict","message":"update conflict on business.users ' +
        '6f1c2a9e-3b4d-4e5f-8a7b-1c2d3e4f5a6b: expected version 9, got 7","conflict":{"schema":"business",' +
        '"table":"users","key":{"id":"6f1c2a9e-3b4d-4e5f-8a7b-1c2d3e4f5a6b"},"op":"UPDATE","base_row_version":7,' +
        '"server_row_version":9,"server_row_deleted":false,' +
        '"server_row":{"id":"6f1c2a9e-3b4d-4e5f-8a7b-1c2d3e4f5a6b","age":37,"name":"Ada King",' +
        '"email":"ada@example.com"}}}',
    );
  });

  it('error messages keep Go HTML escaping (§3.0.4)', () => {
    expect(goJsonResponseBody({ error: 'snapshot_chunk_invalid', message: 'max_rows must be > 0' })).toBe(
      '{"error":"snapshot_chunk_invalid","message":"max_rows must be \\u003e 0"}\n',
    );
  });

  it('omits undefined members (omitempty), prints bigint as int64 and sorts Map keys by UTF-8', () => {
    expect(encodeGoJson({ push_id: undefined, status: 'already_committed', bundle_seq: 9223372036854775807n })).toBe(
      '{"status":"already_committed","bundle_seq":9223372036854775807}',
    );
    expect(
      encodeGoJson(
        new Map([
          ['😀', 1],
          ['ｱ', 2],
          ['10', 3],
          ['9', 4],
        ]),
      ),
    ).toBe('{"10":3,"9":4,"ｱ":2,"😀":1}');
  });
});

describe('compactGoJson (raw payloads in responses)', () => {
  it('drops whitespace, escapes HTML characters and keeps order and number spelling', () => {
    expect(
      compactGoJson(
        '{"id": "11111111-1111-4111-8111-111111111111", "name": "Alpha <a>", "email": "alpha@example.com", ' +
          '"score": 1.500}',
      ),
    ).toBe(
      '{"id":"11111111-1111-4111-8111-111111111111","name":"Alpha \\u003ca\\u003e",' +
        '"email":"alpha@example.com","score":1.500}',
    );
    expect(compactGoJson('[ "a\u2028&\\u0026 b" , 1E2 ,\n{ } ]')).toBe('["a\\u2028\\u0026\\u0026 b",1E2,{}]');
  });

  it('rejects invalid JSON', () => {
    expect(() => compactGoJson('{"a":}')).toThrow(JsonSyntaxError);
  });
});

describe('compareUtf8', () => {
  it('orders by code point, not UTF-16 unit', () => {
    expect(['😀', 'ｱ', 'é', 'B', 'a'].sort(compareUtf8)).toEqual(['B', 'a', 'é', 'ｱ', '😀']);
    expect(compareUtf8('ab', 'a')).toBeGreaterThan(0);
    expect(compareUtf8('business.posts', 'business.users')).toBeLessThan(0);
  });
});

describe('compactValidGoJson', () => {
  it('equals compactGoJson on valid JSON, e.g. PostgreSQL jsonb text', () => {
    for (const text of [
      '{"id": "a", "name": "x <y> & z", "n": 1.500, "l": [1, 2, {"k": "v\\u2028"}]}',
      '{}',
      '[ ]',
      '"a b"',
      '{"s": "q\\" <"}',
    ]) {
      expect(compactValidGoJson(text)).toBe(compactGoJson(text));
    }
  });

  it('equals compactGoJson on generated JSON with spaced separators and awkward strings', () => {
    let seed = 42;
    const next = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const pieces = [
      'a',
      ' ',
      '<',
      '>',
      '&',
      '\u2028',
      '\u2029',
      '\\"',
      '\\\\',
      ', ',
      ': ',
      'é',
      '😀',
      '\\n',
      '\\u003c',
      '\t',
      '{',
      ']',
    ];
    const str = () => `"${Array.from({ length: next(6) }, () => pieces[next(pieces.length)]).join('')}"`;
    const value = (depth: number): string => {
      const pad = () => [' ', '', '\n  ', '\t'][next(4)]!;
      switch (depth > 2 ? next(3) : next(5)) {
        case 0:
          return str();
        case 1:
          return [String(next(1000) - 500), '1.500', '-0.0e+10', 'true', 'null'][next(5)]!;
        case 2:
          return String(next(10));
        case 3:
          return `[${pad()}${Array.from({ length: next(4) }, () => value(depth + 1)).join(`,${pad()}`)}${pad()}]`;
        default:
          return (
            `{${pad()}` +
            Array.from({ length: next(4) }, () => `${str()}${pad()}:${pad()}${value(depth + 1)}`).join(`,${pad()}`) +
            `${pad()}}`
          );
      }
    };
    for (let i = 0; i < 2000; i++) {
      const text = value(0);
      expect(compactValidGoJson(text)).toBe(compactGoJson(text));
    }
  });
});
