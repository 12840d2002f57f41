/**
 * The scale-out run (issue 25): real client devices (`OversqliteClient` on better-sqlite3 files) of
 * many users, every HTTP request of every device sent to a randomly chosen instance, doing pushes,
 * pulls, snapshot rebuilds and fresh-install hydrations for a bounded time, plus watch streams that
 * reconnect wherever they can. The world keeps the oracle's ledger: every local write with its
 * unique token, which writes a device saw acknowledged, and the last write of every row.
 *
 * Each device writes only rows it created (the `users` table, the token in `name`), so the expected
 * final state of every row is known exactly: its creator's last write.
 */
import Database from 'better-sqlite3';
import { createHmac, randomUUID } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type FetchLike, OversqliteClient } from '@oversync/client-node';
import { EXAMPLE_DEVICE_DDL, EXAMPLE_TABLES } from '../../apps/client-node/src/example-schema.js';
import { Rng } from '../fuzz/convergence-model.js';
import { SseStream, syncHeaders } from '../support/sse.js';
import type { Instance } from './instances.js';

export const JWT_SECRET = 'scale-out-secret';

/** An HS256 token the instances accept, signed locally (sign-in must not depend on a live instance). */
export function signToken(user: string): string {
  const b64 = (value: string) => Buffer.from(value).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const input =
    `${b64(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.` +
    `${b64(JSON.stringify({ sub: user, iat: now, exp: now + 3600 }))}`;
  return `${input}.${createHmac('sha256', JWT_SECRET).update(input).digest('base64url')}`;
}

export type OpKind = 'write+sync' | 'pull' | 'sync' | 'rebuild' | 'hydrate';

export interface AckedWrite {
  user: string;
  device: number;
  id: string;
  /** null: a delete */
  token: string | null;
}

/**
 * Errors a device may see while instances die and backends are killed (it retries next round);
 * DirtyStateRejectedError: a pull refused while writes of a failed push are still queued (by design).
 */
const EXPECTED_ERRORS = new Set([
  'TransportError',
  'RetryExhaustedError',
  'PendingPushReplayError',
  'SyncOperationInProgressError',
  'DirtyStateRejectedError',
]);

function isExpected(error: unknown): boolean {
  const name = (error as Error)?.constructor?.name ?? '';
  if (EXPECTED_ERRORS.has(name)) return true;
  // a retryable 503 (lost database connection, user lock wait) surfaces as such when retries are off
  return name === 'HttpStatusError' && (error as { status?: number }).status === 503;
}

export class ScaleDevice {
  db!: Database.Database;
  client!: OversqliteClient;
  /** rows this device created → its last local write (null: deleted) */
  readonly rows = new Map<string, string | null>();
  /** writes not yet acknowledged, in order */
  pending: { id: string; token: string | null }[] = [];
  /** the instance of every request so far, for the per-device spread */
  readonly requestsPerInstance: number[];

  constructor(
    readonly index: number,
    readonly user: string,
    readonly path: string,
    instances: number,
  ) {
    this.requestsPerInstance = Array.from({ length: instances }, () => 0);
  }
}

export interface WorldFigures {
  ops: Record<OpKind, number[]>;
  http: Record<string, number[]>;
  errors: Record<string, number>;
  httpStatus: Record<string, number>;
  writes: number;
  acked: number;
  reroutedConnects: number;
}

function endpointOf(method: string, path: string): string {
  if (path === '/sync/push-sessions') return 'push create';
  if (/\/chunks$/.test(path)) return 'push chunk';
  if (/\/commit$/.test(path)) return 'push commit';
  if (path.startsWith('/sync/committed-bundles/')) return 'committed rows';
  if (path === '/sync/pull') return 'pull';
  if (path === '/sync/snapshot-sessions') return 'snapshot create';
  if (path.startsWith('/sync/snapshot-sessions/')) return method === 'DELETE' ? 'snapshot delete' : 'snapshot chunk';
  if (path.startsWith('/sync/push-sessions/')) return 'push delete';
  if (path === '/sync/connect') return 'connect';
  return path;
}

