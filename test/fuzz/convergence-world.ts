/**
 * The convergence fuzz's world: one restartable reference server, K simulated devices (a SQLite
 * file + `OversqliteClient` each) whose HTTP goes through a fault-injecting `fetch`, and the
 * interpreter of the model's operations. It also keeps the oracle's ledger: every local write
 * (with its unique token), which of them a device saw acknowledged by a successful sync call,
 * which were reported to the app as conflicts, and which the app itself discarded (a remote
 * replace at sign-in, an anonymous sign-out).
 */
import Database from 'better-sqlite3';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import {
  acceptServer,
  type ConflictContext,
  type ConflictResolver,
  type FetchLike,
  keepLocal,
  keepMerged,
  OversqliteClient,
  type JsonObject,
} from '@oversync/client-node';
import { EXAMPLE_DEVICE_DDL, EXAMPLE_TABLES } from '../../apps/client-node/src/example-schema.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import type { TestDatabase } from '../support/test-database.js';
import {
  type AbortPoint,
  type DeviceConfig,
  describeOp,
  type DropEndpoint,
  type MidPoint,
  type Op,
  Rng,
  type RunConfig,
  TABLE_NAMES,
  type TableName,
  type WriteKind,
} from './convergence-model.js';
import { localKeyParam, TABLES, tokenOf, uuidFromHex } from './convergence-tables.js';
import {
  setBeforePushCommitHook,
  setBeforePushFreezeHook,
  setBeforePushReplayHook,
} from '@oversync/client-node/testing';

const JWT_SECRET = 'test-secret';

// ---- the server ---------------------------------------------------------------------------------------

/** The reference app on one database, restartable in place (same database, new port). */
export class FuzzServer {
  private constructor(
    public t: TestApp,
    readonly db: TestDatabase,
    /** a direct connection for the checker, pruning and `pg_terminate_backend` */
    readonly pg: pg.Client,
  ) {}

  static async start(): Promise<FuzzServer> {
    const t = await startTestApp({ env: { JWT_SECRET } });
    const client = new pg.Client({ connectionString: t.db.url });
    await client.connect();
    return new FuzzServer(t, t.db, client);
  }

  get baseUrl(): string {
    return this.t.baseUrl;
  }

  /** Closes the app and starts a new one on the same database (clients must follow the new port). */
  async restart(): Promise<void> {
    await this.t.close({ keepDatabase: true });
    this.t = await startTestApp({ db: this.db, env: { JWT_SECRET } });
  }

  /** Terminates every backend of the app's database except the checker's own connection. */
  async killConnections(): Promise<number> {
    const result = await this.pg.query(
      'SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = ' +
        'current_database() AND pid <> pg_backend_pid()',
    );
    return (result.rows[0] as { n: number }).n;
  }

  async close(): Promise<void> {
    await this.pg.end();
    await this.t.close();
  }
}

/** An HS256 token the app accepts (signed locally: signing in must not depend on the fuzzed server). */
function signToken(user: string): string {
  const b64 = (value: string) => Buffer.from(value).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const input =
    `${b64(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.` +
    `${b64(JSON.stringify({ sub: user, iat: now, exp: now + 3600 }))}`;
  return `${input}.${createHmac('sha256', JWT_SECRET).update(input).digest('base64url')}`;
}

// ---- ledger -------------------------------------------------------------------------------------------

export interface WriteRecord {
  readonly device: number;
  readonly table: TableName;
  readonly id: string;
  readonly kind: 'upsert' | 'delete';
  /** the token of an upsert */
  readonly token: string | null;
  /** logical time of the write */
  readonly clock: number;
  /** index of the operation that made it */
  readonly op: number;
}

export interface AckedWrite extends WriteRecord {
  readonly user: string;
  /** the user's latest bundle_seq when the acknowledging call returned */
  readonly ackSeq: number;
  readonly ackOp: number;
}

export type ExcuseReason = 'conflict' | 'remote_replace' | 'anonymous_sign_out';

// ---- transport faults ---------------------------------------------------------------------------------

type Endpoint =
  | 'create'
  | 'chunk'
  | 'commit'
  | 'push_delete'
  | 'committed_rows'
  | 'pull'
  | 'snapshot_create'
  | 'snapshot_chunk'
  | 'snapshot_delete'
  | 'connect'
  | 'capabilities'
  | 'other';

function classify(method: string, path: string): Endpoint {
  if (path === '/sync/push-sessions') return 'create';
  if (/^\/sync\/push-sessions\/[^/]+\/chunks$/.test(path)) return 'chunk';
  if (/^\/sync\/push-sessions\/[^/]+\/commit$/.test(path)) return 'commit';
  if (/^\/sync\/push-sessions\/[^/]+$/.test(path)) return 'push_delete';
  if (/^\/sync\/committed-bundles\/[^/]+\/rows$/.test(path)) return 'committed_rows';
  if (path === '/sync/pull') return 'pull';
  if (path === '/sync/snapshot-sessions') return 'snapshot_create';
  if (/^\/sync\/snapshot-sessions\/[^/]+$/.test(path))
    return method === 'DELETE' ? 'snapshot_delete' : 'snapshot_chunk';
  if (path === '/sync/connect') return 'connect';
  if (path === '/sync/capabilities') return 'capabilities';
  return 'other';
}

type ArmedAction = 'abort' | 'crash' | 'drop' | 'drop_transient' | 'restart_server' | 'kill_pg';

interface Armed {
  readonly endpoint: Endpoint;
  readonly when: 'before' | 'after';
  readonly action: ArmedAction;
  /** fault counter to bump when it fires */
  readonly fault: string;
  /** matching requests to let through first */
  skip: number;
  fired: boolean;
}

/** What a killed client process or a lost answer looks like from inside the client. */
export class FuzzAbort extends Error {
  override name = 'FuzzAbort';
}

const transient = (message: string, code: string) => Object.assign(new Error(message), { code });

// ---- devices ------------------------------------------------------------------------------------------

