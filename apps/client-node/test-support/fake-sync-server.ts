/**
 * An in-memory stand-in for the sync server (server.md §3–§4, single process, no PostgreSQL)
 * used by the client's unit specs, like the reference's fake HTTP server. It keeps per-user scopes,
 * row state, bundles and sessions, detects conflicts per §4.3, and can inject failures and tamper
 * with responses. Real-server behaviour is covered by test/client/*.e2e-spec.ts.
 */
import { randomUUID } from 'node:crypto';
import { bundleHashOf } from '../src/bundle-hash.js';
import type { FetchLike } from '../src/sync-transport.js';
import { emptyJsonObject, isJsonObject, type JsonObject, type JsonValue, parseJson, stringifyJson } from '../src/json-value.js';

type Op = 'INSERT' | 'UPDATE' | 'DELETE';

interface WireRow {
  schema: string;
  table: string;
  key: JsonObject;
  op: Op;
  row_version?: number;
  base_row_version?: number;
  payload?: JsonValue;
}

interface Bundle {
  bundleSeq: number;
  sourceId: string;
  sourceBundleId: number;
  rows: WireRow[];
  hash: string;
}

interface Scope {
  state: 'uninitialized' | 'initializing' | 'initialized';
  initializationId: string;
  initializerSource: string;
  nextBundleSeq: number;
  floor: number;
  bundles: Map<number, Bundle>;
  rowState: Map<string, { bundleSeq: number; deleted: boolean }>;
  rows: Map<string, { table: string; key: JsonObject; payload: JsonObject }>;
  sources: Map<string, { max: number; retired: boolean; replacedBy: string }>;
}

interface PushSession {
  user: string;
  sourceId: string;
  sourceBundleId: number;
  planned: number;
  rows: WireRow[];
}

interface Fault {
  readonly method: string;
  readonly pathPattern: RegExp;
  readonly status: number;
  readonly body: string;
  /** Process the request, then answer the failure instead (a lost response). */
  readonly afterProcessing: boolean;
  times: number;
}

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: Record<string, string>;
  readonly body: string | undefined;
}

export class FakeSyncServer {
  readonly baseUrl = 'http://fake-oversync.test';
  readonly schema: string;
  readonly requests: RecordedRequest[] = [];
  /** Rewrites a 200 response body before the client sees it. */
  tamper: ((path: string, body: string) => string) | null = null;
  watchEnabled = false;

  private readonly scopes = new Map<string, Scope>();
  private readonly pushSessions = new Map<string, PushSession>();
  private readonly snapshots = new Map<string, { user: string; seq: number; rows: JsonObject[] }>();
  private readonly faults: Fault[] = [];
  private readonly watchers = new Map<string, Set<ReadableStreamDefaultController<Uint8Array>>>();

  constructor(
    schema: string,
    /** Registered tables: name → key column. */
    private readonly tables: Record<string, string>,
  ) {
    this.schema = schema;
  }

  token(user: string): string {
    return `user:${user}`;
  }

  /** The next `times` matching requests answer `status` with `body`. */
  failNext(method: string, pathPattern: RegExp, status: number, body: JsonObject | string = { error: 'injected_failure', message: 'injected failure' }, times = 1): void {
    this.faults.push({ method, pathPattern, status, body: typeof body === 'string' ? body : stringifyJson(body), times, afterProcessing: false });
  }

  /** The next matching request is processed but its answer is lost (the client sees `status`). */
  loseResponse(method: string, pathPattern: RegExp, status = 503): void {
    this.faults.push({ method, pathPattern, status, body: '{"error":"service_unavailable","message":"lost"}', times: 1, afterProcessing: true });
  }

  readonly fetch: FetchLike = async (input, init) => {
    const url = new URL(input);
    const headers = Object.fromEntries(Object.entries((init.headers ?? {}) as Record<string, string>));
    const body = typeof init.body === 'string' ? init.body : undefined;
    const method = init.method ?? 'GET';
    this.requests.push({ method, path: url.pathname, query: url.searchParams, headers, body });
    const fault = this.faults.find((f) => f.method === method && f.pathPattern.test(url.pathname) && f.times > 0);
    if (fault) fault.times--;
    if (fault && !fault.afterProcessing) return new Response(fault.body, { status: fault.status });
    const user = (headers.Authorization ?? '').replace(/^Bearer user:/, '');
    const source = headers['Oversync-Source-ID'] ?? '';
    if (method === 'GET' && url.pathname === '/sync/watch' && user && this.watchEnabled) return this.watch(user, Number(url.searchParams.get('after_bundle_seq') ?? 0), init.signal);
    const [status, out] = this.route(method, url, user, source, body);
    if (fault) return new Response(fault.body, { status: fault.status });
    const text = typeof out === 'string' ? out : stringifyJson(out);
    return new Response(status === 204 ? null : status === 200 && this.tamper ? this.tamper(url.pathname, text) : text, { status });
  };

