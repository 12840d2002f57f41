import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { OversyncModuleOptions } from './oversync.options.js';

export const {
  ConfigurableModuleClass: ConfigurableOversyncModule,
  MODULE_OPTIONS_TOKEN: OVERSYNC_MODULE_OPTIONS,
  OPTIONS_TYPE: OVERSYNC_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: OVERSYNC_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<OversyncModuleOptions>({ moduleName: 'Oversync' })
  .setClassMethodName('forRoot')
  .build();