export class SimDevice {
  db!: Database.Database;
  client!: OversqliteClient;
  /** the user the app is signed in as (null: signed out) */
  wantUser: string | null = null;
  online = true;
  crashed = false;
  armed: Armed[] = [];
  /** the latest not yet acknowledged local write per row */
  readonly pending = new Map<string, WriteRecord>();

  constructor(
    readonly index: number,
    readonly config: DeviceConfig,
    readonly path: string,
  ) {}
}

const ERRORS_EXPECTED = new Set([
  'FuzzAbort',
  'SyncOperationInProgressError',
  'DirtyStateRejectedError',
  'PendingPushReplayError',
  'RebuildRequiredError',
  'SourceRecoveryRequiredError',
  'TransportError',
  'PushConflictRetryExhaustedError',
  'AttachRequiredError',
]);

const TEXTS = [
  'plain',
  'ünïcødé ✓',
  '😀 emoji',
  '<b>&amp;</b>',
  'quote " back \\ slash',
  'line\nbreak\ttab',
  '\u2028\u2029',
  '',
  ' spaced ',
];
const INTS: (number | bigint | null)[] = [null, 0, 1, -7, 42, 2 ** 31, -(2 ** 40), Number.MAX_SAFE_INTEGER];
const REALS: (number | null)[] = [null, 0, 1.25, -3.5, 0.1, 1e-7, 123456.789];

export interface WorldStats {
  ops: number;
  writes: number;
  acked: number;
  conflicts: number;
  excused: number;
  faults: Record<string, number>;
}

export class ConvergenceWorld {
  readonly users: string[];
  readonly devices: SimDevice[];
  /** row id → device that created it (only the creator changes FK columns or deletes) */
  readonly owner = new Map<string, number>();
  readonly acked: AckedWrite[] = [];
  readonly excused: (WriteRecord & { reason: ExcuseReason })[] = [];
  readonly failures: string[] = [];
  readonly transcript: string[] = [];
  readonly faults: Record<string, number> = {};
  /** bundles archived before history was pruned: user → bundle_seq → bundle */
  readonly archive = new Map<string, Map<number, ArchivedBundle>>();
  conflicts = 0;
  writes = 0;
  private clock = 0;
  private tokens = 0;
  private opIndex = -1;
  private readonly ids: Rng;
  private readonly dir: string;

  constructor(
    readonly server: FuzzServer,
    readonly config: RunConfig,
    /** distinguishes the users of runs that share the server (shrinking re-runs a seed) */
    readonly runTag: string,
  ) {
    this.users = Array.from({ length: config.users }, (_, i) => `fz-${runTag}-u${i}`);
    this.ids = new Rng(config.seed ^ 0x2545f491);
    this.dir = mkdtempSync(join(tmpdir(), `oversync-fuzz-${runTag}-`));
    this.devices = config.devices.map((c, i) => new SimDevice(i, c, join(this.dir, `d${i}.sqlite`)));
  }

  async setup(): Promise<void> {
    for (const d of this.devices) {
      d.db = new Database(d.path);
      d.db.exec(EXAMPLE_DEVICE_DDL);
      d.client = await this.newClient(d);
    }
  }

