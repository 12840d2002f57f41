import { ArgumentsHost, Catch, type ExceptionFilter } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import type { Response } from 'express';

interface BodyParserError {
  type?: unknown;
  status?: unknown;
}

/**
 * The reference app's own routes (`/dummy-signin`, `/test/*`) answer a body that Nest's JSON parser
 * refuses with the protocol envelope, as the reference does; everything else keeps Nest's handling.
 * The sync routes never get here: the module reads and checks their bodies itself.
 */
@Catch()
export class JsonBodyErrorFilter extends BaseExceptionFilter implements ExceptionFilter {
  override catch(error: unknown, host: ArgumentsHost): void {
    // Nest's Express adapter wraps body-parser's errors in an HttpException; the parser's own error is its cause
    const cause = error instanceof Error && error.cause !== undefined ? error.cause : error;
    const type = (cause as BodyParserError | null)?.type;
    if (type !== 'entity.parse.failed' && type !== 'entity.too.large') return super.catch(error, host);
    const tooLarge = type === 'entity.too.large';
    const body = tooLarge ? { error: 'request_too_large', message: 'request body too large' } : { error: 'invalid_request', message: 'invalid JSON' };
    const res = host.switchToHttp().getResponse<Response>();
    res.status(tooLarge ? 413 : 400).setHeader('Content-Type', 'application/json');
    res.end(`${JSON.stringify(body)}\n`);
  }
}
