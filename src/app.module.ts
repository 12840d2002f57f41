import { Inject, Module, type DynamicModule, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { json } from 'express';
import { OversyncAdminModule, OversyncModule, WatchService } from '@oversync/nestjs';
import { dataSourceOptions } from '../ormconfig.js';
import { APP_CONFIG, type AppConfig } from './config/app-config.js';
import { AuthModule } from './auth/auth.module.js';
import { JwtAuthGuard } from './auth/jwt-auth.guard.js';
import { AdminGuard } from './auth/admin.guard.js';
import { DummySigninController } from './auth/dummy-signin.controller.js';
import { businessTables } from './business/business-tables.js';
import { TestEndpointsController } from './test-endpoints/test-endpoints.controller.js';
import { FailureInjector } from './test-endpoints/failure-injector.js';
import { WATCH_SUBSCRIBER_COUNT } from './test-endpoints/watch-subscriber-count.js';
import { TerminusModule } from '@nestjs/terminus';
import { HealthController } from './observability/health.controller.js';
import { MetricsController } from './observability/metrics.controller.js';
import { jsonLogging, oversyncObservability } from './observability/observability.js';

/** The reference host: TypeORM on PostgreSQL, passport-jwt, and the sync module over the business tables. */
@Module({})
export class AppModule implements NestModule {
  static register(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        TypeOrmModule.forRoot(dataSourceOptions(config.databaseUrl, config.poolMax)),
        jsonLogging(config),
        TerminusModule,
        AuthModule.register(config),
        OversyncModule.forRoot({
          tables: businessTables(config.businessSchema),
          appName: 'oversync-nestjs-reference',
          maxSupportedSchemaVersion: 1,
          guards: [JwtAuthGuard],
          preparedStatements: config.preparedStatements,
          limits: {
            maxRequestBodyBytes: config.maxBodyBytes,
            userLockTimeoutMs: config.userLockTimeoutMs,
            retainedBundlesPerUser: config.retainedBundlesPerUser,
            sweepIntervalMs: config.sweepIntervalMs,
          },
          watch: {
            enabled: config.watch,
            heartbeatIntervalMs: config.watchHeartbeatMs,
            listenLingerMs: config.watchListenLingerMs,
            maxSubscribersPerUser: config.watchMaxSubscribersPerUser,
            maxSubscribersPerProcess: config.watchMaxSubscribersPerProcess,
          },
          ...oversyncObservability(config),
          // unknown /sync paths, wrong methods and routing errors answer in the protocol envelope (spec §8.25)
          routeFallback: true,
        }),
        // the admin console at /admin: JWTs with roles: ['admin'] only
        OversyncAdminModule.forRoot({ guards: [AdminGuard], path: 'admin' }),
      ],
      // the reference example's test surface, never on by default
      controllers: [
        HealthController,
        ...(config.metrics ? [MetricsController] : []),
        ...(config.testEndpoints ? [TestEndpointsController] : []),
      ],
      providers: [
        { provide: APP_CONFIG, useValue: config },
        FailureInjector,
        {
          provide: WATCH_SUBSCRIBER_COUNT,
          useFactory: (watch: WatchService) => (userId: string) => watch.subscriberCount(userId),
          inject: [WatchService],
        },
      ],
    };
  }

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly failures: FailureInjector,
  ) {}

  configure(consumer: MiddlewareConsumer): void {
    // The host's routes use Nest's own body parser (on, with rawBody: see create-app.ts). Sign-in, like
    // the reference, reads JSON whatever the Content-Type; a body it cannot read reaches JsonBodyErrorFilter.
    // (On Fastify its own parser reads JSON bodies: sign-in there takes Content-Type: application/json.)
    if (this.config.httpAdapter === 'express')
      consumer.apply(json({ limit: '1mb', type: () => true })).forRoutes(DummySigninController);
    // (on Fastify the failure injector is a native hook: create-app.ts; no middleware there, so no middie)
    if (this.config.testEndpoints && this.config.httpAdapter === 'express') {
      consumer.apply(this.failures.use.bind(this.failures)).forRoutes('sync/*path');
    }
  }
}