  async teardown(): Promise<void> {
    for (const d of this.devices) {
      await d.client.close().catch(() => undefined);
      if (d.db.open) d.db.close();
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  stats(ops: number): WorldStats {
    return {
      ops,
      writes: this.writes,
      acked: this.acked.length,
      conflicts: this.conflicts,
      excused: this.excused.length,
      faults: { ...this.faults },
    };
  }

  private count(fault: string): void {
    this.faults[fault] = (this.faults[fault] ?? 0) + 1;
  }

  private note(line: string): void {
    this.transcript.push(`#${this.opIndex} ${line}`);
  }

  fail(message: string): void {
    this.failures.push(`op #${this.opIndex}: ${message}`);
    this.note(`FAILURE ${message}`);
  }

  // ---- clients ----------------------------------------------------------------------------------------

  private newClient(d: SimDevice): Promise<OversqliteClient> {
    return OversqliteClient.open(d.db, {
      baseUrl: 'http://fuzz-device.invalid',
      tokenProvider: () => signToken(d.wantUser ?? 'signed-out'),
      schema: 'business',
      tables: EXAMPLE_TABLES,
      uploadLimit: d.config.uploadLimit,
      downloadLimit: d.config.downloadLimit,
      snapshotChunkRows: d.config.snapshotChunkRows,
      retryPolicy: d.config.retry
        ? { enabled: true, maxAttempts: 3, initialBackoffMs: 2, maxBackoffMs: 10 }
        : { enabled: false },
      requestTimeoutMs: 30_000,
      fetch: this.fetchFor(d),
      resolver: this.resolverFor(d),
    });
  }

  /** The device's network: offline, dead process, armed faults, then the current server. */
  private fetchFor(d: SimDevice): FetchLike {
    return async (input, init) => {
      const url = new URL(input);
      const method = (init.method ?? 'GET').toUpperCase();
      const endpoint = classify(method, url.pathname);
      if (d.crashed) throw new FuzzAbort('fuzz: the device process is dead');
      if (!d.online) throw transient('connect ECONNREFUSED (device offline)', 'ECONNREFUSED');
      const before = this.takeArmed(d, endpoint, 'before');
      if (before) await this.fire(d, before, endpoint);
      const response = await fetch(`${this.server.baseUrl}${url.pathname}${url.search}`, init);
      const after = this.takeArmed(d, endpoint, 'after');
      if (after) {
        await response.arrayBuffer().catch(() => undefined);
        this.count(after.fault);
        this.note(
          `  ${after.fault}: d${d.index} ${method} ${url.pathname} answered ${response.status}, answer dropped`,
        );
        if (after.action === 'drop_transient') throw transient('socket hang up (fuzz: answer dropped)', 'ECONNRESET');
        throw new FuzzAbort(`fuzz: ${endpoint} answer dropped`);
      }
      if (response.status >= 500 || response.status === 400) {
        const body = await response.clone().text();
        if (body.includes('injected_failure')) this.count('inject_fired');
        else if (response.status !== 503)
          this.fail(`d${d.index} ${method} ${url.pathname}${url.search} → ${response.status} ${body.slice(0, 300)}`);
      }
      return response;
    };
  }

  private takeArmed(d: SimDevice, endpoint: Endpoint, when: 'before' | 'after'): Armed | undefined {
    const armed = d.armed.find((a) => !a.fired && a.endpoint === endpoint && a.when === when);
    if (!armed) return undefined;
    if (armed.skip > 0) {
      armed.skip--;
      return undefined;
    }
    armed.fired = true;
    return armed;
  }

  private async fire(d: SimDevice, armed: Armed, endpoint: Endpoint): Promise<void> {
    this.count(armed.fault);
    this.note(`  ${armed.fault}: before d${d.index} ${endpoint}`);
    switch (armed.action) {
      case 'abort':
        throw new FuzzAbort(`fuzz: push aborted before ${endpoint}`);
      case 'crash':
        d.crashed = true;
        throw new FuzzAbort(`fuzz: process killed before ${endpoint}`);
      case 'restart_server':
        await this.server.restart();
        return;
      case 'kill_pg':
        await this.server.killConnections();
        return;
      default:
        return;
    }
  }

  private arm(
    d: SimDevice,
    endpoint: Endpoint,
    when: 'before' | 'after',
    action: ArmedAction,
    fault: string,
    skip = 0,
  ): Armed {
    const armed: Armed = { endpoint, when, action, fault, skip, fired: false };
    d.armed.push(armed);
    return armed;
  }

  private disarm(d: SimDevice): void {
    d.armed = [];
    setBeforePushFreezeHook(d.client, undefined);
    setBeforePushCommitHook(d.client, undefined);
    setBeforePushReplayHook(d.client, undefined);
  }

  /**
   * A local DELETE and the row creator always win (the FK discipline relies on it); otherwise
   * server-wins or a field merge.
   */
  private resolverFor(d: SimDevice): ConflictResolver {
    return {
      resolve: (c: ConflictContext) => {
        this.conflicts++;
        const id = String(c.key.id ?? Object.values(c.key)[0]);
        const table = c.table as TableName;
        this.note(
          `  conflict on d${d.index}: ${c.localOp} ${table}/${id} base ${c.baseRowVersion} server ` +
            `${c.serverRowVersion}${c.serverRowDeleted ? ' deleted' : ''}`,
        );
        const pending = d.pending.get(`${table}/${id}`);
        const localToken = c.localPayload ? tokenOf(c.localPayload[TABLES[table]?.tokenColumn ?? 'name']) : null;
        if (
          pending &&
          ((c.localOp === 'DELETE' && pending.kind === 'delete') ||
            (localToken !== null && pending.token === localToken))
        ) {
          d.pending.delete(`${table}/${id}`);
          this.excused.push({ ...pending, reason: 'conflict' });
        }
        if (c.localOp === 'DELETE') return keepLocal();
        const live = c.serverRowPayload !== null && !c.serverRowDeleted;
        if (!live) return acceptServer();
        // The creator is the authority on a row's FK columns (it may have changed them together with
        // deletes the server row would contradict, e.g. captain := NULL before deleting the member).
        if (this.owner.get(id) === d.index) return keepLocal();
        if (d.config.resolver === 'server_wins') return acceptServer();
        const spec = TABLES[table];
        // A merged row must be applied locally; with a reference to a row this device has not
        // pulled yet that fails its FK check (the client can only defer server-wins answers).
        for (const [column, parent] of Object.entries(spec.foreignKeys)) {
          const ref = c.serverRowPayload![column];
          if (
            typeof ref === 'string' &&
            d.db.prepare(`SELECT 1 FROM "${parent}" WHERE id = ?`).get(localKeyParam(parent, ref)) === undefined
          )
            return acceptServer();
        }
        const merged: JsonObject = { ...c.serverRowPayload! };
        merged[spec.tokenColumn] = c.localPayload![spec.tokenColumn] ?? null;
        return keepMerged(merged);
      },
    };
  }

  // ---- calls and acknowledgements -------------------------------------------------------------------

  /** Runs a client call; a success acknowledges every earlier write that is no longer queued. */
  private async call<T>(d: SimDevice, name: string, fn: () => Promise<T>, acknowledges = true): Promise<T | undefined> {
    const start = ++this.clock;
    try {
      const result = await fn();
      this.note(`  d${d.index} ${name} → ${summarize(result)}`);
      if (acknowledges) await this.acknowledge(d, start);
      return result;
    } catch (err) {
      this.onError(d, name, err);
      return undefined;
    }
  }

  private onError(d: SimDevice, name: string, err: unknown): void {
    const e = err as Error;
    const text = `${e?.name ?? typeof err}: ${e?.message ?? String(err)}`.slice(0, 400);
    this.note(`  d${d.index} ${name} ✗ ${text}`);
    if (!isExpectedError(err)) this.fail(`d${d.index} ${name} failed unexpectedly: ${text}`);
  }

  /** Keys (table/id) still queued on the device: dirty rows and the frozen outbox. */
  private queuedKeys(d: SimDevice): Set<string> {
    const rows = d.db
      .prepare(
        'SELECT table_name, key_json FROM _sync_dirty_rows UNION ALL SELECT table_name, key_json FROM ' +
          '_sync_outbox_rows',
      )
      .all() as {
      table_name: string;
      key_json: string;
    }[];
    const keys = new Set<string>();
    for (const row of rows) {
      const id = String(Object.values(JSON.parse(row.key_json) as Record<string, unknown>)[0]);
      const table = row.table_name as TableName;
      keys.add(`${table}/${TABLES[table]?.blobKey ? uuidFromHex(id) : id}`);
    }
    return keys;
  }

  async latestSeq(user: string): Promise<number> {
    const result = await this.server.pg.query(
      'SELECT next_bundle_seq - 1 AS latest FROM sync.user_state WHERE user_id = $1',
      [user],
    );
    return result.rows.length ? Number((result.rows[0] as { latest: string }).latest) : 0;
  }

  private async acknowledge(d: SimDevice, start: number): Promise<void> {
    if (!d.wantUser) return;
    const queued = this.queuedKeys(d);
    const eligible = [...d.pending.values()].filter((w) => w.clock < start && !queued.has(`${w.table}/${w.id}`));
    if (eligible.length === 0) return;
    const ackSeq = await this.latestSeq(d.wantUser);
    for (const w of eligible) {
      d.pending.delete(`${w.table}/${w.id}`);
      this.acked.push({ ...w, user: d.wantUser, ackSeq, ackOp: this.opIndex });
    }
  }

  private excusePending(d: SimDevice, reason: ExcuseReason): void {
    for (const w of d.pending.values()) this.excused.push({ ...w, reason });
    d.pending.clear();
  }

  // ---- lifecycle as an app does it -----------------------------------------------------------------

  private async connected(d: SimDevice): Promise<boolean> {
    try {
      await d.client.lastBundleSeqSeen();
      return true;
    } catch {
      return false;
    }
  }

  /** Attaches the signed-in user if the session is not connected (launch, after a reset). */
  async ensureConnected(d: SimDevice): Promise<boolean> {
    if (!d.wantUser || d.crashed) return false;
    if (await this.connected(d)) return true;
    const user = d.wantUser;
    const result = await this.call(d, `attach ${user}`, () => d.client.attach(user), false);
    if (!result) return false;
    if (result.outcome === 'used_remote_state') this.excusePending(d, 'remote_replace');
    return result.status === 'connected';
  }

  private async signOut(d: SimDevice): Promise<boolean> {
    if (!d.wantUser || !(await this.ensureConnected(d))) return false;
    const result = await this.call(d, 'syncThenDetach', () => d.client.syncThenDetach());
    if (!result?.isSuccess) return false;
    d.wantUser = null;
    return true;
  }

  private async signIn(d: SimDevice, user: string): Promise<void> {
    if (d.wantUser) return;
    d.wantUser = user;
    // A signed-out device's anonymous rows are pushed (seed) or replaced by the user's state.
    await this.ensureConnected(d);
  }

  /** A process kill and relaunch: the client object and its memory are gone; Open, then Attach. */
  private async restartDevice(d: SimDevice): Promise<void> {
    this.count('device_restart');
    await d.client.close().catch(() => undefined);
    d.db.close();
    d.crashed = false;
    d.armed = [];
    d.db = new Database(d.path);
    d.client = await this.newClient(d);
    await this.ensureConnected(d);
  }

  // ---- operations ---------------------------------------------------------------------------------------

  async run(ops: readonly Op[]): Promise<void> {
    for (const [i, op] of ops.entries()) {
      this.opIndex = i;
      this.note(describeOp(op));
      try {
        await this.apply(op);
      } catch (err) {
        this.fail(`harness error in ${describeOp(op)}: ${(err as Error)?.stack ?? String(err)}`);
      }
    }
    this.opIndex = ops.length;
  }

  private async apply(op: Op): Promise<void> {
    switch (op.k) {
      case 'write':
        this.write(this.devices[op.d]!, op.w, op.t, op.p);
        return;
      case 'push':
      case 'pull':
      case 'sync':
      case 'rebuild': {
        const d = this.devices[op.d]!;
        if (!(await this.ensureConnected(d))) return;
        const fn: () => Promise<unknown> = {
          push: () => d.client.pushPending(),
          pull: () => d.client.pullToStable(),
          sync: () => d.client.sync(),
          rebuild: () => d.client.rebuild(),
        }[op.k];
        await this.call(d, op.k, fn);
        return;
      }
      case 'sync_pair': {
        const [d, e] = [this.devices[op.d]!, this.devices[op.e]!];
        const ready = [await this.ensureConnected(d), await this.ensureConnected(e)];
        await Promise.all(
          [d, e].filter((_, i) => ready[i]).map((x) => this.call(x, 'sync (concurrent)', () => x.client.sync())),
        );
        return;
      }
      case 'contend': {
        const [d, e] = [this.devices[op.d]!, this.devices[op.e]!];
        if (!d.wantUser || d.wantUser !== e.wantUser) return;
        const shared = this.rowIds(d, op.t).filter((id) => this.rowIds(e, op.t).includes(id));
        const id = shared[op.p[0]! % Math.max(shared.length, 1)];
        if (!id) return;
        this.count('contended_row');
        // the owner may delete it; anyone may update it
        for (const [x, i] of [
          [d, 1],
          [e, 2],
        ] as const) {
          const kind = this.owner.get(id) === x.index && op.p[i]! % 4 === 0 ? 'delete' : 'update';
          this.write(x, kind, op.t, [op.p[i]!, ...op.p], id);
        }
        for (const x of [d, e]) if (await this.ensureConnected(x)) await this.call(x, 'sync', () => x.client.sync());
        return;
      }
      case 'offline': {
        const d = this.devices[op.d]!;
        if (d.online) this.count('offline');
        d.online = false;
        return;
      }
      case 'online':
        this.devices[op.d]!.online = true;
        return;
      case 'sign_out':
        await this.signOut(this.devices[op.d]!);
        return;
      case 'sign_in': {
        const d = this.devices[op.d]!;
        if (d.wantUser) await this.ensureConnected(d);
        else await this.signIn(d, this.users[op.u]!);
        return;
      }
      case 'switch_user': {
        const d = this.devices[op.d]!;
        const target = this.users[op.u]!;
        if (d.wantUser === target) return;
        if (d.wantUser && !(await this.signOut(d))) return;
        this.count('user_switch');
        await this.signIn(d, target);
        return;
      }
      case 'restart_device':
        await this.restartDevice(this.devices[op.d]!);
        return;
      case 'abort':
        await this.abortPush(this.devices[op.d]!, op.at, op.crash);
        return;
      case 'drop':
        await this.dropAnswer(this.devices[op.d]!, op.ep, op.transient);
        return;
      case 'restart_server':
      case 'kill_pg':
        await this.serverFault(op.k, this.devices[op.d]!, op.mid);
        return;
      case 'prune':
        await this.prune(this.users[op.u]!, op.depth);
        return;
      case 'inject': {
        const response = await fetch(`${this.server.baseUrl}/test/failures`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ endpoint: op.ep, count: op.count, status: op.status }),
        });
        if (response.status !== 200)
          this.fail(`arming the failure injector: ${response.status} ${await response.text()}`);
        else this.count('inject_armed');
        return;
      }
      case 'write_during_push': {
        const d = this.devices[op.d]!;
        if (!(await this.ensureConnected(d))) return;
        this.ensureSomethingToPush(d);
        setBeforePushCommitHook(d.client, () => {
          this.count('write_during_push');
          this.note(`  write_during_push: d${d.index} writes ${op.t}`);
          this.write(d, op.p[0]! % 2 === 0 ? 'update' : 'insert', op.t, op.p);
        });
        await this.call(d, 'push', () => d.client.pushPending());
        this.disarm(d);
        return;
      }
    }
  }

  /** A fault that needs a push must have something to push. */
  private ensureSomethingToPush(d: SimDevice): void {
    const n = d.db
      .prepare('SELECT (SELECT COUNT(*) FROM _sync_dirty_rows) + (SELECT COUNT(*) FROM _sync_outbox_rows) AS n')
      .get() as { n: number };
    if (n.n === 0)
      this.write(d, 'insert', 'typed_rows', [this.ids.u32(), this.ids.u32(), this.ids.u32(), this.ids.u32()]);
  }

  private async abortPush(d: SimDevice, at: AbortPoint, crash: boolean): Promise<void> {
    if (!(await this.ensureConnected(d))) return;
    this.ensureSomethingToPush(d);
    const fault = `abort_${at}`;
    let fired = false;
    const kill = () => {
      fired = true;
      this.count(fault);
      this.note(`  ${fault}${crash ? ' (process killed)' : ''}`);
      if (crash) d.crashed = true;
      throw new FuzzAbort(`fuzz: push aborted at ${at}`);
    };
    if (at === 'freeze') setBeforePushFreezeHook(d.client, kill);
    if (at === 'commit') setBeforePushCommitHook(d.client, kill);
    if (at === 'replay') setBeforePushReplayHook(d.client, kill);
    const armed =
      at === 'create'
        ? this.arm(d, 'create', 'before', crash ? 'crash' : 'abort', fault)
        : at === 'chunk'
          ? this.arm(d, 'chunk', 'before', crash ? 'crash' : 'abort', fault, crash ? 0 : 1)
          : null;
    await this.call(d, 'push', () => d.client.pushPending());
    this.disarm(d);
    if ((fired || armed?.fired) && crash) await this.restartDevice(d);
    else if (d.crashed) await this.restartDevice(d);
  }

  private async dropAnswer(d: SimDevice, endpoint: DropEndpoint, isTransient: boolean): Promise<void> {
    const action: ArmedAction = isTransient ? 'drop_transient' : 'drop';
    const fault = endpoint === 'commit' ? 'drop_commit_answer' : 'drop_answer_other';
    if (endpoint === 'connect') {
      if (!d.wantUser) return;
      const user = d.wantUser;
      this.arm(d, 'connect', 'after', action, fault);
      if (await this.signOut(d)) await this.signIn(d, user);
      this.disarm(d);
      return;
    }
    if (!(await this.ensureConnected(d))) return;
    this.arm(d, endpoint, 'after', action, fault);
    switch (endpoint) {
      case 'commit':
      case 'create':
      case 'chunk':
      case 'committed_rows':
        this.ensureSomethingToPush(d);
        await this.call(d, 'push', () => d.client.pushPending());
        break;
      case 'pull':
        await this.call(d, 'sync', () => d.client.sync());
        break;
      case 'snapshot_create':
      case 'snapshot_chunk':
        await this.call(d, 'sync', () => d.client.sync());
        await this.call(d, 'rebuild', () => d.client.rebuild());
        break;
    }
    this.disarm(d);
  }

  private async serverFault(kind: 'restart_server' | 'kill_pg', d: SimDevice, mid: MidPoint): Promise<void> {
    if (mid === 'none') {
      this.count(kind);
      if (kind === 'restart_server') await this.server.restart();
      else await this.server.killConnections();
      return;
    }
    if (!(await this.ensureConnected(d))) return;
    if (mid !== 'pull') this.ensureSomethingToPush(d);
    this.arm(d, mid, 'before', kind, `${kind}_mid_request`);
    await this.call(d, 'sync', () => d.client.sync());
    this.disarm(d);
  }

  /** Raises the retained floor to latest − depth and deletes the history below it (archived first). */
  private async prune(user: string, depth: number): Promise<void> {
    const state = await this.server.pg.query(
      'SELECT user_pk, next_bundle_seq - 1 AS latest, retained_bundle_floor AS floor FROM sync.user_state ' +
        'WHERE user_id = $1',
      [user],
    );
    const row = state.rows[0] as { user_pk: string; latest: string; floor: string } | undefined;
    if (!row) return;
    const floor = Math.max(Number(row.floor), Number(row.latest) - depth);
    if (floor <= Number(row.floor) || floor <= 0) return;
    await archiveBundles(this, user);
    const response = await fetch(`${this.server.baseUrl}/test/retention-floor`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ user_id: user, retained_bundle_floor: floor }),
    });
    if (response.status !== 200) {
      this.fail(`raising the retention floor of ${user} to ${floor}: ${response.status} ${await response.text()}`);
      return;
    }
    await this.server.pg.query('DELETE FROM sync.bundle_log WHERE user_pk = $1 AND bundle_seq <= $2', [
      row.user_pk,
      floor,
    ]);
    if (process.env.FUZZ_CANARY === 'lose_row') {
      // Self-test of the checker and the shrinker only: a simulated server bug that loses a row.
      await this.server.pg.query('BEGIN; SET LOCAL session_replication_role = replica');
      await this.server.pg.query(
        'DELETE FROM business.users WHERE ctid = (SELECT ctid FROM business.users WHERE _sync_scope_id = $1 LIMIT 1)',
        [user],
      );
      await this.server.pg.query('COMMIT');
    }
    this.count('prune');
    this.note(`  ${user}: floor ${row.floor} → ${floor} (latest ${row.latest})`);
  }

  // ---- local writes ---------------------------------------------------------------------------------

  private newId(): string {
    const hex = Array.from({ length: 4 }, () => this.ids.u32().toString(16).padStart(8, '0')).join('');
    return uuidFromHex(
      `${hex.slice(0, 12)}4${hex.slice(13, 16)}${'89ab'[parseInt(hex[16]!, 16) % 4]}${hex.slice(17, 32)}`,
    );
  }

  private newToken(p: number): string {
    const token = `k${this.config.seed}.${this.runTag}.${++this.tokens}`;
    return p % 3 === 0 ? `${token}|${TEXTS[p % TEXTS.length]}` : token;
  }

  private rowIds(d: SimDevice, table: TableName): string[] {
    const rows = d.db
      .prepare(`SELECT ${TABLES[table].blobKey ? 'lower(hex(id))' : 'id'} AS id FROM "${table}" ORDER BY id`)
      .all() as { id: string }[];
    return rows.map((r) => (TABLES[table].blobKey ? uuidFromHex(r.id) : r.id));
  }

  private ownedIds(d: SimDevice, table: TableName): string[] {
    return this.rowIds(d, table).filter((id) => this.owner.get(id) === d.index);
  }

  /** One local transaction; rows it inserted, updated or deleted (cascades included) become pending writes. */
  write(d: SimDevice, kind: WriteKind, table: TableName, p: readonly number[], target?: string): void {
    let cursor = 0;
    const r = () => p[cursor++ % p.length]! >>> (cursor % 7);
    const pick = <T>(items: readonly T[]): T | undefined => (items.length ? items[r() % items.length] : undefined);
    const upserts: { table: TableName; id: string; token: string }[] = [];
    const created: string[] = [];
    const before = kind === 'delete' ? this.snapshotIds(d) : null;
    const db = d.db;
    const param = (t: TableName, id: string | null) => (id === null ? null : localKeyParam(t, id));
    const ts = () =>
      r() % 3 === 0
        ? null
        : new Date(Date.UTC(2025, r() % 12, 1 + (r() % 28), r() % 24, r() % 60, r() % 60, r() % 1000)).toISOString();
    const text = () => TEXTS[r() % TEXTS.length]!;
    const bytes = () => Buffer.from(Array.from({ length: r() % 24 }, () => r() % 256));

    const insert = (t: TableName, fk: Record<string, string | null> = {}): string => {
      const id = this.newId();
      const token = this.newToken(r());
      switch (t) {
        case 'users':
          db.prepare('INSERT INTO users(id, name, email, created_at, updated_at) VALUES (?, ?, ?, ?, ?)').run(
            id,
            token,
            text(),
            ts(),
            ts(),
          );
          break;
        case 'posts':
          db.prepare(
            'INSERT INTO posts(id, title, content, author_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)',
          ).run(
            id,
            token,
            text(),
            'author_id' in fk ? fk.author_id : r() % 3 === 0 ? null : (pick(this.ownedIds(d, 'users')) ?? null),
            ts(),
            ts(),
          );
          break;
        case 'categories':
          db.prepare('INSERT INTO categories(id, name, parent_id) VALUES (?, ?, ?)').run(
            id,
            token,
            'parent_id' in fk ? fk.parent_id : r() % 2 === 0 ? null : (pick(this.ownedIds(d, 'categories')) ?? null),
          );
          break;
        case 'teams':
          db.prepare('INSERT INTO teams(id, name, captain_member_id) VALUES (?, ?, NULL)').run(id, token);
          break;
        case 'team_members': {
          const team = fk.team_id ?? pick(this.ownedIds(d, 'teams')) ?? insert('teams');
          db.prepare('INSERT INTO team_members(id, name, team_id) VALUES (?, ?, ?)').run(id, token, team);
          break;
        }
        case 'files':
          db.prepare('INSERT INTO files(id, name, data) VALUES (?, ?, ?)').run(param('files', id), token, bytes());
          break;
        case 'file_reviews': {
          const file = fk.file_id ?? pick(this.ownedIds(d, 'files')) ?? insert('files');
          db.prepare('INSERT INTO file_reviews(id, review, file_id) VALUES (?, ?, ?)').run(
            param('file_reviews', id),
            token,
            param('files', file),
          );
          break;
        }
        case 'typed_rows':
          db.prepare(
            'INSERT INTO typed_rows(id, name, note, count_value, enabled_flag, rating, data, created_at) ' +
              'VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
          ).run(
            id,
            token,
            r() % 4 === 0 ? null : text(),
            INTS[r() % INTS.length] ?? null,
            r() % 2,
            REALS[r() % REALS.length] ?? null,
            r() % 3 === 0 ? null : bytes(),
            ts(),
          );
          break;
      }
      created.push(id);
      upserts.push({ table: t, id, token });
      return id;
    };

    const update = (t: TableName): void => {
      // a third of the updates hit the table's first row, so devices of one user edit the same rows
      const ids = this.rowIds(d, t);
      const id = target ?? (r() % 3 === 0 ? ids[0] : pick(ids));
      if (!id) return;
      const owned = this.owner.get(id) === d.index;
      const spec = TABLES[t];
      const token = this.newToken(r());
      const sets: string[] = [`"${spec.tokenColumn}" = ?`];
      const values: unknown[] = [token];
      const set = (column: string, value: unknown) => {
        sets.push(`"${column}" = ?`);
        values.push(value);
      };
      switch (t) {
        case 'users':
          if (r() % 2) set('email', text());
          if (r() % 2) set('updated_at', ts());
          break;
        case 'posts':
          if (r() % 2) set('content', text());
          if (owned && r() % 2) set('author_id', r() % 3 === 0 ? null : (pick(this.ownedIds(d, 'users')) ?? null));
          break;
        case 'categories':
          if (owned && r() % 3 === 0) {
            const hasChildren = db.prepare('SELECT 1 FROM categories WHERE parent_id = ?').get(id) !== undefined;
            const roots = this.ownedIds(d, 'categories').filter(
              (c) =>
                c !== id &&
                (db.prepare('SELECT parent_id FROM categories WHERE id = ?').get(c) as { parent_id: string | null })
                  .parent_id === null,
            );
            if (!hasChildren) set('parent_id', r() % 2 ? null : (pick(roots) ?? null));
          }
          break;
        case 'teams':
          if (owned && r() % 2) {
            const members = (
              db.prepare('SELECT id FROM team_members WHERE team_id = ? ORDER BY id').all(id) as { id: string }[]
            ).map((m) => m.id);
            set('captain_member_id', r() % 3 === 0 ? null : (pick(members) ?? null));
          }
          break;
        case 'files':
          if (r() % 2) set('data', bytes());
          break;
        case 'file_reviews':
          if (owned && r() % 3 === 0) {
            const file = pick(this.ownedIds(d, 'files'));
            if (file) set('file_id', param('files', file));
          }
          break;
        case 'typed_rows':
          if (r() % 2) set('note', r() % 4 === 0 ? null : text());
          if (r() % 2) set('count_value', INTS[r() % INTS.length] ?? null);
          if (r() % 2) set('enabled_flag', r() % 2);
          if (r() % 2) set('rating', REALS[r() % REALS.length] ?? null);
          if (r() % 2) set('data', r() % 3 === 0 ? null : bytes());
          if (r() % 2) set('created_at', ts());
          break;
        default:
          break;
      }
      db.prepare(`UPDATE "${t}" SET ${sets.join(', ')} WHERE id = ?`).run(...values, param(t, id));
      upserts.push({ table: t, id, token });
    };

    const remove = (t: TableName): void => {
      const id = target ?? pick(this.ownedIds(d, t));
      if (!id) return;
      if (t === 'users') db.prepare('DELETE FROM posts WHERE author_id = ?').run(id);
      if (t === 'team_members') {
        // every row update carries a fresh token (the checker's applied-twice rule relies on it)
        for (const { id: team } of db.prepare('SELECT id FROM teams WHERE captain_member_id = ?').all(id) as {
          id: string;
        }[]) {
          const token = this.newToken(r());
          db.prepare('UPDATE teams SET captain_member_id = NULL, name = ? WHERE id = ?').run(token, team);
          upserts.push({ table: 'teams', id: team, token });
        }
      }
      db.prepare(`DELETE FROM "${t}" WHERE id = ?`).run(param(t, id));
    };

    const chain = (t: TableName): void => {
      const n = 1 + (r() % 3);
      switch (t) {
        case 'users':
        case 'posts': {
          // children first: the FKs are deferred, and upload order must not matter
          const user = this.newId();
          const posts = Array.from({ length: n }, () => insert('posts', { author_id: user }));
          void posts;
          const token = this.newToken(r());
          db.prepare('INSERT INTO users(id, name, email, created_at, updated_at) VALUES (?, ?, ?, ?, ?)').run(
            user,
            token,
            text(),
            ts(),
            ts(),
          );
          created.push(user);
          upserts.push({ table: 'users', id: user, token });
          break;
        }
        case 'categories': {
          let parent: string | null = r() % 2 ? (pick(this.ownedIds(d, 'categories')) ?? null) : null;
          for (let i = 0; i <= n; i++) parent = insert('categories', { parent_id: parent });
          break;
        }
        case 'teams':
        case 'team_members': {
          const team = insert('teams');
          const members = Array.from({ length: n }, () => insert('team_members', { team_id: team }));
          const token = this.newToken(r());
          db.prepare('UPDATE teams SET captain_member_id = ?, name = ? WHERE id = ?').run(members[0]!, token, team);
          upserts.push({ table: 'teams', id: team, token });
          break;
        }
        case 'files':
        case 'file_reviews': {
          const file = insert('files');
          for (let i = 0; i < n; i++) insert('file_reviews', { file_id: file });
          break;
        }
        case 'typed_rows':
          for (let i = 0; i <= n; i++) insert('typed_rows');
          break;
      }
    };

    try {
      db.transaction(() => {
        if (kind === 'insert') insert(table);
        else if (kind === 'update') update(table);
        else if (kind === 'delete') remove(table);
        else chain(table);
      })();
    } catch (err) {
      const message = (err as Error).message;
      if (/SYNC_TRANSITION_PENDING/.test(message)) this.note(`  d${d.index} write refused: ${message}`);
      else this.fail(`d${d.index} local ${kind} on ${table} failed: ${message}`);
      return;
    }
    for (const id of created) this.owner.set(id, d.index);
    const clock = ++this.clock;
    const record = (w: Omit<WriteRecord, 'device' | 'clock' | 'op'>) => {
      this.writes++;
      d.pending.set(`${w.table}/${w.id}`, { ...w, device: d.index, clock, op: this.opIndex });
    };
    for (const u of upserts) record({ table: u.table, id: u.id, kind: 'upsert', token: tokenOf(u.token) });
    if (before) {
      const after = this.snapshotIds(d);
      for (const [t, ids] of before)
        for (const id of ids) if (!after.get(t)!.has(id)) record({ table: t, id, kind: 'delete', token: null });
    }
  }

  private snapshotIds(d: SimDevice): Map<TableName, Set<string>> {
    return new Map(TABLE_NAMES.map((t) => [t, new Set(this.rowIds(d, t))]));
  }

  // ---- the end: every device syncs until quiet ---------------------------------------------------------

  async quiesce(maxRounds = 12): Promise<void> {
    this.opIndex = -2;
    this.note('quiesce');
    await fetch(`${this.server.baseUrl}/test/failures`, { method: 'DELETE' }).catch(() => undefined);
    for (const d of this.devices) {
      this.disarm(d);
      d.online = true;
      if (d.crashed) await this.restartDevice(d);
      if (!d.wantUser) await this.signIn(d, this.users[d.config.homeUser]!);
    }
    for (let round = 0; round < maxRounds; round++) {
      let quiet = true;
      for (const d of this.devices) if (!(await this.settle(d))) quiet = false;
      if (quiet) return;
    }
    this.fail(`the devices did not quiesce within ${maxRounds} rounds of sync`);
  }

  /** One sync of a device; true when it had nothing to push, nothing to pull and nothing pending. */
  private async settle(d: SimDevice): Promise<boolean> {
    if (!(await this.ensureConnected(d))) return false;
    let failure: unknown;
    const start = ++this.clock;
    try {
      const report = await d.client.sync();
      this.note(`  d${d.index} sync → ${summarize(report)}`);
      await this.acknowledge(d, start);
      return (
        report.pushOutcome === 'no_change' &&
        report.remoteOutcome === 'already_at_target' &&
        !report.status.pending.hasPendingSyncData
      );
    } catch (err) {
      failure = err;
    }
    const name = (failure as Error)?.name;
    if (name === 'RebuildRequiredError' || name === 'SourceRecoveryRequiredError') {
      this.note(`  d${d.index} sync ✗ ${name}`);
      await this.call(d, 'rebuild', () => d.client.rebuild());
    } else this.onError(d, 'sync', failure);
    return false;
  }
}

