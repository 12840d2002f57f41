// What a host needs; the module's DI tokens, its database wrapper and lifecycle stay internal (deep imports in tests).
export { OversyncModule } from './oversync.module.js';
export type { OversyncModuleExtras } from './oversync.module-definition.js';
export type {
  OversyncModuleOptions,
  OversyncLimits,
  OversyncWatchOptions,
  ActorResolver,
  WatchPolicy,
} from './oversync.options.js';
export { resolveOversyncConfig, OversyncOptionsError, type OversyncConfig } from './oversync.config.js';
export type { RegisteredTableConfig, RegisteredTable } from './schema/registered-table.js';
export { OversyncSchemaService } from './schema/oversync-schema.service.js';
export { UnsupportedSchemaError } from './schema/unsupported-schema.error.js';
export {
  oversyncSchemaStatements,
  oversyncSchemaSql,
  createOversyncSchemaMigration,
  type OversyncDdlTable,
} from './schema/schema-ddl.js';
export { OversyncActorGuard } from './auth/oversync-actor.guard.js';
/** The source header's name, as the protocol spells it (for a host's CORS `allowedHeaders`). */
export { SOURCE_ID_HEADER } from '@oversync/protocol';
export { Actor, type SyncActor } from './auth/sync-actor.js';
export { OversyncError } from './errors/oversync.error.js';
export { OversyncExceptionFilter } from './errors/oversync-exception.filter.js';
export { CapabilitiesService } from './health/capabilities.service.js';
export { SyncStatusService } from './health/sync-status.service.js';
export type { CommittedBundle } from './bundle/bundle-capture.js';
export { WatchService } from './watch/watch.service.js';
export { BundleChangeListener } from './watch/bundle-change-listener.js';
export {
  OversyncScopeService,
  ADOPTION_SOURCE_ID,
  type ScopeWriteCallback,
  type ScopeWriter,
  type ScopeWriteResult,
  type SyncBundleSource,
  type SyncBundleResult,
  type AdoptionResult,
} from './scope/oversync-scope.service.js';
export { OversyncSessionSweeper, type SweepResult } from './retention/session-sweeper.js';
export { OversyncRetentionService } from './retention/oversync-retention.service.js';
export { useSourceIdParameterRef, SOURCE_ID_PARAMETER_NAME, type OpenApiDocumentLike } from './openapi/sync-openapi.js';
/**
 * The trimming the module applies to user and source ids (Go strings.TrimSpace), for hosts that resolve ids themselves.
 */
export { goTrimSpace } from '@oversync/protocol';
export {
  answerClientError,
  answerClientErrorsWithEnvelope,
  answerFrameworkError,
} from './http/client-error-envelope.js';
export { OversyncTelemetry } from './observability/oversync-telemetry.js';
export { OversyncMetrics } from './observability/oversync-metrics.js';
export {
  OversyncHealthService,
  type OversyncProcessHealth,
  type WatchListenerState,
} from './health/oversync-health.service.js';
export { OversyncHealthIndicator, type OversyncHealthCheckOptions } from './health/oversync-health.indicator.js';
export type { OversyncMetricsOptions, OversyncTracingOptions, OversyncLoggingOptions } from './oversync.options.js';
export { OversyncAdminModule } from './admin/oversync-admin.module.js';
export type { OversyncAdminModuleOptions } from './admin/oversync-admin.options.js';
