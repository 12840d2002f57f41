import type { ExecutionContext } from '@nestjs/common';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { of, lastValueFrom } from 'rxjs';
import { Registry } from 'prom-client';
// the built module, as `@oversync/nestjs` resolves under tsx; internals by deep import
import { OversyncTelemetry } from '../../libs/oversync/dist/observability/oversync-telemetry.js';
import { resolveOversyncConfig } from '../../libs/oversync/dist/oversync.config.js';
import { SyncDatabase } from '../../libs/oversync/dist/database/sync-database.js';
import { SyncLifecycle } from '../../libs/oversync/dist/lifecycle/sync-lifecycle.js';
import { BundleChangeHub } from '../../libs/oversync/dist/watch/bundle-change-hub.js';

type Mode = 'off' | 'metrics' | 'metricsTracing' | 'metricsTracingSdk';

/**
 * What the module's instrumentation does for one 1-row round trip (create, chunk, commit, pull), without the sync work.
 */
async function roundTrip(telemetry: OversyncTelemetry): Promise<void> {
  const request = async (route: string, operation: string, work: () => void) => {
    const req = { method: 'POST', originalUrl: route };
    const res = { headersSent: true, statusCode: 200 };
    const ctx = {
      switchToHttp: () => ({ getRequest: () => req, getResponse: () => res }),
    } as unknown as ExecutionContext;
    const start = performance.now();
    await lastValueFrom(
      telemetry.traceOperation(ctx, operation, () => {
        work();
        return of(undefined);
      }),
    );
    telemetry.requestFinished({
      method: 'POST',
      route,
      status: 200,
      errorCode: '',
      seconds: (performance.now() - start) / 1000,
      stream: false,
    });
  };
  await request('/sync/push-sessions', 'push_session_create', () => undefined);
  await request('/sync/push-sessions/x/chunks', 'push_chunk', () => {
    const timer = telemetry.timer('push_chunk');
    for (const stage of ['parse', 'lock', 'session']) timer.mark(stage);
    timer.mark('stage', { 'oversync.rows': 1 });
    timer.done();
    telemetry.chunkStaged(1, '{"start_row_ordinal":0,"rows":[{"schema":"business","table":"users"}]}');
  });
  await request('/sync/push-sessions/x/commit', 'push_session_commit', () => {
    const timer = telemetry.timer('push_commit');
    for (const stage of [
      'lock',
      'stage',
      'conflicts',
      'apply',
      'capture',
      'canonicalize',
      'hash',
      'finalize',
      'retention',
      'notify',
    ])
      timer.mark(stage, { 'oversync.rows': 1 });
    telemetry.committed(1, timer.done());
  });
  await request('/sync/pull', 'pull', () => telemetry.pulled(1, 1));
}

function telemetryFor(mode: Mode): OversyncTelemetry {
  const config = resolveOversyncConfig({
    tables: [],
    metrics: { enabled: mode !== 'off', registry: new Registry() },
    tracing: { enabled: mode === 'metricsTracing' || mode === 'metricsTracingSdk' },
  });
  const lifecycle = new SyncLifecycle();
  return new OversyncTelemetry(
    config,
    SyncDatabase.fromPool({ totalCount: 0, idleCount: 0, waitingCount: 0 } as never),
    lifecycle,
    new BundleChangeHub(config, lifecycle),
  );
}

/**
 * CPU cost of the module's instrumentation per 1-row round trip, measured in this process (µs): a
 * figure the machine's load barely moves, unlike the servers' wall-clock comparison.
 */
export async function measureInstrumentationCost(iterations = 20_000): Promise<Record<Mode, number>> {
  const result = {} as Record<Mode, number>;
  for (const mode of ['off', 'metrics', 'metricsTracing', 'metricsTracingSdk'] as Mode[]) {
    if (mode === 'metricsTracingSdk') {
      const discard: SpanExporter = { export: (_spans, done) => done({ code: 0 }), shutdown: () => Promise.resolve() };
      context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
      trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(discard)] }));
    }
    const telemetry = telemetryFor(mode);
    for (let i = 0; i < iterations / 4; i++) await roundTrip(telemetry);
    const start = process.cpuUsage();
    for (let i = 0; i < iterations; i++) await roundTrip(telemetry);
    const used = process.cpuUsage(start);
    result[mode] = (used.user + used.system) / iterations;
    telemetry.onModuleDestroy();
  }
  trace.disable();
  context.disable();
  return result;
}
