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
  /** how often the background session sweeper runs (ms; default 60 s) */
  sweepIntervalMs?: number;
  /** named prepared statements (off behind PgBouncer transaction pooling without max_prepared_statements) */
  preparedStatements?: boolean;
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
    sweepIntervalMs: env.OVERSYNC_SWEEP_INTERVAL_MS ? Number(env.OVERSYNC_SWEEP_INTERVAL_MS) : undefined,
    preparedStatements: flag(env.OVERSYNC_PREPARED_STATEMENTS),
  };
}
