import { Catch, HttpException, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';
import { sendWire } from '../http/wire-reply.js';
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

/** Maps every failure on the module's routes to the protocol's `{error, message}` body (spec §3.0.3). */
@Catch()
export class OversyncExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('Oversync');

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    if (res.headersSent) {
      res.end();
      return;
    }
    if (exception instanceof OversyncError) {
      const body: Record<string, GoJsonValue> = { error: exception.code, message: exception.message };
      for (const [key, value] of Object.entries(exception.extra ?? {})) body[key] = value as GoJsonValue;
      sendWire(res, exception.status, body);
      return;
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const response = exception.getResponse();
      const detail = typeof response === 'string' ? response : (response as { message?: unknown }).message;
      const message = Array.isArray(detail) ? detail.join('; ') : typeof detail === 'string' ? detail : exception.message;
      sendWire(res, status, { error: HTTP_CODES[status] ?? (status >= 500 ? 'internal_error' : 'invalid_request'), message });
      return;
    }
    this.logger.error(exception instanceof Error ? exception.stack ?? exception.message : String(exception));
    sendWire(res, 500, { error: 'internal_error', message: 'Internal server error' });
  }
}
