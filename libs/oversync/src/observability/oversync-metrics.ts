import { Counter, Gauge, Histogram, Registry, type Metric } from 'prom-client';

/** Seconds; from a 1-row round trip (ms) to a 100,000-row commit (s). */
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** What the gauges read when Prometheus scrapes (no work on the request path). */
export interface MetricsSources {
  pool(): { total: number; idle: number; waiting: number } | undefined;
  watchSubscribers(): number;
  inflightOperations(): number;
}

/**
 * The module's Prometheus metrics on one registry. Labels are low-cardinality only: route templates,
 * status codes, protocol error codes, registered table names, fixed kinds — never user or source ids.
 */
export class OversyncMetrics {
  readonly requests: Counter<'method' | 'route' | 'status' | 'error_code'>;
  readonly requestDuration: Histogram<'method' | 'route' | 'status' | 'error_code'>;
  readonly pushChunks: Counter;
  readonly pushRows: Counter;
  readonly pushBytes: Counter;
  readonly pushCommitDuration: Histogram;
  readonly bundlesCommitted: Counter;
  readonly bundleRowsCommitted: Counter;
  readonly conflicts: Counter<'table'>;
  readonly pullBundles: Counter;
  readonly pullRows: Counter;
  readonly historyPruned: Counter;
  readonly snapshotSessions: Counter;
  readonly snapshotRows: Counter;
  readonly snapshotDuration: Histogram;
  readonly watchEventsSent: Counter;
  readonly userLockWaits: Counter;
  readonly userLockTimeouts: Counter;
  readonly sweeperRuns: Counter<'outcome'>;
  readonly sweeperRowsRemoved: Counter<'kind'>;
  private readonly created: string[] = [];

  constructor(
    readonly registry: Registry,
    private readonly prefix: string,
    sources: MetricsSources,
  ) {
    const routeLabels = ['method', 'route', 'status', 'error_code'] as const;
    this.requests = this.counter(
      'requests_total',
      'Sync HTTP requests by route template, status and protocol error code',
      routeLabels,
    );
    this.requestDuration = this.histogram(
      'request_duration_seconds',
      'Sync HTTP request duration (watch streams excluded)',
      routeLabels,
    );
    this.pushChunks = this.counter('push_chunks_total', 'Push chunks staged');
    this.pushRows = this.counter('push_rows_total', 'Rows staged by push chunks');
    this.pushBytes = this.counter('push_bytes_total', 'Request body bytes of staged push chunks');
    this.pushCommitDuration = this.histogram(
      'push_commit_duration_seconds',
      'Push commit duration, lock wait included',
    );
    this.bundlesCommitted = this.counter('bundles_committed_total', 'Bundles committed by pushes');
    this.bundleRowsCommitted = this.counter('bundle_rows_committed_total', 'Rows of the bundles committed by pushes');
    this.conflicts = this.counter(
      'push_conflicts_total',
      'Push commits refused with push_conflict, by registered table',
      ['table'],
    );
    this.pullBundles = this.counter('pull_bundles_total', 'Bundles served by pulls');
    this.pullRows = this.counter('pull_rows_total', 'Rows of the bundles served by pulls');
    this.historyPruned = this.counter(
      'history_pruned_total',
      'Pulls answered history_pruned (the client rebuilds from a snapshot)',
    );
    this.snapshotSessions = this.counter('snapshot_sessions_total', 'Snapshot sessions created');
    this.snapshotRows = this.counter('snapshot_rows_total', 'Rows materialized into snapshot sessions');
    this.snapshotDuration = this.histogram('snapshot_duration_seconds', 'Snapshot session creation duration');
    this.watchEventsSent = this.counter('watch_events_sent_total', 'Bundle change events written to watch streams');
    this.userLockWaits = this.counter(
      'user_lock_waits_total',
      'Sync operations that found the user lock taken and waited',
    );
    this.userLockTimeouts = this.counter(
      'user_lock_timeouts_total',
      'Waits for the user lock that timed out (answered 503)',
    );
    this.sweeperRuns = this.counter('sweeper_runs_total', 'Background sweeps by outcome (swept, skipped, failed)', [
      'outcome',
    ]);
    this.sweeperRowsRemoved = this.counter(
      'sweeper_rows_removed_total',
      'Expired sessions and leases removed by the sweeper',
      ['kind'],
    );
    this.gauge('watch_subscribers', 'Open watch streams of this process', [], (g) => g.set(sources.watchSubscribers()));
    this.gauge('inflight_operations', 'Sync operations in flight in this process', [], (g) =>
      g.set(sources.inflightOperations()),
    );
    this.gauge(
      'db_pool_connections',
      'Connections of the pg pool the module uses, by state (total, idle, waiting)',
      ['state'],
      (g) => {
        const pool = sources.pool();
        if (!pool) return;
        g.set({ state: 'total' }, pool.total);
        g.set({ state: 'idle' }, pool.idle);
        g.set({ state: 'waiting' }, pool.waiting);
      },
    );
  }

  /** Removes the metrics this instance registered (a restarted app registers them again). */
  unregister(): void {
    for (const name of this.created.splice(0)) this.registry.removeSingleMetric(name);
  }

  private counter<L extends string = string>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    return (
      this.existing(name, Counter) ??
      this.register(name, new Counter<L>({ name: this.prefix + name, help, labelNames, registers: [this.registry] }))
    );
  }

  private histogram<L extends string = string>(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
  ): Histogram<L> {
    return (
      this.existing(name, Histogram) ??
      this.register(
        name,
        new Histogram<L>({
          name: this.prefix + name,
          help,
          labelNames,
          buckets: DURATION_BUCKETS,
          registers: [this.registry],
        }),
      )
    );
  }

  private gauge<L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    collect: (gauge: Gauge<L>) => void,
  ): void {
    if (this.existing(name, Gauge)) return;
    this.register(
      name,
      new Gauge<L>({
        name: this.prefix + name,
        help,
        labelNames,
        registers: [this.registry],
        collect() {
          collect(this);
        },
      }),
    );
  }

  /** A second module instance on the same registry (two apps in one process) shares the first one's metrics. */
  private existing<M extends Metric>(name: string, kind: abstract new (...args: never[]) => M): M | undefined {
    const metric = this.registry.getSingleMetric(this.prefix + name);
    if (metric === undefined) return undefined;
    if (!(metric instanceof kind))
      throw new Error(`metric ${this.prefix + name} is already registered with another type`);
    return metric;
  }

  private register<M extends Metric>(name: string, metric: M): M {
    this.created.push(this.prefix + name);
    return metric;
  }
}