export class ScaleOutWorld {
  readonly devices: ScaleDevice[] = [];
  readonly users: string[];
  readonly acked: AckedWrite[] = [];
  /** rows written around the devices (the cross-instance watch probe): user → id → name */
  readonly otherRows = new Map<string, Map<string, string>>();
  readonly failures: string[] = [];
  readonly figures: WorldFigures = {
    ops: { 'write+sync': [], pull: [], sync: [], rebuild: [], hydrate: [] },
    http: {},
    errors: {},
    httpStatus: {},
    writes: 0,
    acked: 0,
    reroutedConnects: 0,
  };
  private readonly rng: Rng;
  private tokens = 0;

  constructor(
    readonly instances: Instance[],
    readonly dir: string,
    readonly config: { users: number; devices: number; seed: number; tag: string },
  ) {
    this.rng = new Rng(config.seed);
    this.users = Array.from({ length: config.users }, (_, i) => `so-${config.tag}-u${i}`);
    mkdirSync(dir, { recursive: true });
    // every user gets a device; the rest go round-robin, so users have 2 or 3 devices
    for (let i = 0; i < config.devices; i++)
      this.devices.push(new ScaleDevice(i, this.users[i % config.users]!, join(dir, `d${i}.sqlite`), instances.length));
  }

  fail(message: string): void {
    if (this.failures.length < 50) this.failures.push(message);
  }

  private pick(n: number): number {
    return this.rng.u32() % n;
  }

  /**
   * The device's network: every request to a random instance; a refused connection (dead instance,
   * nothing sent) goes to another one.
   */
  fetchFor(d: ScaleDevice, pinned?: number): FetchLike {
    return async (input, init) => {
      const url = new URL(input);
      const method = (init.method ?? 'GET').toUpperCase();
      const endpoint = endpointOf(method, url.pathname);
      let instance = pinned ?? this.pick(this.instances.length);
      for (let attempt = 0; ; attempt++) {
        const started = performance.now();
        try {
          const response = await fetch(`${this.instances[instance]!.baseUrl}${url.pathname}${url.search}`, init);
          d.requestsPerInstance[instance]!++;
          (this.figures.http[endpoint] ??= []).push(performance.now() - started);
          const status = `${response.status}`;
          this.figures.httpStatus[status] = (this.figures.httpStatus[status] ?? 0) + 1;
          if (response.status >= 500 && response.status !== 503) {
            this.fail(
              `d${d.index} ${method} ${url.pathname} on instance ${instance + 1} → ${response.status} ` +
                `${(await response.clone().text()).slice(0, 300)}`,
            );
          } else if (response.status === 400) {
            this.fail(
              `d${d.index} ${method} ${url.pathname} on instance ${instance + 1} → 400 ` +
                `${(await response.clone().text()).slice(0, 300)}`,
            );
          }
          return response;
        } catch (error) {
          const code = (error as { cause?: { code?: string } }).cause?.code;
          if (code !== 'ECONNREFUSED' || pinned !== undefined || attempt >= this.instances.length * 2) throw error;
          this.figures.reroutedConnects++;
          instance = (instance + 1) % this.instances.length;
        }
      }
    };
  }

  private newClient(d: ScaleDevice, pinned?: number): Promise<OversqliteClient> {
    return OversqliteClient.open(d.db, {
      baseUrl: 'http://scale-out.invalid',
      tokenProvider: () => signToken(d.user),
      schema: 'business',
      tables: EXAMPLE_TABLES,
      retryPolicy: { enabled: true, maxAttempts: 4, initialBackoffMs: 20, maxBackoffMs: 200 },
      requestTimeoutMs: 30_000,
      fetch: this.fetchFor(d, pinned),
    });
  }

  private async openDevice(d: ScaleDevice): Promise<void> {
    d.db = new Database(d.path);
    d.db.pragma('journal_mode = WAL');
    d.db.exec(EXAMPLE_DEVICE_DDL);
    d.client = await this.newClient(d);
  }

  /** Opens and attaches every device, `parallel` at a time (first devices of each user first). */
  async setup(parallel = 25): Promise<void> {
    await runLimited(this.devices, parallel, async (d) => {
      await this.openDevice(d);
      await this.retry(`attach d${d.index}`, () => d.client.attach(d.user));
    });
  }

