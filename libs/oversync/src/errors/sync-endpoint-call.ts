import { createParamDecorator, HttpException, Logger, type ExecutionContext } from '@nestjs/common';
import { PATH_METADATA, ROUTE_ARGS_METADATA } from '@nestjs/common/constants.js';
import type { ServerResponse } from 'node:http';
import { wireReplyValue, type WirePlatform } from '../http/wire-reply.js';
import type { OversyncTelemetry } from '../observability/oversync-telemetry.js';
import { isConnectionError } from '../database/sync-database.js';
import { OversyncError } from './oversync.error.js';
import { SYNC_ENDPOINT, type SyncEndpointFailure } from './sync-endpoint.decorator.js';

const logger = new Logger('Oversync');

/**
 * What an error of an endpoint's handler becomes (spec §3.0.3, §8.23): protocol and HTTP errors as
 * they are, a lost database connection a retryable 503, anything else the endpoint's generic 500
 * code. The detail is logged, never sent.
 */
export function endpointError(error: unknown, failure: SyncEndpointFailure | undefined): unknown {
  if (error instanceof OversyncError || error instanceof HttpException) return error;
  if (isConnectionError(error)) {
    logger.warn(`database connection lost: ${(error as Error).message}`);
    return new OversyncError('service_unavailable', 'Sync database is temporarily unavailable; retry');
  }
  logger.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  return new OversyncError(failure?.code ?? 'internal_error', failure?.message ?? 'Internal server error');
}

/** Where OversyncActorGuard leaves the module's telemetry for the handler's span (the wrapper has no injector). */
export const ENDPOINT_TELEMETRY = Symbol('oversync.endpointTelemetry');

/** The request's execution context, handed to the wrapped handler as an extra last argument. */
const EndpointContext = createParamDecorator((_data: unknown, context: ExecutionContext) => context);

const FASTIFY: WirePlatform = {
  getType: () => 'fastify',
  setHeader: (response: unknown, name: string, value: string) =>
    (response as { header(name: string, value: string): unknown }).header(name, value),
};
const EXPRESS: WirePlatform = {
  getType: () => 'express',
  setHeader: (response: unknown, name: string, value: string) => (response as ServerResponse).setHeader(name, value),
};

/** The platform of a response as Nest hands it to a route: Fastify's reply holds Node's as `raw`. */
function platformOf(response: unknown): WirePlatform {
  return (response as { raw?: unknown }).raw !== undefined ? FASTIFY : EXPRESS;
}

/** The index after the handler's last decorated parameter. */
function argumentCount(prototype: object, name: string, handler: (...args: never[]) => unknown): number {
  const routeArgs = (Reflect.getMetadata(ROUTE_ARGS_METADATA, prototype.constructor, name) ?? {}) as Record<
    string,
    { index: number }
  >;
  return Math.max(handler.length, ...Object.values(routeArgs).map((arg) => arg.index + 1));
}

/**
 * Does per route handler of a sync controller what an interceptor would (SyncEndpointInterceptor),
 * without Nest's per-request rxjs chain (a sixth of an empty request's server CPU): the handler's span
 * (tracing on), its answer encoded like Go for the platform (`wireReplyValue`), its errors mapped by
 * `endpointError`. Each handler method is replaced by a wrapper carrying the same metadata and taking
 * the execution context as one more parameter (a param decorator of its own).
 */
export function encodeEndpointAnswers(prototype: object): void {
  for (const name of Object.getOwnPropertyNames(prototype)) {
    const descriptor = Object.getOwnPropertyDescriptor(prototype, name);
    const handler = descriptor?.value as ((...args: unknown[]) => unknown) | undefined;
    if (name === 'constructor' || typeof handler !== 'function') continue;
    if (Reflect.getMetadata(PATH_METADATA, handler) === undefined) continue;
    const failure = Reflect.getMetadata(SYNC_ENDPOINT, handler) as SyncEndpointFailure | undefined;
    const operation = failure?.code.replace(/_failed$/, '') ?? name;
    const at = argumentCount(prototype, name, handler);
    const wrapped = async function (this: unknown, ...args: unknown[]): Promise<unknown> {
      const context = args[at] as ExecutionContext;
      args.length = at;
      const http = context.switchToHttp();
      const telemetry = http.getRequest<{ [ENDPOINT_TELEMETRY]?: OversyncTelemetry }>()[ENDPOINT_TELEMETRY];
      try {
        const answer = telemetry
          ? await telemetry.traceCall(context, operation, async () => handler.apply(this, args))
          : await handler.apply(this, args);
        const response = http.getResponse<unknown>();
        return wireReplyValue(platformOf(response), response, answer);
      } catch (error) {
        throw endpointError(error, failure);
      }
    };
    for (const key of Reflect.getOwnMetadataKeys(handler) as unknown[])
      Reflect.defineMetadata(key, Reflect.getOwnMetadata(key, handler), wrapped);
    Object.defineProperty(wrapped, 'name', { value: handler.name });
    Object.defineProperty(prototype, name, { ...descriptor, value: wrapped });
    EndpointContext()(prototype, name, at);
  }
}
