import { Module, type DynamicModule } from '@nestjs/common';
import { JwtModule } from '@nestjs/jwt';
import { PassportModule } from '@nestjs/passport';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { JwtStrategy } from './jwt.strategy.js';
import { JwtAuthGuard } from './jwt-auth.guard.js';
import { AdminGuard } from './admin.guard.js';
import { DummySigninController } from './dummy-signin.controller.js';
import { VerifiedTokenCache } from './verified-token-cache.js';

@Module({})
export class AuthModule {
  static register(config: AppConfig): DynamicModule {
    return {
      module: AuthModule,
      imports: [PassportModule, JwtModule.register({ secret: config.jwtSecret, signOptions: { algorithm: 'HS256' } })],
      controllers: config.dummySignin ? [DummySigninController] : [],
      providers: [
        { provide: APP_CONFIG, useValue: config },
        { provide: VerifiedTokenCache, useValue: new VerifiedTokenCache(config.jwtCacheEntries) },
        JwtStrategy,
        JwtAuthGuard,
        AdminGuard,
      ],
      exports: [JwtAuthGuard, AdminGuard, JwtModule],
    };
  }
}
