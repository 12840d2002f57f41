import { ConfigModule } from '@nestjs/config';

/** The reference app's settings, from the environment (README "Configuration of the reference app"). */
export interface AppConfig {
  /** HTTP platform (HTTP_ADAPTER=fastify|express; default fastify, the lower cost per request). */
  httpAdapter: 'express' | 'fastify';
  port: number;
  host: string;
  databaseUrl: string;
  jwtSecret: string;
  /** verified bearer tokens remembered until they expire (JWT_CACHE_ENTRIES, default 4096; 0 = verify every request) */
  jwtCacheEntries: number;
  businessSchema: string;
  /** NODE_ENV=production: safe defaults below, and the development JWT secret is refused */
  production: boolean;
  /** POST /dummy-signin: on unless NODE_ENV=production, or forced by OVERSYNC_DUMMY_SIGNIN=true|false */
  dummySignin: boolean;
  /** Swagger UI at /docs and the document at /docs-json: on unless NODE_ENV=production (OVERSYNC_DOCS) */
  docs: boolean;
  /** CORS origins (CORS_ORIGINS, comma-separated); '*' = any; empty = CORS off. Default '*', none in production */
  corsOrigins: string[];
  /** Express `trust proxy` (TRUST_PROXY): hop count, true, or a list of addresses; off by default */
  trustProxy?: number | boolean | string;
  /** /test/* routes of the reference example (never on by default) */
  testEndpoints: boolean;
  /** GET /sync/watch over SSE */
  watch: boolean;
  /** watch heartbeat interval (ms; default 25 s) and subscriber caps per user / per process */
  watchHeartbeatMs?: number;
  watchListenLingerMs?: number;
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
  /** connections of the app's PostgreSQL pool (OVERSYNC_DB_POOL_MAX_CONNS, default 50) */
  poolMax: number;
  /** Prometheus metrics of the sync module on prom-client's global registry, served at GET /metrics */
  metrics: boolean;
  /** OpenTelemetry spans of sync operations (recorded only when an SDK is registered) */
  tracing: boolean;
  /** the module's structured line per sync request, and per-stage timings of push chunk and commit */
  logRequests: boolean;
  logStageTimings: boolean;
  /** pino level of the JSON logs */
  logLevel: string;
  /**
   * log lines gathered up to this many bytes (or one second) per write to stdout (LOG_BUFFER_BYTES,
   * default 4096; 0 = each line at once)
   */
  logBufferBytes: number;
  /**
   * every line written while a request runs carries its `reqId` (LOG_REQUEST_CONTEXT): an AsyncLocalStorage
   * context per request; default on only where that is cheap (`asyncContextFrames()`)
   */
  logRequestContext: boolean;
}

/** The environment before a database is chosen: everything but its URL (DATABASE_URL may be unset). */
export type AppEnvironment = Omit<AppConfig, 'databaseUrl'> & { databaseUrl?: string; pgPort?: number };

export const APP_CONFIG = Symbol('APP_CONFIG');

/** The development secret: refused when NODE_ENV=production. */
export const DEVELOPMENT_JWT_SECRET = 'your-secret-key-change-in-production';

/** A setting that is wrong; the message names the variable and what it must be. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, unknown>;

function text(env: Env, name: string): string | undefined {
  const value = env[name];
  // the environment holds text; a validated config object may also hold numbers and booleans
  if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') return undefined;
  const trimmed = String(value).trim();
  return trimmed === '' ? undefined : trimmed;
}

function flag(env: Env, name: string): boolean | undefined {
  const value = text(env, name)?.toLowerCase();
  if (value === undefined) return undefined;
  if (['1', 'true', 'yes', 'on'].includes(value)) return true;
  if (['0', 'false', 'no', 'off'].includes(value)) return false;
  throw new ConfigError(`${name} must be true or false (got "${String(env[name])}")`);
}

function integer(env: Env, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const value = text(env, name);
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max} (got "${String(env[name])}")`);
  }
  return n;
}

function trustProxy(env: Env): number | boolean | string | undefined {
  const value = text(env, 'TRUST_PROXY');
  if (value === undefined) return undefined;
  if (/^\d+$/.test(value)) return Number(value);
  if (['true', 'false'].includes(value.toLowerCase())) return value.toLowerCase() === 'true';
  return value; // express accepts 'loopback', addresses and CIDR lists
}

function httpAdapter(env: Env): 'express' | 'fastify' {
  const value = text(env, 'HTTP_ADAPTER')?.toLowerCase() ?? 'fastify';
  if (value === 'express' || value === 'fastify') return value;
  throw new ConfigError(`HTTP_ADAPTER must be express or fastify (got "${String(env.HTTP_ADAPTER)}")`);
}

/**
 * Whether this Node keeps AsyncLocalStorage contexts in V8's continuation data (AsyncContextFrame): the
 * default from Node 24 (off with `--no-async-context-frame`), behind `--experimental-async-context-frame`
 * on Node 22–23. Without it (Node 20) the first `AsyncLocalStorage.run` turns on a promise hook for every
 * promise of the process, 4–12 % of a small sync request's server CPU.
 */
