import type { Logger } from '@nestjs/common';
import { startEmbeddedPostgres } from './embedded-postgres.js';

export interface ResolvedDatabase {
  url: string;
  stop(): Promise<void>;
}

/** DATABASE_URL when set; otherwise an embedded PostgreSQL with its data under .data/ (port PGPORT or free). */
export async function resolveDatabase(logger: Logger): Promise<ResolvedDatabase> {
  if (process.env.DATABASE_URL) {
    logger.log('using DATABASE_URL');
    return { url: process.env.DATABASE_URL, stop: async () => undefined };
  }
  const port = process.env.PGPORT ? Number(process.env.PGPORT) : undefined;
  const embedded = await startEmbeddedPostgres({ dataDir: '.data/postgres', port });
  logger.log(`embedded PostgreSQL on 127.0.0.1:${embedded.port} (data in .data/postgres)`);
  return { url: embedded.url, stop: () => embedded.stop() };
}
