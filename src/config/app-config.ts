/** The reference app's settings, from the environment (README "Configuration"). */
export interface AppConfig {
  port: number;
  host: string;
  databaseUrl: string;
  jwtSecret: string;
  businessSchema: string;
  /** POST /dummy-signin: on unless NODE_ENV=production, or forced by OVERSYNC_DUMMY_SIGNIN=true|false */
  dummySignin: boolean;
  /** /test/* routes of the reference example (never on by default) */
  testEndpoints: boolean;
  /** GET /sync/watch over SSE */
  watch: boolean;
  /** watch heartbeat interval (ms; default 25 s) and subscriber caps per user / per process */
  watchHeartbeatMs?: number;
  watchMaxSubscribersPerUser?: number;
  watchMaxSubscribersPerProcess?: number;
  /** largest sync request body (bytes) */
  maxBodyBytes?: number;
  /** wait for a user's sync lock before a retryable 503 (ms) */
  userLockTimeoutMs?: number;
  /** bundles of history kept per user (default 10000); older ones are pruned */
  retainedBundlesPerUser?: number;
  /** Prometheus metrics of the sync module on prom-client's global registry, served at GET /metrics */
  metrics: boolean;
  /** OpenTelemetry spans of sync operations (recorded only when an SDK is registered) */
  tracing: boolean;
  /** the module's structured line per sync request, and per-stage timings of push chunk and commit */
  logRequests: boolean;
  logStageTimings: boolean;
  /** pino level of the JSON logs */
  logLevel: string;
}

export const APP_CONFIG = Symbol('APP_CONFIG');

const flag = (value: string | undefined): boolean | undefined =>
  value === undefined ? undefined : ['1', 'true', 'yes'].includes(value.trim().toLowerCase());

export function appConfigFromEnv(databaseUrl: string, env: NodeJS.ProcessEnv = process.env): AppConfig {
  return {
    port: Number(env.PORT ?? 8080),
    host: env.HOST ?? '127.0.0.1',
    databaseUrl,
    jwtSecret: env.JWT_SECRET ?? 'your-secret-key-change-in-production',
    businessSchema: env.BUSINESS_SCHEMA?.trim() || 'business',
    dummySignin: flag(env.OVERSYNC_DUMMY_SIGNIN) ?? env.NODE_ENV !== 'production',
    testEndpoints: flag(env.OVERSYNC_TEST_ENDPOINTS) ?? false,
    watch: flag(env.OVERSYNC_WATCH) ?? true,
    watchHeartbeatMs: env.OVERSYNC_WATCH_HEARTBEAT_MS ? Number(env.OVERSYNC_WATCH_HEARTBEAT_MS) : undefined,
    watchMaxSubscribersPerUser: env.OVERSYNC_WATCH_MAX_PER_USER ? Number(env.OVERSYNC_WATCH_MAX_PER_USER) : undefined,
    watchMaxSubscribersPerProcess: env.OVERSYNC_WATCH_MAX_PER_PROCESS ? Number(env.OVERSYNC_WATCH_MAX_PER_PROCESS) : undefined,
    maxBodyBytes: env.OVERSYNC_MAX_BODY_BYTES ? Number(env.OVERSYNC_MAX_BODY_BYTES) : undefined,
    userLockTimeoutMs: env.OVERSYNC_USER_LOCK_TIMEOUT_MS ? Number(env.OVERSYNC_USER_LOCK_TIMEOUT_MS) : undefined,
    retainedBundlesPerUser: env.OVERSYNC_RETAINED_BUNDLES_PER_USER ? Number(env.OVERSYNC_RETAINED_BUNDLES_PER_USER) : undefined,
    metrics: flag(env.OVERSYNC_METRICS) ?? true,
    tracing: flag(env.OVERSYNC_TRACING) ?? true,
    logRequests: flag(env.OVERSYNC_LOG_REQUESTS) ?? true,
    logStageTimings: flag(env.OVERSYNC_LOG_STAGE_TIMINGS) ?? false,
    logLevel: env.LOG_LEVEL?.trim() || 'info',
  };
}