export interface ArchivedBundle {
  readonly bundleSeq: number;
  readonly sourceId: string;
  readonly sourceBundleId: number;
  readonly rowCount: number;
  readonly hash: string;
  readonly rows: readonly ArchivedRow[];
}

export interface ArchivedRow {
  readonly ordinal: number;
  readonly table: TableName;
  readonly id: string;
  readonly op: 'INSERT' | 'UPDATE' | 'DELETE';
  readonly token: string | null;
  readonly payload: string | null;
}

/** Copies every bundle of `user` above what was archived so far (history is deleted by pruning). */
export async function archiveBundles(world: ConvergenceWorld, user: string): Promise<void> {
  const archive = world.archive.get(user) ?? new Map<number, ArchivedBundle>();
  world.archive.set(user, archive);
  const above = archive.size ? Math.max(...archive.keys()) : 0;
  const result = await world.server.pg.query(
    `SELECT bl.bundle_seq, bl.source_id, bl.source_bundle_id, bl.row_count, encode(bl.bundle_hash, 'hex') AS hash,
            br.row_ordinal, tc.table_name, encode(br.key_bytes, 'hex') AS key_hex, br.op_code, br.payload_wire::text
              AS payload
       FROM sync.bundle_log bl
       JOIN sync.user_state us ON us.user_pk = bl.user_pk
       LEFT JOIN sync.bundle_rows br ON br.user_pk = bl.user_pk AND br.bundle_seq = bl.bundle_seq
       LEFT JOIN sync.table_catalog tc ON tc.table_id = br.table_id
      WHERE us.user_id = $1 AND bl.bundle_seq > $2
      ORDER BY bl.bundle_seq, br.row_ordinal`,
    [user, above],
  );
  const building = new Map<number, { bundle: Omit<ArchivedBundle, 'rows'>; rows: ArchivedRow[] }>();
  for (const r of result.rows as Record<string, string | number | null>[]) {
    const seq = Number(r.bundle_seq);
    let entry = building.get(seq);
    if (!entry) {
      entry = {
        bundle: {
          bundleSeq: seq,
          sourceId: String(r.source_id),
          sourceBundleId: Number(r.source_bundle_id),
          rowCount: Number(r.row_count),
          hash: String(r.hash),
        },
        rows: [],
      };
      building.set(seq, entry);
    }
    if (r.row_ordinal === null) continue;
    const table = String(r.table_name) as TableName;
    const payload = r.payload === null ? null : String(r.payload);
    const parsed = payload === null ? null : (JSON.parse(payload) as Record<string, unknown>);
    entry.rows.push({
      ordinal: Number(r.row_ordinal),
      table,
      id: uuidFromHex(String(r.key_hex)),
      op: (['', 'INSERT', 'UPDATE', 'DELETE'] as const)[Number(r.op_code)] as ArchivedRow['op'],
      token: parsed ? tokenOf(parsed[TABLES[table]?.tokenColumn ?? 'name']) : null,
      payload,
    });
  }
  for (const [seq, { bundle, rows }] of building) archive.set(seq, { ...bundle, rows });
}

