import type { CanActivate, ExecutionContext, Type } from '@nestjs/common';

/** Options of `OversyncAdminModule.forRoot`. */
export interface OversyncAdminModuleOptions {
  /**
   * The host's admin guards, run in order on every admin route and on the page (at least one:
   * the module refuses to mount without). They decide who is an admin, e.g. a JWT role claim.
   */
  guards: Array<Type<CanActivate> | CanActivate>;
  /** Where the console lives (default `admin`): the page at `/<path>`, the JSON API at `/<path>/api`. */
  path?: string;
  /** Who the admin is, for the audit log; default `request.user.sub` (or `userId`, `id`). */
  adminId?: (context: ExecutionContext) => string | undefined | Promise<string | undefined>;
}