  /** An SSE stream of `bundle` events for `user`: a catch-up event, then one per commit. */
  private watch(user: string, after: number, signal: AbortSignal | null | undefined): Response {
    const encoder = new TextEncoder();
    const set = this.watchers.get(user) ?? new Set();
    this.watchers.set(user, set);
    let own: ReadableStreamDefaultController<Uint8Array>;
    const stream = new ReadableStream<Uint8Array>({
      start: (controller) => {
        own = controller;
        set.add(controller);
        const latest = this.scope(user).nextBundleSeq - 1;
        controller.enqueue(encoder.encode(latest > after ? `event: bundle\ndata: {"bundle_seq":${latest}}\n\n` : ': heartbeat\n\n'));
      },
      cancel: () => {
        set.delete(own);
      },
    });
    signal?.addEventListener('abort', () => {
      set.delete(own);
      try {
        own.error(new Error('aborted'));
      } catch {
        // already closed
      }
    });
    return new Response(stream, { status: 200, headers: { 'Content-Type': 'text/event-stream' } });
  }

  watchSubscribers(user: string): number {
    return this.watchers.get(user)?.size ?? 0;
  }

  // ---- inspection helpers for specs -----------------------------------------------------------------

  serverRows(user: string, table: string): JsonObject[] {
    const scope = this.scope(user);
    return [...scope.rows.values()].filter((r) => r.table === table).map((r) => r.payload);
  }

  latestBundleSeq(user: string): number {
    return this.scope(user).nextBundleSeq - 1;
  }

  setRetentionFloor(user: string, floor: number): void {
    this.scope(user).floor = floor;
  }

  retireSource(user: string, sourceId: string, replacedBy = ''): void {
    const scope = this.scope(user);
    scope.sources.set(sourceId, { max: scope.sources.get(sourceId)?.max ?? 0, retired: true, replacedBy });
  }

  /** A write made by another device of `user` (a committed bundle from source `peer`). */
  commitFromPeer(user: string, rows: WireRow[], peer = 'peer-device'): number {
    const scope = this.scope(user);
    if (scope.state !== 'initialized') scope.state = 'initialized';
    const max = scope.sources.get(peer)?.max ?? 0;
    return this.commitRows(scope, peer, max + 1, rows);
  }

  // ---- routing ------------------------------------------------------------------------------------------

  private scope(user: string): Scope {
    let scope = this.scopes.get(user);
    if (!scope) {
      scope = {
        state: 'uninitialized',
        initializationId: '',
        initializerSource: '',
        nextBundleSeq: 1,
        floor: 0,
        bundles: new Map(),
        rowState: new Map(),
        rows: new Map(),
        sources: new Map(),
      };
      this.scopes.set(user, scope);
    }
    return scope;
  }

  private route(method: string, url: URL, user: string, source: string, body: string | undefined): [number, JsonObject | string] {
    const path = url.pathname;
    const q = url.searchParams;
    if (method === 'POST' && path === '/dummy-signin') {
      const signin = parseJson(body ?? '{}') as JsonObject;
      return typeof signin.user === 'string' && signin.user ? [200, { expires_in: 300, token: this.token(signin.user), user: signin.user }] : [400, { error: 'invalid_request', message: 'user required' }];
    }
    if (!user) return [401, 'Authorization header required\n'];
    if (method === 'GET' && path === '/sync/capabilities') {
      return [200, { protocol_version: 'v1', schema_version: 1, features: { connect_lifecycle: true, bundle_change_watch: this.watchEnabled } }];
    }
    if (!source) return [400, { error: 'invalid_request', message: 'Oversync-Source-ID header is required' }];
    const scope = this.scope(user);
    let m: RegExpMatchArray | null;
    if (method === 'POST' && path === '/sync/connect') return this.connect(scope, source, parseJson(body ?? '{}') as JsonObject);
    if (method === 'POST' && path === '/sync/push-sessions') return this.createPush(user, scope, source, parseJson(body ?? '{}') as JsonObject);
    if (method === 'POST' && (m = path.match(/^\/sync\/push-sessions\/([^/]+)\/chunks$/))) return this.chunk(m[1]!, parseJson(body ?? '{}') as JsonObject);
    if (method === 'POST' && (m = path.match(/^\/sync\/push-sessions\/([^/]+)\/commit$/))) return this.commit(scope, m[1]!);
    if (method === 'DELETE' && (m = path.match(/^\/sync\/push-sessions\/([^/]+)$/))) {
      return this.pushSessions.delete(m[1]!) ? [204, ''] : [404, { error: 'push_session_not_found', message: 'not found' }];
    }
    if (method === 'GET' && (m = path.match(/^\/sync\/committed-bundles\/(\d+)\/rows$/))) return this.committedRows(scope, Number(m[1]), q);
    if (method === 'GET' && path === '/sync/pull') return this.pull(scope, q);
    if (method === 'POST' && path === '/sync/snapshot-sessions') return this.createSnapshot(user, scope, source, body);
    if (method === 'GET' && (m = path.match(/^\/sync\/snapshot-sessions\/([^/]+)$/))) return this.snapshotChunk(m[1]!, q);
    if (method === 'DELETE' && (m = path.match(/^\/sync\/snapshot-sessions\/([^/]+)$/))) {
      return this.snapshots.delete(m[1]!) ? [204, ''] : [404, { error: 'snapshot_session_not_found', message: 'not found' }];
    }
    return [404, '404 page not found\n'];
  }

