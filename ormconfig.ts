import { DataSource, type DataSourceOptions } from 'typeorm';
import { BusinessSchema1732500000000 } from './src/business/migrations/1732500000000-business-schema.js';

/**
 * TypeORM options of the reference app: PostgreSQL at `url`, the business tables as migrations run
 * on start. Used by the app (AppModule) and by the TypeORM CLI (`npm run typeorm -- migration:run`).
 */
export function dataSourceOptions(
  url: string,
  poolMax = Number(process.env.OVERSYNC_DB_POOL_MAX_CONNS ?? 50),
): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    migrations: [BusinessSchema1732500000000],
    migrationsRun: true,
    migrationsTableName: 'typeorm_migrations',
    synchronize: false,
    logging: ['error'],
    extra: { max: poolMax },
  };
}

// The CLI needs a DataSource export; it reads DATABASE_URL like the app does.
export default new DataSource(
  dataSourceOptions(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'),
);
