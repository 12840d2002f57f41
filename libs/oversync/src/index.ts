export { OversyncModule } from './oversync.module.js';
export { OVERSYNC_MODULE_OPTIONS, OVERSYNC_OPTIONS_TYPE, OVERSYNC_ASYNC_OPTIONS_TYPE } from './oversync.module-definition.js';
export type { OversyncModuleOptions, OversyncLimits, OversyncWatchOptions, ActorResolver, WatchPolicy } from './oversync.options.js';
export { resolveOversyncConfig, OversyncOptionsError, type OversyncConfig } from './oversync.config.js';
export { OVERSYNC_CONFIG, OVERSYNC_DATABASE } from './oversync.constants.js';
export type { RegisteredTableConfig, RegisteredTable } from './schema/registered-table.js';
export { OversyncSchemaService } from './schema/oversync-schema.service.js';
export { UnsupportedSchemaError } from './schema/unsupported-schema.error.js';
export { oversyncSchemaStatements, oversyncSchemaSql, createOversyncSchemaMigration, type OversyncDdlTable } from './schema/schema-ddl.js';
export { OversyncActorGuard, SOURCE_ID_HEADER } from './auth/oversync-actor.guard.js';
export { Actor, type SyncActor } from './auth/sync-actor.js';
export { OversyncError } from './errors/oversync.error.js';
export { OversyncExceptionFilter } from './errors/oversync-exception.filter.js';
export { SyncDatabase } from './database/sync-database.js';
export { SyncLifecycle } from './lifecycle/sync-lifecycle.js';
export { CapabilitiesService } from './health/capabilities.service.js';
export { SyncStatusService } from './health/sync-status.service.js';
export type { CommittedBundle } from './bundle/bundle-capture.js';
export { WatchService } from './watch/watch.service.js';
export { BundleChangeListener } from './watch/bundle-change-listener.js';
export {
  OversyncScopeService, ADOPTION_SOURCE_ID,
  type ScopeWriteCallback, type ScopeWriter, type ScopeWriteResult, type SyncBundleSource, type SyncBundleResult, type AdoptionResult,
} from './scope/oversync-scope.service.js';
export { OversyncSessionSweeper, type SweepResult } from './retention/session-sweeper.js';
export { useSourceIdParameterRef, SOURCE_ID_PARAMETER_NAME, type OpenApiDocumentLike } from './openapi/sync-openapi.js';
/** The trimming the module applies to user and source ids (Go strings.TrimSpace), for hosts that resolve ids themselves. */
export { goTrimSpace } from '@oversync/protocol';
export { answerClientError, answerClientErrorsWithEnvelope, answerFrameworkError } from './http/client-error-envelope.js';
export { OversyncTelemetry } from './observability/oversync-telemetry.js';
export { OversyncMetrics } from './observability/oversync-metrics.js';
export { OversyncHealthService, type OversyncProcessHealth, type WatchListenerState } from './health/oversync-health.service.js';
export { OversyncHealthIndicator, type OversyncHealthCheckOptions } from './health/oversync-health.indicator.js';
export type { OversyncMetricsOptions, OversyncTracingOptions, OversyncLoggingOptions } from './oversync.options.js';
export { OversyncAdminModule } from './admin/oversync-admin.module.js';
export type { OversyncAdminModuleOptions } from './admin/oversync-admin.options.js';
