import { Inject, Module, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import { HttpAdapterHost, ModuleRef } from '@nestjs/core';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { ConfigurableOversyncModule, OVERSYNC_MODULE_OPTIONS } from './oversync.module-definition.js';
import {
  OVERSYNC_CONFIG,
  OVERSYNC_DATABASE,
  OVERSYNC_HOST_GUARDS,
  OVERSYNC_ROUTE_FALLBACK,
} from './oversync.constants.js';
import { resolveOversyncConfig } from './oversync.config.js';
import type { OversyncModuleOptions } from './oversync.options.js';
import { SyncDatabase } from './database/sync-database.js';
import { OversyncActorGuard } from './auth/oversync-actor.guard.js';
import { SyncLifecycle } from './lifecycle/sync-lifecycle.js';
import { OversyncSchemaService } from './schema/oversync-schema.service.js';
import { BundleAnnouncer } from './bundle/bundle-announcer.js';
import { ConnectService } from './connect/connect.service.js';
import { PushSessionService } from './push/push-session.service.js';
import { PullService } from './pull/pull.service.js';
import { CapabilitiesService } from './health/capabilities.service.js';
import { SyncStatusService } from './health/sync-status.service.js';
import { ConnectController } from './connect/connect.controller.js';
import { PushController } from './push/push.controller.js';
import { PullController } from './pull/pull.controller.js';
import { CapabilitiesController } from './health/capabilities.controller.js';
import { SyncxController } from './health/syncx.controller.js';
import { SyncBodyFirstLayer, SyncBodyMiddleware } from './http/sync-body.middleware.js';
import { useFallbackPathsOf } from './http/sync-fallback.controller.js';
import { SnapshotController } from './snapshot/snapshot.controller.js';
import { SnapshotSessionService } from './snapshot/snapshot-session.service.js';
import { OversyncScopeService } from './scope/oversync-scope.service.js';
import { OversyncSessionSweeper } from './retention/session-sweeper.js';
import { OversyncRetentionService } from './retention/oversync-retention.service.js';
import { WatchController } from './watch/watch.controller.js';
import { WatchService } from './watch/watch.service.js';
import { BundleChangeHub } from './watch/bundle-change-hub.js';
import { BundleChangeListener } from './watch/bundle-change-listener.js';
import { applyOpenApiDecorations } from './openapi/optional-swagger.js';
import { HealthIndicatorService } from '@nestjs/terminus';
import { OversyncTelemetry } from './observability/oversync-telemetry.js';
import { SyncRequestTelemetryMiddleware } from './observability/sync-request-telemetry.middleware.js';
import { OversyncHealthService } from './health/oversync-health.service.js';
import { OversyncHealthIndicator } from './health/oversync-health.indicator.js';

/**
 * Turns the host's PostgreSQL tables into a go-oversync compatible sync server:
 * `OversyncModule.forRoot({ tables, guards })`. Registers nothing global on the host; the catch-all
 * for unknown /sync paths and the routing-error handler only with `routeFallback: true`.
 */
@Module({
  // one per capability, in this order (the routes' and the OpenAPI paths' order);
  // SyncFallbackController (routeFallback) is appended after these by the module definition
  controllers: [
    ConnectController,
    PushController,
    PullController,
    CapabilitiesController,
    SyncxController,
    WatchController,
    SnapshotController,
  ],
  providers: [
    {
      provide: OVERSYNC_CONFIG,
      useFactory: (options: OversyncModuleOptions) => resolveOversyncConfig(options),
      inject: [OVERSYNC_MODULE_OPTIONS],
    },
    {
      provide: OVERSYNC_DATABASE,
      useFactory: (options: OversyncModuleOptions, moduleRef: ModuleRef) =>
        // resolved on first use: the host's DataSource may be created after this provider
        SyncDatabase.fromDataSource(
          () => moduleRef.get<DataSource>(getDataSourceToken(options.dataSourceName), { strict: false }),
          {
            preparedStatements: options.preparedStatements,
          },
        ),
      inject: [OVERSYNC_MODULE_OPTIONS, ModuleRef],
    },
    {
      provide: OVERSYNC_HOST_GUARDS,
      useFactory: (options: OversyncModuleOptions) => options.guards ?? [],
      inject: [OVERSYNC_MODULE_OPTIONS],
    },
    // OpenAPI metadata when the host has @nestjs/swagger (an optional peer); resolved before the host builds a document
    { provide: 'OVERSYNC_OPENAPI', useFactory: () => applyOpenApiDecorations() },
    // the fallback's wildcard in the router's own syntax; resolved before Nest registers the routes
    {
      provide: 'OVERSYNC_FALLBACK_PATHS',
      useFactory: (host: HttpAdapterHost) => useFallbackPathsOf(host.httpAdapter?.getType()),
      inject: [HttpAdapterHost],
    },
    OversyncActorGuard,
    SyncLifecycle,
    OversyncSchemaService,
    BundleAnnouncer,
    ConnectService,
    PushSessionService,
    PullService,
    CapabilitiesService,
    SyncStatusService,
    // before SyncBodyFirstLayer: on Fastify their onRequest hooks run in this order (telemetry sees body refusals)
    SyncRequestTelemetryMiddleware,
    SyncBodyMiddleware,
    SyncBodyFirstLayer,
    SnapshotSessionService,
    OversyncScopeService,
    OversyncSessionSweeper,
    OversyncRetentionService,
    BundleChangeHub,
    BundleChangeListener,
    WatchService,
    OversyncTelemetry,
    OversyncHealthService,
    // terminus' result builder has no dependencies: the indicator works without the host importing TerminusModule here
    HealthIndicatorService,
    OversyncHealthIndicator,
  ],
  exports: [
    OversyncTelemetry,
    OversyncHealthService,
    OversyncHealthIndicator,
    OVERSYNC_DATABASE,
    OversyncSchemaService,
    SyncLifecycle,
    CapabilitiesService,
    SyncStatusService,
    WatchService,
    BundleChangeListener,
    OversyncScopeService,
    OversyncSessionSweeper,
    OversyncRetentionService,
  ],
})
export class OversyncModule extends ConfigurableOversyncModule implements NestModule {
  constructor(
    @Inject(OVERSYNC_ROUTE_FALLBACK) private readonly routeFallback: boolean,
    private readonly adapterHost: HttpAdapterHost,
  ) {
    super();
  }

  configure(consumer: MiddlewareConsumer): void {
    // On Fastify both are native onRequest hooks (SyncRequestTelemetryMiddleware, SyncBodyFirstLayer):
    // middleware there runs through middie and Nest's wrapper on every request.
    if (this.adapterHost.httpAdapter?.getType() === 'fastify') return;
    // Only the module's own routes; telemetry first, so requests refused while reading the body count too.
    // (paths, not the controllers: the fallback's wildcard differs between Express' and Fastify's routers)
    consumer.apply(SyncRequestTelemetryMiddleware).forRoutes('sync', 'sync/*path', 'syncx', 'syncx/*path');
    // Only the module's own routes: the body is read here so parsing and errors follow the protocol.
    consumer
      .apply(SyncBodyMiddleware)
      .forRoutes(ConnectController, PushController, PullController, CapabilitiesController, SnapshotController);
  }
}