export function asyncContextFrames(
  nodeVersion: string = process.versions.node,
  flags: readonly string[] = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)],
): boolean {
  const major = Number(nodeVersion.split('.')[0]);
  if (major >= 24) return !flags.includes('--no-async-context-frame');
  return major >= 22 && flags.includes('--experimental-async-context-frame');
}

/**
 * Reads and checks the environment (the `validate` of ConfigModule.forRoot). Throws a ConfigError
 * naming the variable for a value that is malformed or unsafe, so the app never starts with it.
 */
export function validateEnvironment(env: Env): AppEnvironment {
  const production = text(env, 'NODE_ENV') === 'production';
  const jwtSecret = text(env, 'JWT_SECRET');
  if (production && (jwtSecret === undefined || jwtSecret === DEVELOPMENT_JWT_SECRET)) {
    throw new ConfigError(
      'JWT_SECRET must be set to a secret of your own when NODE_ENV=production (the development default is refused); ' +
        'e.g. JWT_SECRET=$(openssl rand -base64 32)',
    );
  }
  const cors = text(env, 'CORS_ORIGINS');
  return {
    httpAdapter: httpAdapter(env),
    port: integer(env, 'PORT', 0, 65535) ?? 8080,
    host: text(env, 'HOST') ?? '127.0.0.1',
    databaseUrl: text(env, 'DATABASE_URL'),
    pgPort: integer(env, 'PGPORT', 1, 65535),
    jwtSecret: jwtSecret ?? DEVELOPMENT_JWT_SECRET,
    jwtCacheEntries: integer(env, 'JWT_CACHE_ENTRIES', 0, 1_000_000) ?? 4096,
    businessSchema: text(env, 'BUSINESS_SCHEMA') ?? 'business',
    production,
    dummySignin: flag(env, 'OVERSYNC_DUMMY_SIGNIN') ?? !production,
    docs: flag(env, 'OVERSYNC_DOCS') ?? !production,
    corsOrigins:
      cors !== undefined
        ? cors
            .split(',')
            .map((o) => o.trim())
            .filter(Boolean)
        : production
          ? []
          : ['*'],
    trustProxy: trustProxy(env),
    testEndpoints: flag(env, 'OVERSYNC_TEST_ENDPOINTS') ?? false,
    watch: flag(env, 'OVERSYNC_WATCH') ?? true,
    watchHeartbeatMs: integer(env, 'OVERSYNC_WATCH_HEARTBEAT_MS', 1),
    watchListenLingerMs: integer(env, 'OVERSYNC_WATCH_LISTEN_LINGER_MS', 0),
    watchMaxSubscribersPerUser: integer(env, 'OVERSYNC_WATCH_MAX_PER_USER', 1),
    watchMaxSubscribersPerProcess: integer(env, 'OVERSYNC_WATCH_MAX_PER_PROCESS', 1),
    maxBodyBytes: integer(env, 'OVERSYNC_MAX_BODY_BYTES', 1024),
    userLockTimeoutMs: integer(env, 'OVERSYNC_USER_LOCK_TIMEOUT_MS', 1),
    retainedBundlesPerUser: integer(env, 'OVERSYNC_RETAINED_BUNDLES_PER_USER', 1),
    poolMax: integer(env, 'OVERSYNC_DB_POOL_MAX_CONNS', 1, 10000) ?? 50,
    sweepIntervalMs: integer(env, 'OVERSYNC_SWEEP_INTERVAL_MS', 1),
    preparedStatements: flag(env, 'OVERSYNC_PREPARED_STATEMENTS'),
    metrics: flag(env, 'OVERSYNC_METRICS') ?? true,
    tracing: flag(env, 'OVERSYNC_TRACING') ?? true,
    logRequests: flag(env, 'OVERSYNC_LOG_REQUESTS') ?? true,
    logStageTimings: flag(env, 'OVERSYNC_LOG_STAGE_TIMINGS') ?? false,
    logLevel: text(env, 'LOG_LEVEL') ?? 'info',
    logBufferBytes: integer(env, 'LOG_BUFFER_BYTES', 0, 1 << 20) ?? 4096,
    logRequestContext: flag(env, 'LOG_REQUEST_CONTEXT') ?? asyncContextFrames(),
  };
}

/** The settings for a chosen database (tests pass their own env). */
export function appConfigFromEnv(databaseUrl: string, env: Env = process.env): AppConfig {
  return { ...validateEnvironment(env), databaseUrl };
}

/**
 * Loads the environment through @nestjs/config (process.env plus an optional `.env` file, which
 * never overrides the process's variables) and validates it; throws ConfigError on a bad value.
 */
export async function loadEnvironment(): Promise<AppEnvironment> {
  let validated: AppEnvironment | undefined;
  await ConfigModule.forRoot({
    envFilePath: '.env',
    validate: (raw) => {
      validated = validateEnvironment(raw);
      return raw;
    },
  });
  return validated!;
}
