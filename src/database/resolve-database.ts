import type { Logger } from '@nestjs/common';
import type { AppEnvironment } from '../config/app-config.js';
import { startEmbeddedPostgres } from './embedded-postgres.js';

export interface ResolvedDatabase {
  url: string;
  stop(): Promise<void>;
}

/** DATABASE_URL when set; otherwise an embedded PostgreSQL with its data under .data/ (port PGPORT or free). */
export async function resolveDatabase(
  logger: Logger,
  env: Pick<AppEnvironment, 'databaseUrl' | 'pgPort'>,
): Promise<ResolvedDatabase> {
  if (env.databaseUrl) {
    logger.log('using DATABASE_URL');
    return { url: env.databaseUrl, stop: async () => undefined };
  }
  const embedded = await startEmbeddedPostgres({ dataDir: '.data/postgres', port: env.pgPort });
  logger.log(`embedded PostgreSQL on 127.0.0.1:${embedded.port} (data in ${embedded.dataDir})`);
  return { url: embedded.url, stop: () => embedded.stop() };
}
