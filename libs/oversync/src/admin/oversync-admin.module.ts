import { Module, type DynamicModule, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import { RouterModule } from '@nestjs/core';
import { OVERSYNC_ADMIN_OPTIONS } from './oversync-admin.constants.js';
import type { OversyncAdminModuleOptions } from './oversync-admin.options.js';
import { AdminAccessGuard } from './admin-access.guard.js';
import { AdminRuntime } from './admin-runtime.js';
import { AdminQueryService } from './admin-query.service.js';
import { AdminActionsService } from './admin-actions.service.js';
import { AdminApiController } from './admin-api.controller.js';
import { AdminPageController } from './admin-page.controller.js';
import { readAdminBody } from './admin-body.middleware.js';

const PATH = /^[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*$/;

/**
 * The admin console, opt-in beside `OversyncModule.forRoot()`:
 * `OversyncAdminModule.forRoot({ guards: [AdminGuard], path: 'admin' })` serves the page at `/admin`
 * and its JSON API under `/admin/api`, every route behind the host's guards. Registers nothing global.
 */
@Module({})
export class OversyncAdminModule implements NestModule {
  static forRoot(options: OversyncAdminModuleOptions): DynamicModule {
    if (
      !options ||
      !Array.isArray(options.guards) ||
      options.guards.length === 0 ||
      options.guards.some((guard) => !guard)
    ) {
      throw new Error(
        'OversyncAdminModule.forRoot: `guards` must name the host guard(s) that admit admins only; the ' +
          'console never mounts unguarded',
      );
    }
    const path = (options.path ?? 'admin').replace(/^\/+|\/+$/g, '');
    if (!PATH.test(path))
      throw new Error(`OversyncAdminModule.forRoot: path ${JSON.stringify(options.path)} is not a plain URL path`);
    return {
      module: OversyncAdminModule,
      imports: [RouterModule.register([{ path, module: OversyncAdminModule }])],
      controllers: [AdminApiController, AdminPageController],
      providers: [
        { provide: OVERSYNC_ADMIN_OPTIONS, useValue: options },
        AdminAccessGuard,
        AdminRuntime,
        AdminQueryService,
        AdminActionsService,
      ],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(readAdminBody).forRoutes(AdminApiController);
  }
}