  private connect(scope: Scope, source: string, body: JsonObject): [number, JsonObject] {
    const pending = body.has_local_pending_rows === true;
    if (scope.state === 'initialized') return [200, { resolution: 'remote_authoritative' }];
    if (scope.state === 'initializing' && scope.initializerSource !== source) {
      return [200, { resolution: 'retry_later', lease_expires_at: new Date(Date.now() + 60_000).toISOString(), retry_after_seconds: 60 }];
    }
    if (!pending) {
      scope.state = 'initialized';
      return [200, { resolution: 'initialize_empty' }];
    }
    scope.state = 'initializing';
    scope.initializerSource = source;
    scope.initializationId ||= randomUUID();
    return [200, { resolution: 'initialize_local', initialization_id: scope.initializationId, lease_expires_at: new Date(Date.now() + 900_000).toISOString() }];
  }

  private createPush(user: string, scope: Scope, source: string, body: JsonObject): [number, JsonObject] {
    const sourceBundleId = Number(body.source_bundle_id);
    const initId = typeof body.initialization_id === 'string' ? body.initialization_id : '';
    if (scope.state === 'uninitialized') {
      return initId ? [410, { error: 'initialization_expired', message: 'initialization lease is no longer active' }] : [409, { error: 'scope_uninitialized', message: 'not initialized' }];
    }
    if (scope.state === 'initializing' && initId !== scope.initializationId) {
      return [409, { error: 'initialization_stale', message: 'initialization_id does not match the active initialization lease' }];
    }
    if (scope.state === 'initialized' && initId) return [400, { error: 'push_session_invalid', message: 'initialization_id must be absent once the scope is initialized' }];
    for (const bundle of scope.bundles.values()) {
      if (bundle.sourceId === source && bundle.sourceBundleId === sourceBundleId && bundle.bundleSeq > scope.floor) {
        return [
          200,
          { status: 'already_committed', bundle_seq: bundle.bundleSeq, source_id: source, source_bundle_id: sourceBundleId, row_count: bundle.rows.length, bundle_hash: bundle.hash },
        ];
      }
    }
    const state = scope.sources.get(source);
    if (state?.retired) return [409, { error: 'source_retired', message: `source ${source} was retired`, source_id: source, replaced_by_source_id: state.replacedBy }];
    const expected = (state?.max ?? 0) + 1;
    if (sourceBundleId < expected) return [409, { error: 'history_pruned', message: `source tuple (${source}, ${sourceBundleId}) is older than retained duplicate history` }];
    if (sourceBundleId > expected) {
      return [409, { error: 'source_sequence_out_of_order', message: `source ${source} for user ${user} expected next source_bundle_id ${expected}, got ${sourceBundleId}` }];
    }
    const pushId = randomUUID();
    this.pushSessions.set(pushId, { user, sourceId: source, sourceBundleId, planned: Number(body.planned_row_count), rows: [] });
    return [200, { push_id: pushId, status: 'staging', planned_row_count: Number(body.planned_row_count) }];
  }

