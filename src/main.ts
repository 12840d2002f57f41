import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Logger as JsonLogger } from 'nestjs-pino';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from './app.module.js';
import { appConfigFromEnv } from './config/app-config.js';
import { setupSwagger } from './swagger.js';
import { resolveDatabase } from './database/resolve-database.js';

async function main(): Promise<void> {
  const logger = new Logger('Main');
  const database = await resolveDatabase(logger);
  const config = appConfigFromEnv(database.url);
  const app = await NestFactory.create<NestExpressApplication>(AppModule.register(config), { bodyParser: false, bufferLogs: true });
  app.useLogger(app.get(JsonLogger));
  app.enableShutdownHooks();
  app.enableCors({ origin: '*', allowedHeaders: ['Authorization', 'Content-Type', 'Oversync-Source-ID'], methods: ['GET', 'POST', 'DELETE', 'OPTIONS'], maxAge: 600 });
  setupSwagger(app);
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
  await app.listen(config.port, config.host);
  logger.log(`listening on http://${config.host === '127.0.0.1' ? 'localhost' : config.host}:${config.port} (Swagger UI at /docs)`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
