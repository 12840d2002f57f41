import { Catch, HttpException, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';
import { sendWire } from '../http/wire-reply.js';
import { errorCodeForStatus, errorEnvelope } from '@oversync/protocol';
import { OversyncError } from './oversync.error.js';

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
      sendWire(res, exception.status, exception.body);
      return;
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const response = exception.getResponse();
      const detail = typeof response === 'string' ? response : (response as { message?: unknown }).message;
      const message = Array.isArray(detail) ? detail.join('; ') : typeof detail === 'string' ? detail : exception.message;
      sendWire(res, status, errorEnvelope(errorCodeForStatus(status), message));
      return;
    }
    this.logger.error(exception instanceof Error ? exception.stack ?? exception.message : String(exception));
    sendWire(res, 500, errorEnvelope('internal_error', 'Internal server error'));
  }
}
