import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { HttpException, Inject, Injectable, type ExecutionContext, type OnModuleDestroy } from '@nestjs/common';
import {
  context as otelContext,
  ProxyTracerProvider,
  SpanStatusCode,
  trace,
  type Attributes,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { rawResponse } from '../http/wire-reply.js';
import { finalize, type Observable, tap } from 'rxjs';
import { Registry } from 'prom-client';
import { OVERSYNC_CONFIG, OVERSYNC_DATABASE } from '../oversync.constants.js';
import type { OversyncConfig } from '../oversync.config.js';
import type { SyncDatabase } from '../database/sync-database.js';
import { SyncLifecycle } from '../lifecycle/sync-lifecycle.js';
import { StageTimer, type StageSinks } from '../lifecycle/stage-timer.js';
import { BundleChangeHub } from '../watch/bundle-change-hub.js';
import { USER_LOCK_CHANNEL, type UserLockEvent } from '../database/user-lock.js';
import type { SweepResult } from '../retention/session-sweeper.js';
import { OversyncError } from '../errors/oversync.error.js';
import { syncRouteTemplate } from './sync-route-template.js';
import { OversyncMetrics } from './oversync-metrics.js';

const TRACER_NAME = '@oversync/nestjs';
/** What `@opentelemetry/api` delegates to while no SDK has registered a tracer provider (its no-op). */
const NO_OP_PROVIDER = new ProxyTracerProvider().getDelegate();

/**
 * False while no SDK is registered: every span would be the API's non-recording no-op, so nothing of
 * it (attributes, route template) is worth building. Checked per request: an SDK may start later.
 */
function tracerProviderRegistered(): boolean {
  const provider = trace.getTracerProvider();
  return !(provider instanceof ProxyTracerProvider) || provider.getDelegate() !== NO_OP_PROVIDER;
}

export interface SyncRequestOutcome {
  method: string;
  route: string;
  status: number;
  errorCode: string;
  seconds: number;
  /** a watch stream: its lifetime is no request duration */
  stream: boolean;
}

/**
 * The module's one place for metrics and spans. Services call it in one line per event; each call
 * is a no-op for what the host did not enable (`metrics`, `tracing`, `logging.stageTimings`).
 */
@Injectable()
export class OversyncTelemetry implements OnModuleDestroy {
  /** undefined unless `metrics.enabled` */
  readonly metrics: OversyncMetrics | undefined;
  private readonly tracer: Tracer | undefined;
  private readonly sinks: StageSinks;
  private readonly onUserLock = (message: unknown) => {
    const event = (message as UserLockEvent).outcome;
    if (event === 'waited') this.metrics?.userLockWaits.inc();
    else this.metrics?.userLockTimeouts.inc();
  };

  constructor(
    @Inject(OVERSYNC_CONFIG) config: OversyncConfig,
    @Inject(OVERSYNC_DATABASE) db: SyncDatabase,
    lifecycle: SyncLifecycle,
    hub: BundleChangeHub,
  ) {
    this.tracer = config.tracing.enabled ? trace.getTracer(TRACER_NAME) : undefined;
    this.sinks = { log: config.logging.stageTimings, tracer: this.tracer };
    if (!config.metrics.enabled) return;
    this.metrics = new OversyncMetrics(config.metrics.registry ?? new Registry(), config.metrics.prefix, {
      pool: () => {
        try {
          const pool = db.pool;
          return { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount };
        } catch {
          return undefined; // the host's DataSource is not initialized (yet, or any more)
        }
      },
      watchSubscribers: () => hub.subscriberCount(),
      inflightOperations: () => lifecycle.inflightOperations,
    });
    // lock waits are seen where the lock is taken (a free function shared by every service): a diagnostics channel
    subscribe(USER_LOCK_CHANNEL, this.onUserLock);
  }

  /** The registry the metrics are on (the host's, or the module's own); undefined unless `metrics.enabled`. */
  get registry(): Registry | undefined {
    return this.metrics?.registry;
  }

  onModuleDestroy(): void {
    if (!this.metrics) return;
    unsubscribe(USER_LOCK_CHANNEL, this.onUserLock);
    this.metrics.unregister();
  }

  /** Stage timer of one operation: child spans and/or logged timings, as configured. */
  timer(operation: string): StageTimer {
    return new StageTimer(operation, this.sinks);
  }

  /**
   * Runs a handler inside the span `oversync.<operation>` (a child of the host's HTTP span when there
   * is one); without `tracing.enabled` it is just `handle()`. Protocol refusals carry their code,
   * 5xx and unexpected errors mark the span as failed.
   */
  traceOperation<T>(context: ExecutionContext, operation: string, handle: () => Observable<T>): Observable<T> {
    const span = this.startOperationSpan(context, operation);
    if (!span) return handle();
    // Nest binds the handler's async context when handle() is called: call it inside the span's context
    return otelContext.with(trace.setSpan(otelContext.active(), span), handle).pipe(
      tap({ error: (error: unknown) => failSpan(span, error) }),
      finalize(() => endOperationSpan(span, context)),
    );
  }

  /** traceOperation for a handler called without an interceptor (errors/sync-endpoint-call.ts). */
  traceCall<T>(context: ExecutionContext, operation: string, call: () => Promise<T>): Promise<T> {
    const span = this.startOperationSpan(context, operation);
    if (!span) return call();
    return otelContext.with(trace.setSpan(otelContext.active(), span), call).then(
      (answer) => {
        endOperationSpan(span, context);
        return answer;
      },
      (error: unknown) => {
        failSpan(span, error);
        endOperationSpan(span, context);
        throw error;
      },
    );
  }

  /** The span `oversync.<operation>` of a request, or undefined when nothing would record it. */
  private startOperationSpan(context: ExecutionContext, operation: string): Span | undefined {
    if (!this.tracer || !tracerProviderRegistered()) return undefined;
    const req = context.switchToHttp().getRequest<{ method: string; originalUrl?: string; url: string }>();
    const span = this.tracer.startSpan(`oversync.${operation}`, {
      attributes: {
        'oversync.operation': operation,
        'http.request.method': req.method,
        'http.route': syncRouteTemplate((req.originalUrl ?? req.url).split('?')[0] ?? ''),
      },
    });
    // no SDK (or not sampled): nothing to carry
    if (span.isRecording()) return span;
    span.end();
    return undefined;
  }

  requestFinished(outcome: SyncRequestOutcome): void {
    if (!this.metrics) return;
    const labels = {
      method: outcome.method,
      route: outcome.route,
      status: String(outcome.status),
      error_code: outcome.errorCode,
    };
    this.metrics.requests.inc(labels);
    if (!outcome.stream) this.metrics.requestDuration.observe(labels, outcome.seconds);
  }

  /** A staged chunk of `rows` rows whose request body was `body`. */
  chunkStaged(rows: number, body: string): void {
    this.attributes({ 'oversync.rows': rows });
    if (!this.metrics) return;
    this.metrics.pushChunks.inc();
    this.metrics.pushRows.inc(rows);
    this.metrics.pushBytes.inc(Buffer.byteLength(body, 'utf8'));
  }

  committed(rows: number, seconds: number): void {
    this.attributes({ 'oversync.rows': rows });
    if (!this.metrics) return;
    this.metrics.bundlesCommitted.inc();
    this.metrics.bundleRowsCommitted.inc(rows);
    this.metrics.pushCommitDuration.observe(seconds);
  }

  /** A push_conflict refusal, counted by its registered table (`schema.table`). */
  conflict(error: OversyncError): void {
    const found = error.extra?.conflict as { schema?: string; table?: string } | undefined;
    const table = found?.table ? `${found.schema ?? 'public'}.${found.table}` : 'unknown';
    this.attributes({ 'oversync.conflict_table': table });
    this.metrics?.conflicts.inc({ table });
  }

  pulled(bundles: number, rows: number): void {
    this.attributes({ 'oversync.bundles': bundles, 'oversync.rows': rows });
    if (!this.metrics) return;
    this.metrics.pullBundles.inc(bundles);
    this.metrics.pullRows.inc(rows);
  }

  historyPruned(): void {
    this.metrics?.historyPruned.inc();
  }

  snapshotCreated(rows: number, seconds: number): void {
    this.attributes({ 'oversync.rows': rows });
    if (!this.metrics) return;
    this.metrics.snapshotSessions.inc();
    this.metrics.snapshotRows.inc(rows);
    this.metrics.snapshotDuration.observe(seconds);
  }

  watchEventSent(): void {
    this.metrics?.watchEventsSent.inc();
  }

  swept(result: SweepResult | 'failed'): void {
    if (!this.metrics) return;
    if (result === 'failed' || result.skipped) {
      this.metrics.sweeperRuns.inc({ outcome: result === 'failed' ? 'failed' : 'skipped' });
      return;
    }
    this.metrics.sweeperRuns.inc({ outcome: 'swept' });
    this.metrics.sweeperRowsRemoved.inc({ kind: 'push_sessions' }, result.pushSessions);
    this.metrics.sweeperRowsRemoved.inc({ kind: 'snapshot_sessions' }, result.snapshotSessions);
    this.metrics.sweeperRowsRemoved.inc({ kind: 'initialization_leases' }, result.initializationLeases);
  }

  /** Row counts on the active operation span. */
  private attributes(attributes: Attributes): void {
    if (this.tracer) trace.getActiveSpan()?.setAttributes(attributes);
  }
}

/** Ends a request's span with the answer's status, once the answer is sent. */
function endOperationSpan(span: Span, context: ExecutionContext): void {
  const res = rawResponse(context.switchToHttp().getResponse());
  if (res.headersSent) span.setAttribute('http.response.status_code', res.statusCode);
  span.end();
}

/** Runs before the endpoint maps unexpected errors: those count as 500 `internal_error` here. */
function failSpan(span: Span, error: unknown): void {
  const status =
    error instanceof OversyncError ? error.status : error instanceof HttpException ? error.getStatus() : 500;
  span.setAttribute(
    'oversync.error_code',
    error instanceof OversyncError ? error.code : status >= 500 ? 'internal_error' : 'http_exception',
  );
  span.setAttribute('http.response.status_code', status);
  if (status < 500) return;
  if (error instanceof Error) span.recordException(error);
  span.setStatus({
    code: SpanStatusCode.ERROR,
    message: error instanceof OversyncError ? error.code : 'internal_error',
  });
}
