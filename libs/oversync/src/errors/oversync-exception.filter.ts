import { Catch, HttpException, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { rawResponse, replyWire, WireAnswerException } from '../http/wire-reply.js';
import { errorCodeForStatus, errorEnvelope, type GoJsonValue } from '@oversync/protocol';
import { OversyncError } from './oversync.error.js';

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
      for (const [name, value] of Object.entries((exception as AnswerHeaders).headers ?? {}))
        adapter.setHeader(res, name, value);
      send(exception.status, exception.body as Record<string, GoJsonValue>);
      return;
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const response = exception.getResponse();
      const detail = typeof response === 'string' ? response : (response as { message?: unknown }).message;
      const message = Array.isArray(detail)
        ? detail.join('; ')
        : typeof detail === 'string'
          ? detail
          : exception.message;
      send(status, errorEnvelope(errorCodeForStatus(status), message));
      return;
    }
    this.logger.error(exception instanceof Error ? (exception.stack ?? exception.message) : String(exception));
    send(500, errorEnvelope('internal_error', 'Internal server error'));
  }
}