  private chunk(pushId: string, body: JsonObject): [number, JsonObject] {
    const session = this.pushSessions.get(pushId);
    if (!session) return [404, { error: 'push_session_not_found', message: `push session ${pushId} was not found` }];
    if (Number(body.start_row_ordinal) !== session.rows.length) {
      return [409, { error: 'push_chunk_out_of_order', message: `expected start_row_ordinal ${session.rows.length}` }];
    }
    for (const row of body.rows as JsonObject[]) {
      if (!(row.table as string) || !(row.table as string in this.tables)) return [400, { error: 'push_chunk_invalid', message: `table ${String(row.table)} is not registered` }];
      if (row.op === 'DELETE' && 'payload' in row) return [400, { error: 'push_chunk_invalid', message: 'DELETE payload must be absent' }];
      session.rows.push(row as unknown as WireRow);
    }
    return [200, { push_id: pushId, next_expected_row_ordinal: session.rows.length }];
  }

  private commit(scope: Scope, pushId: string): [number, JsonObject] {
    const session = this.pushSessions.get(pushId);
    if (!session) return [404, { error: 'push_session_not_found', message: `push session ${pushId} was not found` }];
    if (session.rows.length !== session.planned) return [400, { error: 'push_commit_invalid', message: 'staged row count does not match planned_row_count' }];
    const expected = (scope.sources.get(session.sourceId)?.max ?? 0) + 1;
    if (expected !== session.sourceBundleId) return [409, { error: 'source_sequence_changed', message: 'source sequence changed' }];
    for (const row of session.rows) {
      const id = this.rowId(row.table, row.key);
      const state = scope.rowState.get(id);
      const base = Number(row.base_row_version ?? 0);
      const conflict =
        row.op === 'INSERT'
          ? state === undefined
            ? base !== 0
            : base !== state.bundleSeq || !state.deleted
          : state === undefined || state.deleted || base !== state.bundleSeq;
      if (conflict) {
        const live = state && !state.deleted ? scope.rows.get(id)?.payload ?? null : null;
        return [
          409,
          {
            error: 'push_conflict',
            message: `${row.op.toLowerCase()} conflict on ${row.schema}.${row.table}`,
            conflict: {
              schema: row.schema,
              table: row.table,
              key: row.key,
              op: row.op,
              base_row_version: base,
              server_row_version: state?.bundleSeq ?? 0,
              server_row_deleted: state?.deleted ?? false,
              server_row: live,
            },
          },
        ];
      }
    }
    const bundleSeq = this.commitRows(scope, session.sourceId, session.sourceBundleId, session.rows);
    if (scope.state === 'initializing') {
      scope.state = 'initialized';
      scope.initializationId = '';
    }
    this.pushSessions.delete(pushId);
    const bundle = scope.bundles.get(bundleSeq)!;
    return [200, { bundle_seq: bundleSeq, source_id: bundle.sourceId, source_bundle_id: bundle.sourceBundleId, row_count: bundle.rows.length, bundle_hash: bundle.hash }];
  }

  private rowId(table: string, key: JsonObject): string {
    return `${table}\u0000${String(key[this.tables[table]!])}`;
  }

  private commitRows(scope: Scope, sourceId: string, sourceBundleId: number, rows: WireRow[]): number {
    const bundleSeq = scope.nextBundleSeq++;
    const captured: WireRow[] = rows.map((row) => {
      const id = this.rowId(row.table, row.key);
      if (row.op === 'DELETE') scope.rows.delete(id);
      else scope.rows.set(id, { table: row.table, key: row.key, payload: row.payload as JsonObject });
      scope.rowState.set(id, { bundleSeq, deleted: row.op === 'DELETE' });
      const out: WireRow = { schema: row.schema, table: row.table, key: row.key, op: row.op, row_version: bundleSeq };
      if (row.op !== 'DELETE') out.payload = row.payload;
      return out;
    });
    const hash = bundleHashOf(captured.map((r) => ({ schema: r.schema, table: r.table, key: r.key as Record<string, string>, op: r.op, rowVersion: bundleSeq, payload: r.payload })));
    scope.bundles.set(bundleSeq, { bundleSeq, sourceId, sourceBundleId, rows: captured, hash });
    const source = scope.sources.get(sourceId);
    scope.sources.set(sourceId, { max: sourceBundleId, retired: source?.retired ?? false, replacedBy: source?.replacedBy ?? '' });
    const frame = new TextEncoder().encode(`event: bundle\ndata: {"bundle_seq":${bundleSeq},"source_id":"${sourceId}","source_bundle_id":${sourceBundleId}}\n\n`);
    for (const [user, watchers] of this.watchers) if (this.scopes.get(user) === scope) for (const w of watchers) w.enqueue(frame);
    return bundleSeq;
  }

