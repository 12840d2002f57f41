import { Module, type DynamicModule, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { json } from 'express';
import { OversyncModule } from '@oversync/nestjs';
import { dataSourceOptions } from '../ormconfig.js';
import { APP_CONFIG, type AppConfig } from './config/app-config.js';
import { AuthModule } from './auth/auth.module.js';
import { JwtAuthGuard } from './auth/jwt-auth.guard.js';
import { DummySigninController } from './auth/dummy-signin.controller.js';
import { businessTables } from './business/business-tables.js';

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
          limits: { maxRequestBodyBytes: config.maxBodyBytes, userLockTimeoutMs: config.userLockTimeoutMs },
          watch: { enabled: config.watch },
        }),
      ],
      providers: [{ provide: APP_CONFIG, useValue: config }],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    // The app is created with bodyParser off (the sync module reads its own bodies); the host's routes parse JSON here.
    consumer.apply(json({ limit: '1mb' })).forRoutes(DummySigninController);
  }
}
