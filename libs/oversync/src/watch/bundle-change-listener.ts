import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import {
  BUNDLE_CHANGE_LISTENER_BACKOFF_MAX_MS,
  BUNDLE_CHANGE_LISTENER_BACKOFF_MIN_MS,
  decodeBundleChangeNotification,
} from '@oversync/protocol';
import pg from 'pg';
import { OVERSYNC_CONFIG, OVERSYNC_DATABASE } from '../oversync.constants.js';
import type { OversyncConfig } from '../oversync.config.js';
import type { SyncDatabase } from '../database/sync-database.js';
import { quoteIdentifier } from '../database/sql-quote.js';
import { SyncLifecycle } from '../lifecycle/sync-lifecycle.js';
import { BundleChangeHub } from './bundle-change-hub.js';

/** Drops the rows of backends that are gone, then (re)registers `listenerId` with this backend's pid. */
function registerSql(listenerId: string): string {
  if (!/^[0-9a-f-]{36}$/.test(listenerId)) throw new Error(`invalid listener id ${listenerId}`);
  return (
    'DELETE FROM sync.watch_listeners WHERE backend_pid NOT IN (SELECT pid FROM pg_stat_activity); ' +
    `INSERT INTO sync.watch_listeners (listener_id, backend_pid) VALUES ('${listenerId}', pg_backend_pid()) ` +
    'ON CONFLICT (listener_id) DO UPDATE SET backend_pid = EXCLUDED.backend_pid, since = now()'
  );
}

/** Waits for the commits that hold the registry's lock shared (they may have read it before this row). */
const REGISTRY_BARRIER = 'SELECT sync.watch_listeners_barrier()';
const UNREGISTER = 'DELETE FROM sync.watch_listeners WHERE listener_id = $1';

/**
 * The process's one LISTEN connection (spec §4.14 "Listener"): a dedicated `pg.Client` built from
 * the host pool's settings, so it never holds a pooled connection. After every (re)connect it
 * publishes each watched user's latest sequence, covering NOTIFYs sent while it was down.
 * Reconnects after 100 ms, doubling to 2 s (never reset, as the reference).
 *
 * Unlike the reference it LISTENs only while the process has a watch stream (and `listenLingerMs`
 * after the last one closed): every commit's NOTIFY otherwise wakes this connection and its backend
 * for nothing (≈ 45-55 µs of CPU per commit per such process, README "Performance"). A stream's
 * subscribe awaits `listen()` before reading the user's latest sequence, so no commit falls between.
 *
 * While it LISTENs its row (`hub.listenerId`, its backend pid) is in `sync.watch_listeners`: commits NOTIFY only
 * while another process has a row there (`sync.notify_bundle`). Registering commits the row with the LISTEN,
 * then waits for the transactions holding the registry's advisory lock at that moment
 * (`sync.watch_listeners_barrier`): every commit that may have read the registry before the row was visible;
 * whatever reads the latest sequences after that (catch-up, a subscription) sees those commits, and every later
 * commit notifies. Rows of backends that are gone (a crashed process) are deleted at each registration; until
 * then they only cost needless NOTIFYs.
 */