  private committedRows(scope: Scope, bundleSeq: number, q: URLSearchParams): [number, JsonObject] {
    if (bundleSeq <= scope.floor) return [409, { error: 'history_pruned', message: `requested checkpoint ${bundleSeq} is older than retained history floor ${scope.floor}` }];
    const bundle = scope.bundles.get(bundleSeq);
    if (!bundle) return [404, { error: 'committed_bundle_not_found', message: `committed bundle ${bundleSeq} was not found` }];
    const after = q.has('after_row_ordinal') ? Number(q.get('after_row_ordinal')) : -1;
    const max = Number(q.get('max_rows') ?? 1000);
    const rows = bundle.rows.slice(after + 1, after + 1 + max);
    return [
      200,
      {
        bundle_seq: bundle.bundleSeq,
        source_id: bundle.sourceId,
        source_bundle_id: bundle.sourceBundleId,
        row_count: bundle.rows.length,
        bundle_hash: bundle.hash,
        rows: rows as unknown as JsonValue[],
        next_row_ordinal: rows.length ? after + rows.length : Math.max(after, 0),
        has_more: after + 1 + max < bundle.rows.length,
      },
    ];
  }

  private pull(scope: Scope, q: URLSearchParams): [number, JsonObject] {
    if (scope.state !== 'initialized') return [409, { error: 'scope_uninitialized', message: 'not initialized' }];
    const after = Number(q.get('after_bundle_seq') ?? 0);
    const max = Number(q.get('max_bundles') ?? 1000);
    const target = Number(q.get('target_bundle_seq') ?? 0);
    if ((after > 0 && after <= scope.floor) || (target > 0 && target <= scope.floor)) {
      return [409, { error: 'history_pruned', message: `requested checkpoint ${after} is older than retained history floor ${scope.floor}` }];
    }
    const stable = target > 0 ? target : scope.nextBundleSeq - 1;
    const seqs = [...scope.bundles.keys()].filter((s) => s > after && s > scope.floor && s <= stable).sort((a, b) => a - b);
    const page = seqs.slice(0, max).map((s) => {
      const b = scope.bundles.get(s)!;
      return { bundle_seq: b.bundleSeq, source_id: b.sourceId, source_bundle_id: b.sourceBundleId, row_count: b.rows.length, bundle_hash: b.hash, rows: b.rows as unknown as JsonValue[] };
    });
    return [200, { stable_bundle_seq: stable, bundles: page, has_more: seqs.length > max }];
  }

  private createSnapshot(user: string, scope: Scope, source: string, body: string | undefined): [number, JsonObject] {
    if (scope.state !== 'initialized') return [409, { error: 'scope_uninitialized', message: 'not initialized' }];
    if (body) {
      const replacement = (parseJson(body) as JsonObject).source_replacement;
      if (isJsonObject(replacement)) {
        const previous = scope.sources.get(source);
        if (previous?.retired && previous.replacedBy && previous.replacedBy !== replacement.new_source_id) {
          return [409, { error: 'source_retired', message: 'retired', source_id: source, replaced_by_source_id: previous.replacedBy }];
        }
        scope.sources.set(source, { max: previous?.max ?? 0, retired: true, replacedBy: String(replacement.new_source_id) });
      }
    }
    const rows = [...scope.rows.values()]
      .sort((a, b) => (a.table < b.table ? -1 : a.table > b.table ? 1 : String(a.key[this.tables[a.table]!]).localeCompare(String(b.key[this.tables[b.table]!]))))
      .map((r) => {
        const row = emptyJsonObject();
        row.schema = this.schema;
        row.table = r.table;
        row.key = r.key;
        row.row_version = scope.rowState.get(this.rowId(r.table, r.key))!.bundleSeq;
        row.payload = r.payload;
        return row;
      });
    const id = randomUUID();
    this.snapshots.set(id, { user, seq: scope.nextBundleSeq - 1, rows });
    return [200, { snapshot_id: id, snapshot_bundle_seq: scope.nextBundleSeq - 1, row_count: rows.length, byte_count: 1, expires_at: new Date(Date.now() + 900_000).toISOString() }];
  }

  private snapshotChunk(id: string, q: URLSearchParams): [number, JsonObject] {
    const snapshot = this.snapshots.get(id);
    if (!snapshot) return [404, { error: 'snapshot_session_not_found', message: `snapshot session ${id} was not found` }];
    const after = Number(q.get('after_row_ordinal') ?? 0);
    const max = Number(q.get('max_rows') ?? 1000);
    const rows = snapshot.rows.slice(after, after + max);
    return [200, { snapshot_id: id, snapshot_bundle_seq: snapshot.seq, rows, next_row_ordinal: after + rows.length, has_more: after + max < snapshot.rows.length }];
  }
}