function summarize(result: unknown): string {
  if (result === null || result === undefined) return String(result);
  if (typeof result !== 'object') return String(result);
  const r = result as Record<string, unknown>;
  const parts: string[] = [];
  for (const key of ['status', 'outcome', 'pushOutcome', 'remoteOutcome', 'isSuccess'])
    if (key in r && typeof r[key] !== 'object') parts.push(`${key}=${String(r[key])}`);
  const status = (r.status ?? r.syncStatus) as { lastBundleSeqSeen?: number } | undefined;
  if (status && typeof status === 'object' && typeof status.lastBundleSeqSeen === 'number')
    parts.push(`seen=${status.lastBundleSeqSeen}`);
  return parts.join(' ') || 'ok';
}

/** Errors a device may legitimately see under the injected faults; anything else fails the run. */
export function isExpectedError(err: unknown): boolean {
  const e = err as {
    name?: string;
    status?: number;
    code?: string;
    body?: string;
    lastError?: unknown;
    transient?: boolean;
  } | null;
  if (!e || typeof e !== 'object') return false;
  if (e.name === 'RetryExhaustedError')
    return e.lastError === undefined || e.lastError === null || isExpectedError(e.lastError);
  if (e.name === 'HttpStatusError') {
    if (e.code === 'initialization_expired' || e.code === 'initialization_stale') return true;
    if (typeof e.body === 'string' && e.body.includes('injected_failure')) return true;
    return e.transient === true || e.status === 503;
  }
  return ERRORS_EXPECTED.has(e.name ?? '');
}
