import { createSecretKey } from 'node:crypto';
import { Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { ExtractJwt, Strategy } from 'passport-jwt';
import { goTrimSpace } from '@oversync/nestjs';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';

export interface JwtPayload {
  sub: string;
  exp: number;
  iat?: number;
  iss?: string;
  /** role claims; `admin` opens the admin console */
  roles?: string[];
}

/** Bearer HS256 tokens signed with JWT_SECRET; `sub` is the user id; `exp` is required (spec §8.26). */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      // A KeyObject: given a string, jsonwebtoken first tries (and fails) to parse it as a public key on
      // every request — a third of a small request's CPU. passport-jwt's types predate KeyObject.
      secretOrKey: createSecretKey(Buffer.from(config.jwtSecret, 'utf8')) as unknown as Buffer,
      algorithms: ['HS256'],
      ignoreExpiration: false,
    });
  }

  validate(payload: Partial<JwtPayload>): JwtPayload {
    const sub = typeof payload.sub === 'string' ? goTrimSpace(payload.sub) : '';
    if (!sub || typeof payload.exp !== 'number') throw new UnauthorizedException('Invalid token');
    const roles = Array.isArray(payload.roles)
      ? payload.roles.filter((role): role is string => typeof role === 'string')
      : undefined;
    return { sub, exp: payload.exp, iat: payload.iat, iss: payload.iss, ...(roles ? { roles } : {}) };
  }
}