  async teardown(): Promise<void> {
    for (const d of this.devices) {
      await d.client?.close().catch(() => undefined);
      if (d.db?.open) d.db.close();
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async retry<T>(label: string, fn: () => Promise<T>, attempts = 20): Promise<T> {
    for (let i = 0; ; i++) {
      try {
        return await fn();
      } catch (error) {
        if (i >= attempts || !isExpected(error))
          throw new Error(`${label}: ${(error as Error).constructor.name}: ${(error as Error).message}`, {
            cause: error,
          });
        await sleep(100 + i * 50);
      }
    }
  }

  // ---- local writes ---------------------------------------------------------------------------------

  private newToken(): string {
    return `k${this.config.tag}.${++this.tokens}`;
  }

  /** 1–3 changes in one local transaction: insert a row, or update / delete one this device created. */
  private write(d: ScaleDevice): void {
    const live = [...d.rows].filter(([, token]) => token !== null).map(([id]) => id);
    const changes = 1 + this.pick(3);
    // a later local write of the same row replaces an unacknowledged one (only the last reaches the server)
    const supersede = (id: string) => {
      d.pending = d.pending.filter((w) => w.id !== id);
    };
    d.db.transaction(() => {
      for (let i = 0; i < changes; i++) {
        const roll = this.pick(10);
        const token = this.newToken();
        if (live.length === 0 || roll < 5) {
          const id = randomUUID();
          d.db
            .prepare('INSERT INTO users(id, name, email) VALUES (?, ?, ?)')
            .run(id, token, `${id.slice(0, 8)}@example.com`);
          d.rows.set(id, token);
          live.push(id);
          d.pending.push({ id, token });
        } else if (roll < 9) {
          const id = live[this.pick(live.length)]!;
          supersede(id);
          d.db.prepare('UPDATE users SET name = ? WHERE id = ?').run(token, id);
          d.rows.set(id, token);
          d.pending.push({ id, token });
        } else {
          const id = live.splice(this.pick(live.length), 1)[0]!;
          supersede(id);
          d.db.prepare('DELETE FROM users WHERE id = ?').run(id);
          d.rows.set(id, null);
          d.pending.push({ id, token: null });
        }
        this.figures.writes++;
      }
    })();
  }

  /** After a successful sync call: writes no longer queued on the device are acknowledged. */
  private acknowledge(d: ScaleDevice): void {
    if (d.pending.length === 0) return;
    const queued = new Set(
      (
        d.db
          .prepare('SELECT key_json FROM _sync_dirty_rows UNION ALL SELECT key_json FROM _sync_outbox_rows')
          .all() as { key_json: string }[]
      ).map((r) => String(Object.values(JSON.parse(r.key_json) as Record<string, unknown>)[0])),
    );
    const still: typeof d.pending = [];
    for (const w of d.pending) {
      if (queued.has(w.id)) still.push(w);
      else {
        this.acked.push({ user: d.user, device: d.index, id: w.id, token: w.token });
        this.figures.acked++;
      }
    }
    d.pending = still;
  }

  private queueEmpty(d: ScaleDevice): boolean {
    const n = d.db
      .prepare('SELECT (SELECT COUNT(*) FROM _sync_dirty_rows) + (SELECT COUNT(*) FROM _sync_outbox_rows) AS n')
      .get() as { n: number };
    return n.n === 0;
  }

  // ---- operations -----------------------------------------------------------------------------------

  private async op(d: ScaleDevice, kind: OpKind, fn: () => Promise<unknown>): Promise<boolean> {
    const started = performance.now();
    try {
      await fn();
      this.figures.ops[kind].push(performance.now() - started);
      return true;
    } catch (error) {
      const name = (error as Error)?.constructor?.name ?? 'unknown';
      const key = name === 'HttpStatusError' ? `HttpStatusError ${(error as { status?: number }).status}` : name;
      this.figures.errors[key] = (this.figures.errors[key] ?? 0) + 1;
      if (!isExpected(error)) this.fail(`d${d.index} ${kind}: ${name}: ${(error as Error)?.message?.slice(0, 300)}`);
      return false;
    }
  }

  /** A fresh install of the same user: a new SQLite file, attach hydrates from a snapshot. */
  private async reinstall(d: ScaleDevice): Promise<void> {
    await d.client.close();
    d.db.close();
    rmSync(d.path, { force: true });
    rmSync(`${d.path}-wal`, { force: true });
    rmSync(`${d.path}-shm`, { force: true });
    await this.openDevice(d);
    const ok = await this.op(d, 'hydrate', () => d.client.attach(d.user));
    // attach is retried until it lands (the device is useless without it)
    if (!ok) await this.retry(`re-attach d${d.index}`, () => d.client.attach(d.user));
  }

  /** One device's loop while `running()`. */
  async runDevice(d: ScaleDevice, running: () => boolean): Promise<void> {
    while (running()) {
      const roll = this.pick(100);
      if (roll < 50) {
        this.write(d);
        if (await this.op(d, 'write+sync', () => d.client.sync())) this.acknowledge(d);
      } else if (roll < 78) {
        await this.op(d, 'pull', () => d.client.pullToStable());
      } else if (roll < 92) {
        if (await this.op(d, 'sync', () => d.client.sync())) this.acknowledge(d);
      } else if (roll < 97) {
        // a snapshot rebuild keeps nothing local: only when every write is acknowledged
        if (
          (await this.op(d, 'sync', () => d.client.sync())) &&
          (this.acknowledge(d), d.pending.length === 0 && this.queueEmpty(d))
        ) {
          await this.op(d, 'rebuild', () => d.client.rebuild());
        }
      } else if (
        (await this.op(d, 'sync', () => d.client.sync())) &&
        (this.acknowledge(d), d.pending.length === 0 && this.queueEmpty(d))
      ) {
        await this.reinstall(d);
      }
      await sleep(this.pick(40));
    }
  }

  /** After the load: every device pushes what it has, then pulls to the end. */
  async quiesce(): Promise<void> {
    await runLimited(this.devices, 20, async (d) => {
      for (let i = 0; ; i++) {
        if ((await this.op(d, 'sync', () => d.client.sync())) && (this.acknowledge(d), this.queueEmpty(d))) break;
        if (i >= 20) {
          this.fail(`d${d.index} could not push its queue after the load`);
          return;
        }
        await sleep(200);
      }
    });
    await runLimited(this.devices, 20, async (d) => {
      await this.retry(`final pull d${d.index}`, () => d.client.pullToStable());
    });
  }
}

/** A watch stream of one user that follows the bundles wherever it can connect, resuming with Last-Event-ID. */
export class Watcher {
  lastSeq = 0;
  events = 0;
  reconnects = 0;
  private stream: SseStream | null = null;
  private stopped = false;
  private loop: Promise<void> | null = null;

  constructor(
    readonly user: string,
    private readonly instances: Instance[],
    private readonly choose: () => number,
  ) {}

  start(): void {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const instance = this.instances[this.choose()]!;
      try {
        const headers = syncHeaders(signToken(this.user), `watcher-${this.user}`);
        if (this.lastSeq > 0) headers['Last-Event-ID'] = String(this.lastSeq);
        const stream = await SseStream.open(`${instance.baseUrl}/sync/watch?after_bundle_seq=${this.lastSeq}`, headers);
        if (stream.status !== 200) {
          await sleep(200);
          continue;
        }
        this.stream = stream;
        for (;;) {
          if (this.stopped) break;
          let frame;
          try {
            frame = await stream.next((f) => f.event === 'bundle', 1000);
          } catch (error) {
            if ((error as Error).message.includes('ended')) break;
            continue;
          }
          const seq = Number(JSON.parse(frame.data ?? '{}').bundle_seq);
          if (seq > this.lastSeq) this.lastSeq = seq;
          this.events++;
        }
        await stream.close();
      } catch {
        // instance down: try another
      }
      if (!this.stopped) {
        this.reconnects++;
        await sleep(100);
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.stream?.close().catch(() => undefined);
    await this.loop;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function runLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}
