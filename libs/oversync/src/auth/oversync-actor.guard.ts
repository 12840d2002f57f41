import { Inject, Injectable, Optional, type CanActivate, type ExecutionContext, type Type } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { OVERSYNC_HOST_GUARDS } from '../oversync.constants.js';
import { OVERSYNC_MODULE_OPTIONS } from '../oversync.module-definition.js';
import type { OversyncModuleOptions } from '../oversync.options.js';
import { OversyncError } from '../errors/oversync.error.js';
import type { RequestWithActor } from './sync-actor.js';
import { goTrimSpace, SOURCE_ID_HEADER } from '@oversync/protocol';
import { HostGuards } from './host-guards.js';
import { OversyncTelemetry } from '../observability/oversync-telemetry.js';
import { ENDPOINT_TELEMETRY } from '../errors/sync-endpoint-call.js';

/** A promise or another thenable (what `await` would wait for). */
function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === 'function';
}

/** Node's lower-cased name of the source header in `request.headers`. */
const SOURCE_ID_LOOKUP = SOURCE_ID_HEADER.toLowerCase();

const MAX_ID_LENGTH = 512;
// Ids reach PostgreSQL as text: NUL is impossible there, other controls are never legitimate (§8.24).
const CONTROL = /[\u0000-\u001f\u007f\ufffd]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * An actor id (user or source) that is safe to store and compare: at most 512 characters, no
 * controls, no broken UTF-16.
 */
export function isPrintableActorId(id: string): boolean {
  return id.length <= MAX_ID_LENGTH && !CONTROL.test(id);
}

interface AuthenticatedRequest extends RequestWithActor {
  user?: unknown;
  headers: Record<string, string | string[] | undefined>;
}

/** Default actor: `request.user.sub` as set by the host's passport strategy. */
export function defaultUserId(request: AuthenticatedRequest): string | undefined {
  const user = request.user;
  if (typeof user === 'string') return user;
  if (user && typeof user === 'object') {
    for (const field of ['sub', 'userId', 'id'] as const) {
      const value = (user as Record<string, unknown>)[field];
      if (typeof value === 'string' || typeof value === 'number') return String(value);
    }
  }
  return undefined;
}

/** Runs the host's guards, then resolves the actor: user from the host, source from the header (§3.0.2). */
@Injectable()
export class OversyncActorGuard implements CanActivate {
  private readonly hostGuards: HostGuards;

  constructor(
    moduleRef: ModuleRef,
    @Inject(OVERSYNC_MODULE_OPTIONS) private readonly options: OversyncModuleOptions,
    @Inject(OVERSYNC_HOST_GUARDS) hostGuards: Array<Type<CanActivate> | CanActivate>,
    @Optional() private readonly telemetry?: OversyncTelemetry,
  ) {
    this.hostGuards = new HostGuards(moduleRef, hostGuards);
  }

  /** Synchronous while the host's guards and `actor` are: no promise per request then. */
  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const allowed = this.hostGuards.allow(context);
    return typeof allowed === 'boolean'
      ? this.resolveActor(context, allowed)
      : allowed.then((yes) => this.resolveActor(context, yes));
  }

  private resolveActor(context: ExecutionContext, allowed: boolean): boolean | Promise<boolean> {
    if (!allowed) {
      throw new OversyncError('authentication_failed', 'authentication required');
    }
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const rawUser = this.options.actor ? this.options.actor(context) : defaultUserId(request);
    return isThenable(rawUser)
      ? Promise.resolve(rawUser).then((user) => this.setActor(request, user))
      : this.setActor(request, rawUser);
  }

  private setActor(request: AuthenticatedRequest, rawUser: unknown): true {
    const userId = typeof rawUser === 'string' ? goTrimSpace(rawUser) : '';
    if (userId === '') {
      throw new OversyncError('authentication_failed', 'authenticated user_id not found in request context');
    }
    if (!isPrintableActorId(userId)) {
      throw new OversyncError('authentication_failed', 'authenticated user_id is not a valid identifier');
    }
    const header = request.headers[SOURCE_ID_LOOKUP];
    const sourceId = goTrimSpace(Array.isArray(header) ? (header[0] ?? '') : (header ?? ''));
    if (sourceId === '') throw new OversyncError('invalid_request', `${SOURCE_ID_HEADER} header is required`);
    if (!isPrintableActorId(sourceId)) {
      throw new OversyncError(
        'invalid_request',
        `${SOURCE_ID_HEADER} header must be printable text of at most 512 characters`,
      );
    }
    request.oversyncActor = { userId, sourceId };
    // the handler's span (errors/sync-endpoint-call.ts) is opened with the module's telemetry
    if (this.telemetry) (request as { [ENDPOINT_TELEMETRY]?: OversyncTelemetry })[ENDPOINT_TELEMETRY] = this.telemetry;
    return true;
  }
}
