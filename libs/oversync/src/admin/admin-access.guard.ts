import { Inject, Injectable, type CanActivate, type ExecutionContext, type Type } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { OversyncError } from '../errors/oversync.error.js';
import { defaultUserId } from '../auth/oversync-actor.guard.js';
import { OVERSYNC_ADMIN_OPTIONS } from './oversync-admin.constants.js';
import type { OversyncAdminModuleOptions } from './oversync-admin.options.js';

export interface RequestWithAdmin {
  user?: unknown;
  headers: Record<string, string | string[] | undefined>;
  oversyncAdminId?: string;
}

/** Runs the host's admin guards (a `false` is 403), then records who the admin is for the audit log. */
@Injectable()
export class AdminAccessGuard implements CanActivate {
  private readonly resolved = new Map<Type<CanActivate>, CanActivate>();

  constructor(
    private readonly moduleRef: ModuleRef,
    @Inject(OVERSYNC_ADMIN_OPTIONS) private readonly options: OversyncAdminModuleOptions,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    for (const guard of this.options.guards) {
      if (!(await (await this.instance(guard)).canActivate(context))) {
        throw new OversyncError('forbidden', 403, 'admin access required');
      }
    }
    const request = context.switchToHttp().getRequest<RequestWithAdmin>();
    const adminId = this.options.adminId ? await this.options.adminId(context) : defaultUserId(request);
    if (!adminId) throw new OversyncError('authentication_failed', 401, 'admin identity not found in request context');
    request.oversyncAdminId = adminId;
    return true;
  }

  private async instance(guard: Type<CanActivate> | CanActivate): Promise<CanActivate> {
    if (typeof guard !== 'function') return guard;
    const cached = this.resolved.get(guard);
    if (cached) return cached;
    let instance: CanActivate;
    try {
      instance = this.moduleRef.get(guard, { strict: false });
    } catch {
      instance = await this.moduleRef.create(guard);
    }
    this.resolved.set(guard, instance);
    return instance;
  }
}
