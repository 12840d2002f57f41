import type { INestApplication, LogLevel, NestApplicationOptions } from '@nestjs/common';
import type { CorsOptions } from '@nestjs/common/interfaces/external/cors-options.interface.js';
import { HttpAdapterHost, NestFactory } from '@nestjs/core';
import {
  answerClientError,
  answerClientErrorsWithEnvelope,
  answerFrameworkError,
  SOURCE_ID_HEADER,
} from '@oversync/nestjs';
import { Logger as JsonLogger } from 'nestjs-pino';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { FastifyInstance } from 'fastify';
import { AppModule } from './app.module.js';
import type { AppConfig } from './config/app-config.js';
import { JsonBodyErrorFilter } from './http/json-body-error.filter.js';
import { setupSwagger } from './swagger.js';
import { bindRequestLogs } from './observability/observability.js';
import { FailureInjector } from './test-endpoints/failure-injector.js';

/**
 * The reference app as `npm start` runs it and the e2e suites test it, on Fastify (default: about a
 * quarter less server CPU per sync request) or Express (`HTTP_ADAPTER=express`). Nest's body parser
 * stays on for the host's routes (default limit). The sync module reads its own request bodies
 * ahead of it (exact 64-bit integers, its own limit, protocol errors); `rawBody: true` is its
 * fallback on platforms where it cannot (the bytes stay in `req.rawBody`).
 */
export async function createReferenceApp(config: AppConfig, logger?: LogLevel[]): Promise<INestApplication> {
  // without explicit levels (npm start) everything Nest logs goes to the JSON logger (nestjs-pino)
  const options: NestApplicationOptions = { rawBody: true, ...(logger ? { logger } : { bufferLogs: true }) };
  const app =
    config.httpAdapter === 'fastify'
      ? await createFastifyApp(config, options)
      : await createExpressApp(config, options);
  if (!logger) app.useLogger(app.get(JsonLogger));
  app.useGlobalFilters(new JsonBodyErrorFilter(app.get(HttpAdapterHost).httpAdapter));
  if (config.corsOrigins.length > 0) {
    app.enableCors({
      origin: config.corsOrigins.includes('*') ? '*' : config.corsOrigins,
      allowedHeaders: ['Authorization', 'Content-Type', SOURCE_ID_HEADER, 'Last-Event-ID'],
      methods: ['GET', 'POST', 'DELETE', 'OPTIONS'],
      maxAge: 600,
      // Fastify's CORS answers an OPTIONS without preflight headers 400 unless told, as Express' does not
      ...(config.httpAdapter === 'fastify' ? { strictPreflight: false } : {}),
    } as CorsOptions);
  }
  if (config.docs) setupSwagger(app);
  return app;
}

async function createExpressApp(config: AppConfig, options: NestApplicationOptions): Promise<INestApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.register(config), options);
  app.disable('x-powered-by');
  // errors of Node's HTTP parser (431, bad method, malformed framing) get the envelope too
  answerClientErrorsWithEnvelope(app.getHttpServer());
  if (config.trustProxy !== undefined) app.set('trust proxy', config.trustProxy);
  // request ids without the log context (with it, pino-http's middleware assigns them)
  await bindRequestLogs(app, config);
  return app;
}

/** Loaded only when chosen: an Express run does not load Fastify. */
async function createFastifyApp(config: AppConfig, options: NestApplicationOptions): Promise<INestApplication> {
  const { FastifyAdapter } = await import('@nestjs/platform-fastify');
  const adapter = new FastifyAdapter({
    // errors of Node's HTTP parser get the envelope (Fastify installs its own clientError handler)
    clientErrorHandler: answerClientError,
    // and so do paths Fastify's router cannot decode (`%FF`)
    frameworkErrors: answerFrameworkError,
    // paths match as on Express: any case, with or without a trailing slash
    routerOptions: { caseSensitive: false, ignoreTrailingSlash: true },
    ...(config.trustProxy !== undefined ? { trustProxy: fastifyTrustProxy(config.trustProxy) } : {}),
  });
  const app = await NestFactory.create(AppModule.register(config), adapter, options);
  // request ids and log context without middleware (pino-http's work on Express)
  await bindRequestLogs(app, config);
  if (config.testEndpoints) {
    const failures = app.get(FailureInjector);
    (app.getHttpAdapter().getInstance() as FastifyInstance).addHook('onRequest', (request, reply, done) => {
      if (SYNC_PATH.test(request.raw.url ?? '')) failures.use(request.raw, reply.raw, done);
      else done();
    });
  }
  return app;
}

/** The paths the failure injector watches (`sync/*path` on Express). */
const SYNC_PATH = /^\/sync\//i;

/** Express' `trust proxy` value in Fastify's terms (a hop count is a function of the hop there). */
function fastifyTrustProxy(
  value: number | boolean | string,
): boolean | string | ((address: string, hop: number) => boolean) {
  return typeof value === 'number' ? (_address, hop) => hop < value : value;
}
