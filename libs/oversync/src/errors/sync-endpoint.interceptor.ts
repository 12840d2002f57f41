import {
  HttpException,
  Injectable,
  Logger,
  Optional,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { HttpAdapterHost, Reflector } from '@nestjs/core';
import { catchError, map, type Observable, throwError } from 'rxjs';
import { wireReplyValue } from '../http/wire-reply.js';
import { OversyncTelemetry } from '../observability/oversync-telemetry.js';
import { isConnectionError } from '../database/sync-database.js';
import { OversyncError } from './oversync.error.js';
import { SYNC_ENDPOINT, type SyncEndpointFailure } from './sync-endpoint.decorator.js';

/**
 * The module's routes return values: this hands them to the platform as Go encodes them
 * (`wireReplyValue`, Express and Fastify alike). It turns an unexpected error into the endpoint's
 * generic 500 code (spec §3.0.3) and a lost database connection into a retryable 503 (spec §8.23);
 * the detail is logged, never sent.
 */
@Injectable()
export class SyncEndpointInterceptor implements NestInterceptor {
  private readonly logger = new Logger('Oversync');

  constructor(
    private readonly reflector: Reflector,
    private readonly adapterHost: HttpAdapterHost,
    // absent where the interceptor serves another module's controllers (the admin console): no spans there
    @Optional() private readonly telemetry?: OversyncTelemetry,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const failure = this.reflector.get<SyncEndpointFailure | undefined>(SYNC_ENDPOINT, context.getHandler());
    // the operation's span (with tracing on) is active while the handler runs: stages nest under it
    const handled = this.telemetry
      ? this.telemetry.traceOperation(context, failure?.code.replace(/_failed$/, '') ?? context.getHandler().name, () =>
          next.handle(),
        )
      : next.handle();
    const adapter = this.adapterHost.httpAdapter;
    return handled.pipe(
      map((answer) => wireReplyValue(adapter, context.switchToHttp().getResponse(), answer)),
      catchError((error: unknown) => {
        if (error instanceof OversyncError || error instanceof HttpException) return throwError(() => error);
        if (isConnectionError(error)) {
          this.logger.warn(`database connection lost: ${(error as Error).message}`);
          return throwError(
            () => new OversyncError('service_unavailable', 'Sync database is temporarily unavailable; retry'),
          );
        }
        this.logger.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
        const code = failure?.code ?? 'internal_error';
        const message = failure?.message ?? 'Internal server error';
        return throwError(() => new OversyncError(code, message));
      }),
    );
  }
}
