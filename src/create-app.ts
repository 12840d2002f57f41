import type { LogLevel } from '@nestjs/common';
import { HttpAdapterHost, NestFactory } from '@nestjs/core';
import { answerClientErrorsWithEnvelope, SOURCE_ID_HEADER } from '@oversync/nestjs';
import { Logger as JsonLogger } from 'nestjs-pino';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from './app.module.js';
import type { AppConfig } from './config/app-config.js';
import { JsonBodyErrorFilter } from './http/json-body-error.filter.js';
import { setupSwagger } from './swagger.js';

/**
 * The reference app as `npm start` runs it and the e2e suites test it. Nest's body parser stays on
 * for the host's routes (default limit). The sync module reads its own request bodies ahead of it
 * (exact 64-bit integers, its own limit, protocol errors); `rawBody: true` is its fallback on
 * platforms where it cannot (the bytes stay in `req.rawBody`).
 */
export async function createReferenceApp(config: AppConfig, logger?: LogLevel[]): Promise<NestExpressApplication> {
  // without explicit levels (npm start) everything Nest logs goes to the JSON logger (nestjs-pino)
  const app = await NestFactory.create<NestExpressApplication>(AppModule.register(config), { rawBody: true, ...(logger ? { logger } : { bufferLogs: true }) });
  if (!logger) app.useLogger(app.get(JsonLogger));
  app.disable('x-powered-by');
  // errors of Node's HTTP parser (431, bad method, malformed framing) get the envelope too
  answerClientErrorsWithEnvelope(app.getHttpServer());
  app.useGlobalFilters(new JsonBodyErrorFilter(app.get(HttpAdapterHost).httpAdapter));
  if (config.trustProxy !== undefined) app.set('trust proxy', config.trustProxy);
  if (config.corsOrigins.length > 0) {
    app.enableCors({
      origin: config.corsOrigins.includes('*') ? '*' : config.corsOrigins,
      allowedHeaders: ['Authorization', 'Content-Type', SOURCE_ID_HEADER, 'Last-Event-ID'],
      methods: ['GET', 'POST', 'DELETE', 'OPTIONS'],
      maxAge: 600,
    });
  }
  if (config.docs) setupSwagger(app);
  return app;
}
