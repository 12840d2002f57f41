import type { ServerResponse } from 'node:http';
import { Inject, Module, type DynamicModule, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import { HttpAdapterHost, RouterModule } from '@nestjs/core';
import { OVERSYNC_ADMIN_OPTIONS } from './oversync-admin.constants.js';
import type { OversyncAdminModuleOptions } from './oversync-admin.options.js';
import { AdminAccessGuard } from './admin-access.guard.js';
import { AdminRuntime } from './admin-runtime.js';
import { AdminQueryService } from './admin-query.service.js';
import { AdminActionsService } from './admin-actions.service.js';
import { AdminApiController } from './admin-api.controller.js';
import { AdminPageController } from './admin-page.controller.js';
import { readAdminBody, type RequestWithAdminBody } from './admin-body.middleware.js';

/** What the module uses of a Fastify instance (no import of fastify: an Express host need not have it). */
interface FastifyRequestHooks {
  addHook(
    name: 'onRequest',
    hook: (
      request: { raw: RequestWithAdminBody; routeOptions?: { url?: string } },
      reply: { raw: ServerResponse },
      done: (error?: unknown) => void,
    ) => void,
  ): void;
}

/** The console's path without leading or trailing slashes. */
function adminPath(options: OversyncAdminModuleOptions): string {
  return (options.path ?? 'admin').replace(/^\/+|\/+$/g, '');
}

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
    const path = adminPath(options);
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

  constructor(
    @Inject(OVERSYNC_ADMIN_OPTIONS) private readonly options: OversyncAdminModuleOptions,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  configure(consumer: MiddlewareConsumer): void {
    const adapter = this.adapterHost.httpAdapter;
    if (adapter?.getType() !== 'fastify') {
      consumer.apply(readAdminBody).forRoutes(AdminApiController);
      return;
    }
    // On Fastify a native onRequest hook on the API's routes (any global prefix before them): middleware
    // there would keep middie, Fastify's Express-middleware layer, running on every request of the host.
    const path = adminPath(this.options).replace(/[.]/g, '\\.');
    const api = new RegExp(`(?:^|/)${path}/api(?:/|$)`, 'i');
    (adapter.getInstance() as FastifyRequestHooks).addHook('onRequest', (request, reply, done) => {
      if (api.test(request.routeOptions?.url ?? '')) readAdminBody(request.raw, reply.raw, done);
      else done();
    });
  }
}