@Injectable()
export class BundleChangeListener implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Oversync');
  private client: pg.Client | undefined;
  private pid: number | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private backoffMs = BUNDLE_CHANGE_LISTENER_BACKOFF_MIN_MS;
  private stopped = false;
  /** LISTEN is in effect on `client` */
  private listening = false;
  /** LISTEN / UNLISTEN run one at a time, each deciding on the hub as it is when it runs */
  private listenQueue: Promise<void> = Promise.resolve();
  private lingerTimer: NodeJS.Timeout | undefined;

  constructor(
    @Inject(OVERSYNC_CONFIG) private readonly config: OversyncConfig,
    @Inject(OVERSYNC_DATABASE) private readonly db: SyncDatabase,
    private readonly hub: BundleChangeHub,
    lifecycle: SyncLifecycle,
  ) {
    lifecycle.onClose(() => void this.stop());
    hub.onEmpty(() => {
      clearTimeout(this.lingerTimer);
      this.lingerTimer = setTimeout(() => {
        this.lingerTimer = undefined;
        if (this.client) void this.reconcile(this.client);
      }, this.config.watch.listenLingerMs);
      this.lingerTimer.unref();
    });
  }

  /** PostgreSQL backend pid of the LISTEN connection while it is up. */
  get backendPid(): number | undefined {
    return this.pid;
  }

  /** Whether the connection LISTENs now (only while the process has watch streams, or lingers after them). */
  get isListening(): boolean {
    return this.listening;
  }

  /**
   * Resolves once the connection LISTENs, for a subscription just registered with the hub (a connecting
   * session's LISTEN waits for its connect). While the connection is down it resolves at once: the next
   * session LISTENs before its catch-up, which announces the user's latest sequence.
   */
  async listen(): Promise<void> {
    clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    if (this.client) await this.reconcile(this.client);
  }

  /** The first session is awaited, so a stream opened once the app listens already gets every commit. */
  async onApplicationBootstrap(): Promise<void> {
    if (this.config.watch.enabled) await this.startSession();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.stop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.lingerTimer);
    const client = this.client;
    this.client = undefined;
    this.pid = undefined;
    const listening = this.listening;
    this.listening = false;
    if (client && listening) await client.query(UNREGISTER, [this.hub.listenerId]).catch(() => undefined);
    await client?.end().catch(() => undefined);
  }

  private async startSession(): Promise<void> {
    this.retryTimer = undefined;
    if (this.stopped) return;
    let client: pg.Client;
    try {
      const options = this.db.pool.options;
      client = new pg.Client({
        ...options,
        application_name: options.application_name ?? 'oversync-watch-listener',
        keepAlive: true,
      });
    } catch (error) {
      return this.retryLater(error);
    }
    this.client = client;
    let failed = false;
    const fail = (error: unknown) => {
      if (failed) return;
      failed = true;
      client.removeAllListeners('notification');
      if (this.client === client) {
        this.client = undefined;
        this.pid = undefined;
        this.listening = false;
      }
      void client.end().catch(() => undefined);
      this.retryLater(error);
    };
    client.on('error', fail);
    client.on('end', () => fail(new Error('connection ended')));
    client.on('notification', (notification) => this.onNotification(notification));
    try {
      const connected = client.connect();
      // a subscription's LISTEN queued from now on runs once connected (or fails with the connection)
      this.listenQueue = connected.then(
        () => undefined,
        () => undefined,
      );
      await connected;
      const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      await this.reconcile(client);
      // up (for health and tests) once it LISTENs where a stream wants it
      if (this.client === client) this.pid = rows[0]?.pid;
      await this.catchUp(client);
    } catch (error) {
      fail(error);
    }
  }

  private retryLater(error: unknown): void {
    if (this.stopped) return;
    this.logger.warn(
      `Bundle change listener session failed: ${error instanceof Error ? error.message : String(error)}; ` +
        `reconnecting in ${this.backoffMs} ms`,
    );
    this.retryTimer = setTimeout(() => void this.startSession(), this.backoffMs);
    this.backoffMs = Math.min(this.backoffMs * 2, BUNDLE_CHANGE_LISTENER_BACKOFF_MAX_MS);
  }

  /**
   * LISTEN while the hub has subscriptions (or lingers), UNLISTEN otherwise. A failed statement ends the
   * connection, whose reconnect starts over (LISTEN, then catch-up).
   */
  private reconcile(client: pg.Client): Promise<void> {
    const step = this.listenQueue.then(async () => {
      const wanted = this.hub.subscriberCount() > 0 || this.lingerTimer !== undefined;
      if (this.client !== client || wanted === this.listening) return;
      const channel = quoteIdentifier(this.config.watch.notifyChannel);
      try {
        if (wanted) {
          // one implicit transaction (simple protocol): the row and the LISTEN take effect together
          await client.query(`${registerSql(this.hub.listenerId)}; LISTEN ${channel}`);
          await client.query(REGISTRY_BARRIER);
        } else {
          await client.query(`UNLISTEN ${channel}`);
          await client.query(UNREGISTER, [this.hub.listenerId]);
        }
        if (this.client === client) this.listening = wanted;
      } catch {
        void client.end().catch(() => undefined);
      }
    });
    this.listenQueue = step;
    return step;
  }

  /** Runs on the LISTEN connection after LISTEN, so no commit falls between the two. */
  private async catchUp(client: pg.Client): Promise<void> {
    const userPks = this.hub.userPks();
    if (userPks.length === 0) return;
    const { rows } = await client.query<{ user_pk: string; latest: string }>(
      'SELECT user_pk::text AS user_pk, (next_bundle_seq - 1)::text AS latest FROM sync.user_state WHERE ' +
        'user_pk = ANY($1::bigint[])',
      [userPks],
    );
    for (const row of rows) this.hub.publish(row.user_pk, { bundleSeq: BigInt(row.latest) });
  }

  private onNotification(notification: pg.Notification): void {
    if (notification.channel !== this.config.watch.notifyChannel) return;
    const decoded = decodeBundleChangeNotification(notification.payload ?? '');
    if (!decoded) {
      this.logger.warn(`Ignored invalid bundle change notification: ${notification.payload ?? ''}`);
      return;
    }
    this.hub.publish(decoded.user_pk.toString(), {
      bundleSeq: decoded.bundle_seq,
      sourceId: decoded.source_id,
      sourceBundleId: decoded.source_bundle_id,
    });
  }
}
