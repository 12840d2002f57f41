/**
 * Devices for client ⇄ server e2e suites: a SQLite file with the reference app's tables and an
 * `OversqliteClient` signed in against a `startTestApp()` server, plus PostgreSQL reads of the
 * server's business rows for comparisons.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from '@jest/globals';
import pg from 'pg';
import { OversqliteClient, type OversqliteClientOptions } from '@oversync/client-node';
import { EXAMPLE_DEVICE_DDL, EXAMPLE_TABLES } from '../../apps/client-node/src/example-schema.js';
import { LoopbackProxy } from '../support/loopback-proxy.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

export interface ServerContext {
  t: TestApp;
  pg: pg.Client;
}

/** Folders of this suite's device files, removed when the suite's server stops. */
const deviceDirs: string[] = [];

/** Starts the reference app and a PostgreSQL connection for the suite; both end after it. */
export function useTestServer(): ServerContext {
  const context = {} as ServerContext;
  beforeAll(async () => {
    context.t = await startTestApp();
    context.pg = await connectPg(context.t);
  });
  afterAll(async () => {
    await context.pg.end();
    await context.t.close();
    for (const dir of deviceDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  return context;
}

/** A loopback proxy in front of the suite's server (see test/support/loopback-proxy.ts), started after it. */
export function useProxy(server: ServerContext): { proxy: LoopbackProxy } {
  const context = {} as { proxy: LoopbackProxy };
  beforeAll(async () => {
    context.proxy = await LoopbackProxy.start(server.t.baseUrl);
  });
  afterAll(async () => {
    await context.proxy.close();
  });
  return context;
}

export interface Device {
  readonly path: string;
  db: Database.Database;
  client: OversqliteClient;
  /** Simulates a process kill + restart: drops the client object and reopens the file. */
  restart(options?: Partial<OversqliteClientOptions>): Promise<void>;
  close(): Promise<void>;
}

/** A device of `user` (its SQLite file holds the example tables), its client open. Not attached. */
export async function newDevice(
  t: TestApp,
  user: string,
  options: Partial<OversqliteClientOptions> = {},
): Promise<Device> {
  const dir = mkdtempSync(join(tmpdir(), 'oversync-device-'));
  deviceDirs.push(dir);
  const path = join(dir, 'device.sqlite');
  let token: string | null = null;
  const make = (db: Database.Database, extra: Partial<OversqliteClientOptions>) =>
    OversqliteClient.open(db, {
      baseUrl: t.baseUrl,
      tokenProvider: async () => (token ??= await t.signIn(user)),
      schema: 'business',
      tables: EXAMPLE_TABLES,
      retryPolicy: { enabled: true, maxAttempts: 3, initialBackoffMs: 5, maxBackoffMs: 20 },
      ...options,
      ...extra,
    });
  const db = new Database(path);
  db.exec(EXAMPLE_DEVICE_DDL);
  const device: Device = {
    path,
    db,
    client: await make(db, {}),
    async restart(extra = {}) {
      await device.client.close();
      device.db.close();
      device.db = new Database(path);
      device.client = await make(device.db, extra);
    },
    async close() {
      await device.client.close();
      device.db.close();
    },
  };
  return device;
}

/** A device that is open and attached. */
export async function attachedDevice(
  t: TestApp,
  user: string,
  options: Partial<OversqliteClientOptions> = {},
): Promise<Device> {
  const device = await newDevice(t, user, options);
  await device.client.attach(user);
  return device;
}

/** Server rows of a business table for one user, as text columns, ordered by id. */
export async function serverRows(
  pgClient: pg.Client,
  user: string,
  table: string,
  columns: string,
): Promise<Record<string, string | null>[]> {
  const result = await pgClient.query(
    `SELECT ${columns} FROM business.${table} WHERE _sync_scope_id = $1 ORDER BY id`,
    [user],
  );
  return result.rows as Record<string, string | null>[];
}

export async function connectPg(t: TestApp): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: t.db.url });
  await client.connect();
  return client;
}

export async function bundleCount(pgClient: pg.Client, user: string): Promise<number> {
  const result = await pgClient.query(
    'SELECT COUNT(*)::int AS n FROM sync.bundle_log bl JOIN sync.user_state us ON us.user_pk = bl.user_pk ' +
      'WHERE us.user_id = $1',
    [user],
  );
  return (result.rows[0] as { n: number }).n;
}

export async function injectFailure(t: TestApp, endpoint: string, count: number, status: number): Promise<void> {
  const response = await fetch(`${t.baseUrl}/test/failures`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ endpoint, count, status }),
  });
  if (response.status !== 200)
    throw new Error(`arming failure injector failed: ${response.status} ${await response.text()}`);
}

export async function setRetentionFloor(t: TestApp, user: string, floor: number): Promise<void> {
  const response = await fetch(`${t.baseUrl}/test/retention-floor`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ user_id: user, retained_bundle_floor: floor }),
  });
  if (response.status !== 200)
    throw new Error(`setting the retention floor failed: ${response.status} ${await response.text()}`);
}

export async function watchSubscribers(t: TestApp, user: string): Promise<number> {
  const response = await fetch(`${t.baseUrl}/test/watch-subscribers?user_id=${encodeURIComponent(user)}`);
  return ((await response.json()) as { subscriber_count: number }).subscriber_count;
}

export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export interface DirtyRowView {
  table_name: string;
  key_json: string;
  op: string;
  base_row_version: number;
  payload: string | null;
  dirty_ordinal: number;
}

/** The device's dirty-row queue in capture order. */
export function dirtyRows(db: Database.Database): DirtyRowView[] {
  return db
    .prepare(
      'SELECT table_name, key_json, op, base_row_version, payload, dirty_ordinal FROM _sync_dirty_rows ORDER ' +
        'BY dirty_ordinal',
    )
    .all() as DirtyRowView[];
}

/** The frozen outbox: its state and row count. */
export function outboxState(db: Database.Database): { state: string; rows: number } {
  const bundle = db.prepare('SELECT state FROM _sync_outbox_bundle').get() as { state: string };
  const rows = db.prepare('SELECT COUNT(*) AS n FROM _sync_outbox_rows').get() as { n: number };
  return { state: bundle.state, rows: rows.n };
}

/** Local users as the server renders them (id, name, email), ordered by id. */
export function localUsers(device: Device): Record<string, string | null>[] {
  return device.db.prepare('SELECT id, name, email FROM users ORDER BY id').all() as Record<string, string | null>[];
}

/** The UUID text of a 16-byte key. */
export function formatUuid(bytes: Buffer): string {
  const h = bytes.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
