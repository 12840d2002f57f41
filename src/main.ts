// first: the V8 tier-up budget, baseline code and heap growing factor apply to what runs after them
import './v8-tiering.js';
import './v8-heap-growing.js';
import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { ConfigError, loadEnvironment } from './config/app-config.js';
import { createReferenceApp } from './create-app.js';
import { ensurePortFree, PortInUseError } from './database/port-check.js';
import { EmbeddedPostgresAccessError } from './database/embedded-postgres.js';
import { resolveDatabase } from './database/resolve-database.js';

async function main(): Promise<void> {
  const logger = new Logger('Main');
  // 1. configuration (@nestjs/config): a bad or unsafe value stops here, naming the variable
  const env = await loadEnvironment();
  // 2. the port, before an embedded PostgreSQL is started for nothing
  await ensurePortFree(env.port, env.host);
  // 3. the database: DATABASE_URL, or an embedded PostgreSQL under .data/
  const database = await resolveDatabase(logger, env);
  const config = { ...env, databaseUrl: database.url };
  // 4. the app
  const app = await createReferenceApp(config);
  app.enableShutdownHooks();
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.log(`${signal}: shutting down`);
    await app.close();
    await database.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  try {
    await app.listen(config.port, config.host);
  } catch (error) {
    await app.close().catch(() => undefined);
    await database.stop();
    throw (error as { code?: string }).code === 'EADDRINUSE' ? new PortInUseError(config.port, config.host) : error;
  }
  const where = `http://${config.host === '127.0.0.1' ? 'localhost' : config.host}:${config.port}`;
  logger.log(
    `listening on ${where}${config.docs ? ` (Swagger UI at ${where}/docs)` : ''}` +
      `${config.production ? ' [production]' : ''}`,
  );
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof PortInUseError || error instanceof EmbeddedPostgresAccessError) {
    // a setting or the machine is wrong: say what and how to fix it, without a stack trace
    console.error(`oversync-nestjs: ${error.message}`);
  } else {
    console.error(error instanceof Error ? error : new Error(`start failed: ${String(error)}`));
  }
  process.exit(1);
});
