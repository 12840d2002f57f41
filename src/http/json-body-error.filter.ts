import { ArgumentsHost, Catch, type ExceptionFilter } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import type { ServerResponse } from 'node:http';
import { JSON_CONTENT_TYPE } from '@oversync/protocol';

interface BodyParserError {
  /** body-parser's (Express) */
  type?: unknown;
  /** Fastify's content-type parser errors */
  code?: unknown;
}

/** Fastify's refusals of a body its JSON parser cannot read, by their codes. */
const FASTIFY_BODY_ERRORS: Record<string, 'entity.parse.failed' | 'entity.too.large'> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'entity.parse.failed',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'entity.parse.failed',
  FST_ERR_CTP_BODY_TOO_LARGE: 'entity.too.large',
};

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
    const parserError = cause as BodyParserError | null;
    const type =
      parserError?.type ??
      FASTIFY_BODY_ERRORS[String(parserError?.code)] ??
      (cause instanceof SyntaxError && (cause as { statusCode?: unknown }).statusCode === 400
        ? 'entity.parse.failed'
        : undefined);
    if (type !== 'entity.parse.failed' && type !== 'entity.too.large') return super.catch(error, host);
    const tooLarge = type === 'entity.too.large';
    const body = tooLarge
      ? { error: 'request_too_large', message: 'request body too large' }
      : { error: 'invalid_request', message: 'invalid JSON' };
    const response = host.switchToHttp().getResponse<ServerResponse | { raw: ServerResponse; hijack(): void }>();
    // written on Node's response (Fastify's reply hands it over first): no charset, as the envelope is elsewhere
    if ('raw' in response) response.hijack();
    const res = 'raw' in response ? response.raw : response;
    res.statusCode = tooLarge ? 413 : 400;
    res.setHeader('Content-Type', JSON_CONTENT_TYPE);
    res.end(`${JSON.stringify(body)}\n`);
  }
}
