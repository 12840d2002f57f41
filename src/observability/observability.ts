import type { IncomingMessage } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { DynamicModule, INestApplication } from '@nestjs/common';
import { LoggerModule, PinoLogger } from 'nestjs-pino';
import pino from 'pino';
import { collectDefaultMetrics, register } from 'prom-client';
import type { OversyncModuleOptions } from '@oversync/nestjs';
import type { AppConfig } from '../config/app-config.js';

const REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

/** The request id: a well-formed `X-Request-Id`, else a UUID. */
function requestIdOf(req: IncomingMessage): string {
  const header = req.headers['x-request-id'];
  return typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID();
}

/**
 * JSON logs (pino) for everything Nest logs, the sync module's lines included. Per request the request
 * id is assigned (`X-Request-Id` when well-formed, else a UUID) as Node's `req.id`, which the module's
 * access line of sync routes reads (`request_id`, with user and source ids); the Authorization header is
 * never logged. With `logRequestContext` the id is also bound (`reqId`) to every line written in the
 * request's context, the host's included: on Express pino-http and nestjs-pino's middleware do that, on
 * Fastify a native onRequest hook (`bindRequestLogs`), so that no middleware — and no middie, Fastify's
 * Express-middleware layer — runs per request. Without it (the default on Node 20, where the context's
 * promise hook costs 4–12 % of a small request's server CPU) `bindRequestLogs` only assigns the id, on
 * both platforms, and a line that names a `request_id` gets it as `reqId` too, so the access line reads
 * the same either way.
 */
export function jsonLogging(config: AppConfig): DynamicModule {
  return LoggerModule.forRoot({
    // no middleware on Fastify, nor without the context (bindRequestLogs instead); the root logger is still
    // pino-http's own
    ...(config.httpAdapter === 'fastify' || !config.logRequestContext ? { forRoutes: [] } : {}),
    pinoHttp: [
      {
        level: config.logLevel,
        autoLogging: false,
        quietReqLogger: true,
        genReqId: requestIdOf,
        // pino-http binds every request to a child logger with `req` serialized at once, though no line
        // of ours is written through it (autoLogging off, quietReqLogger): id, method and url keep that
        // per-request work small and never put headers in a line. So no `redact` of req.headers either:
        // the serializer leaves none to redact, and redaction cloned every request's bindings (a few per
        // cent of a small request's server CPU).
        serializers: {
          req: (req: { id?: unknown; method?: string; url?: string }) => ({
            id: req.id,
            method: req.method,
            url: req.url,
          }),
        },
        // without the context no line is bound to a request: the access line's own id stands in
        ...(config.logRequestContext ? {} : { mixin: reqIdOfLine }),
      },
      stdoutDestination(config.logBufferBytes),
    ],
  });
}

/** `reqId` for a line that names its request (`request_id`, as the module's access line does). */
function reqIdOfLine(line: object): { reqId?: unknown } {
  const id = (line as { request_id?: unknown }).request_id;
  return id === undefined ? {} : { reqId: id };
}

/** What the app uses of a Fastify instance (no import of fastify: an Express run does not load it). */
interface FastifyRequestHooks {
  addHook(
    name: 'onRequest',
    hook: (
      request: { raw: IncomingMessage & { id?: unknown } },
      reply: { raw: ServerResponse },
      done: () => void,
    ) => void,
  ): void;
}

/**
 * What pino-http's middleware does on Express where it does not run: the request id on Node's request
 * (`req.id`, which the module's access line reads), first of all per request, and with
 * `logRequestContext` the rest of the request run in a log context bound to `{ reqId }` (as pino-http's
 * `quietReqLogger`). On Fastify a native onRequest hook registered ahead of every other; on Express,
 * without the context only, a plain middleware (with it, pino-http's).
 */
export async function bindRequestLogs(app: INestApplication, config: AppConfig): Promise<void> {
  if (config.httpAdapter === 'express') {
    if (!config.logRequestContext)
      app.use((req: IncomingMessage & { id?: unknown }, _res: ServerResponse, next: () => void) => {
        req.id = requestIdOf(req);
        next();
      });
    return;
  }
  const fastify = app.getHttpAdapter().getInstance() as FastifyRequestHooks;
  if (!config.logRequestContext) {
    fastify.addHook('onRequest', (request, _reply, done) => {
      request.raw.id = requestIdOf(request.raw);
      done();
    });
    return;
  }
  const logs = await app.resolve(PinoLogger);
  fastify.addHook('onRequest', (request, _reply, done) => {
    const reqId = requestIdOf(request.raw);
    request.raw.id = reqId;
    logs.runInContext(done, { bindings: { reqId } });
  });
}

let stdout: pino.DestinationStream | undefined;
const LOG_FLUSH_MS = 1000;

/**
 * Standard output for the logs, one per process. Written line by line, each line is a write system
 * call — a tenth of the server's CPU on small sync requests — so lines are gathered up to `bufferBytes`
 * and written when that much is waiting, at most a second later, and at exit (pino flushes its
 * destinations then). `0` writes every line at once. The writes are synchronous, as Node's own
 * stdout is on Linux for files and pipes: an asynchronous one went through libuv's thread pool (a
 * thread woken and a completion sent back per write), ~3 % of a small request's server CPU.
 */
function stdoutDestination(bufferBytes: number): pino.DestinationStream {
  if (stdout) return stdout;
  const destination = pino.destination({ dest: 1, minLength: bufferBytes, sync: true });
  if (bufferBytes > 0) setInterval(() => destination.flush(), LOG_FLUSH_MS).unref();
  stdout = destination;
  return destination;
}

let defaultMetrics = false;

/** The sync module's observability options from the app settings; Node's default metrics once per process. */
export function oversyncObservability(
  config: AppConfig,
): Pick<OversyncModuleOptions, 'metrics' | 'tracing' | 'logging'> {
  if (config.metrics && !defaultMetrics) {
    defaultMetrics = true;
    collectDefaultMetrics({ register });
  }
  return {
    metrics: { enabled: config.metrics, registry: register },
    tracing: { enabled: config.tracing },
    logging: { requests: config.logRequests, stageTimings: config.logStageTimings },
  };
}
