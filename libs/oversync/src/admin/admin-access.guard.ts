import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { HostGuards } from '../auth/host-guards.js';
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
  private readonly hostGuards: HostGuards;

  constructor(
    moduleRef: ModuleRef,
    @Inject(OVERSYNC_ADMIN_OPTIONS) private readonly options: OversyncAdminModuleOptions,
  ) {
    this.hostGuards = new HostGuards(moduleRef, options.guards);
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (!(await this.hostGuards.allow(context))) throw new OversyncError('forbidden', 'admin access required');
    const request = context.switchToHttp().getRequest<RequestWithAdmin>();
    const adminId = this.options.adminId ? await this.options.adminId(context) : defaultUserId(request);
    if (!adminId) throw new OversyncError('authentication_failed', 'admin identity not found in request context');
    request.oversyncAdminId = adminId;
    return true;
  }
}
