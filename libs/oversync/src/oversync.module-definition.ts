import { ConfigurableModuleBuilder, type DynamicModule } from '@nestjs/common';
import type { OversyncModuleOptions } from './oversync.options.js';
import { OVERSYNC_ROUTE_FALLBACK } from './oversync.constants.js';
import { SyncFallbackController } from './http/sync-fallback.controller.js';
import { SyncRoutingErrorLayer } from './http/sync-routing-error.layer.js';

/**
 * What `forRoot`/`forRootAsync` take beside the options (also in `forRootAsync`, where the options
 * come from a factory): they decide what the module mounts on the host.
 */
export interface OversyncModuleExtras {
  /**
   * Answer unknown paths and wrong methods under `/sync` and `/syncx`, and the routing errors Express
   * raises before any controller runs, with the protocol envelope (spec §8.25): a catch-all controller
   * and an error handler on the host's HTTP adapter. Default false: the host's own 404/405 answer.
   */
  routeFallback?: boolean;
}

function withRouteFallback(definition: DynamicModule, extras: OversyncModuleExtras): DynamicModule {
  const enabled = extras.routeFallback === true;
  return {
    ...definition,
    // after the module's own controllers (Nest appends these), so it answers only what they do not match
    controllers: [...(definition.controllers ?? []), ...(enabled ? [SyncFallbackController] : [])],
    providers: [
      ...(definition.providers ?? []),
      { provide: OVERSYNC_ROUTE_FALLBACK, useValue: enabled },
      ...(enabled ? [SyncRoutingErrorLayer] : []),
    ],
  };
}

export const {
  ConfigurableModuleClass: ConfigurableOversyncModule,
  MODULE_OPTIONS_TOKEN: OVERSYNC_MODULE_OPTIONS,
  OPTIONS_TYPE: OVERSYNC_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: OVERSYNC_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<OversyncModuleOptions>({ moduleName: 'Oversync' })
  .setClassMethodName('forRoot')
  .setExtras<OversyncModuleExtras>({ routeFallback: false }, withRouteFallback)
  .build();
