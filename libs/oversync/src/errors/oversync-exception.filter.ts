import { Catch, HttpException, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { rawResponse, replyWire, WireAnswerException } from '../http/wire-reply.js';
import type { GoJsonValue } from '@oversync/protocol';
import { OversyncError } from './oversync.error.js';

const HTTP_CODES: Record<number, string> = {
  400: 'invalid_request',
  401: 'authentication_failed',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  413: 'request_too_large',
  429: 'too_many_requests',
};

/** Headers an error answer carries besides the envelope (`Allow` of a 405). */
export interface AnswerHeaders {
  headers?: Record<string, string>;
}

/**
 * Maps every failure on the module's routes to the protocol's `{error, message}` body (spec §3.0.3),
 * written through the platform's adapter (Express or Fastify).
 */
@Catch()
export class OversyncExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('Oversync');

  constructor(private readonly adapterHost: HttpAdapterHost) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<unknown>();
    const adapter = this.adapterHost.httpAdapter;
    const send = (status: number, body: GoJsonValue) => replyWire(adapter, res, status, body);
    if (rawResponse(res).headersSent) {
      rawResponse(res).end();
      return;
    }
    if (exception instanceof WireAnswerException) {
      send(exception.getStatus(), exception.body);
      return;
    }
    if (exception instanceof OversyncError) {
      for (const [name, value] of Object.entries((exception as AnswerHeaders).headers ?? {})) adapter.setHeader(res, name, value);
      const body: Record<string, GoJsonValue> = { error: exception.code, message: exception.message };
      for (const [key, value] of Object.entries(exception.extra ?? {})) body[key] = value as GoJsonValue;
      send(exception.status, body);
      return;
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const response = exception.getResponse();
      const message = typeof response === 'string' ? response : Array.isArray((response as { message?: unknown }).message)
        ? ((response as { message: string[] }).message).join('; ')
        : String((response as { message?: unknown }).message ?? exception.message);
      send(status, { error: HTTP_CODES[status] ?? (status >= 500 ? 'internal_error' : 'invalid_request'), message });
      return;
    }
    this.logger.error(exception instanceof Error ? exception.stack ?? exception.message : String(exception));
    send(500, { error: 'internal_error', message: 'Internal server error' });
  }
}
