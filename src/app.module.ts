import { Inject, Module, type DynamicModule, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { json, type NextFunction, type Request, type Response } from 'express';
import { OversyncModule, WatchService } from '@oversync/nestjs';
import { dataSourceOptions } from '../ormconfig.js';
import { APP_CONFIG, type AppConfig } from './config/app-config.js';
import { AuthModule } from './auth/auth.module.js';
import { JwtAuthGuard } from './auth/jwt-auth.guard.js';
import { DummySigninController } from './auth/dummy-signin.controller.js';
import { businessTables } from './business/business-tables.js';
import { TestEndpointsController } from './test-endpoints/test-endpoints.controller.js';
import { FailureInjector } from './test-endpoints/failure-injector.js';
import { WATCH_SUBSCRIBER_COUNT } from './test-endpoints/watch-subscriber-count.js';

// every content type: the reference decodes the body whatever its Content-Type
const parseJson = json({ limit: '1mb', type: () => true });

/** express.json, with a body it cannot read answered as the reference does: `400 {"error":"invalid_request","message":"invalid JSON"}`. */
function jsonOrEnvelope(req: Request, res: Response, next: NextFunction): void {
  parseJson(req, res, (error?: unknown) => {
    if (error === undefined || error === null) return next();
    const status = (error as { status?: number }).status === 413 ? 413 : 400;
    const body = status === 413 ? { error: 'request_too_large', message: 'request body exceeds 1mb' } : { error: 'invalid_request', message: 'invalid JSON' };
    res.status(status).setHeader('Content-Type', 'application/json');
    res.end(`${JSON.stringify(body)}\n`);
  });
}

/** The reference host: TypeORM on PostgreSQL, passport-jwt, and the sync module over the business tables. */
@Module({})
export class AppModule implements NestModule {
  static register(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        TypeOrmModule.forRoot(dataSourceOptions(config.databaseUrl)),
        AuthModule.register(config),
        OversyncModule.forRoot({
          tables: businessTables(config.businessSchema),
          appName: 'oversync-nestjs-reference',
          maxSupportedSchemaVersion: 1,
          guards: [JwtAuthGuard],
          preparedStatements: config.preparedStatements,
          limits: { maxRequestBodyBytes: config.maxBodyBytes, userLockTimeoutMs: config.userLockTimeoutMs, retainedBundlesPerUser: config.retainedBundlesPerUser, sweepIntervalMs: config.sweepIntervalMs },
          watch: {
            enabled: config.watch,
            heartbeatIntervalMs: config.watchHeartbeatMs,
            maxSubscribersPerUser: config.watchMaxSubscribersPerUser,
            maxSubscribersPerProcess: config.watchMaxSubscribersPerProcess,
          },
        }),
      ],
      // the reference example's test surface, never on by default
      controllers: config.testEndpoints ? [TestEndpointsController] : [],
      providers: [
        { provide: APP_CONFIG, useValue: config },
        FailureInjector,
        { provide: WATCH_SUBSCRIBER_COUNT, useFactory: (watch: WatchService) => (userId: string) => watch.subscriberCount(userId), inject: [WatchService] },
      ],
    };
  }

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly failures: FailureInjector,
  ) {}

  configure(consumer: MiddlewareConsumer): void {
    // The app is created with bodyParser off (the sync module reads its own bodies); the host's routes parse JSON here.
    consumer.apply(jsonOrEnvelope).forRoutes(DummySigninController);
    if (this.config.testEndpoints) {
      consumer.apply(json({ limit: '1mb' })).forRoutes(TestEndpointsController);
      consumer.apply(this.failures.use.bind(this.failures)).forRoutes('sync/*path');
    }
  }
}
