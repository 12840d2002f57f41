import { Injectable, Optional, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { HttpAdapterHost, Reflector } from '@nestjs/core';
import { catchError, map, type Observable, throwError } from 'rxjs';
import { wireReplyValue } from '../http/wire-reply.js';
import { OversyncTelemetry } from '../observability/oversync-telemetry.js';
import { endpointError } from './sync-endpoint-call.js';
import { SYNC_ENDPOINT, type SyncEndpointFailure } from './sync-endpoint.decorator.js';

/**
 * The admin console's and /syncx routes return values: this hands them to the platform as Go encodes
 * them (`wireReplyValue`, Express and Fastify alike) and maps their errors (`endpointError`). The sync
 * controllers do the same per handler, without an interceptor (`@SyncController()`).
 */
@Injectable()
export class SyncEndpointInterceptor implements NestInterceptor {
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
      catchError((error: unknown) => throwError(() => endpointError(error, failure))),
    );
  }
}
