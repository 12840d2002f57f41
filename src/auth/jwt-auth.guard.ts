import { Inject, Injectable, UnauthorizedException, type ExecutionContext } from '@nestjs/common';
import { AuthGuard } from '@nestjs/passport';
import { ExtractJwt } from 'passport-jwt';
import type { Request } from 'express';
import type { JwtPayload } from './jwt.strategy.js';
import { VerifiedTokenCache } from './verified-token-cache.js';

/** the bearer token exactly as the strategy extracts it */
const bearerToken = ExtractJwt.fromAuthHeaderAsBearerToken();

/**
 * Passport JWT guard; failures are 401 with a JSON body. A token the strategy verified is remembered
 * until it expires (VerifiedTokenCache), so a device's next requests skip passport and the HMAC.
 */
@Injectable()
export class JwtAuthGuard extends AuthGuard('jwt') {
  constructor(@Inject(VerifiedTokenCache) private readonly verified: VerifiedTokenCache) {
    super();
  }

  /** A cached token answers at once (no promise: the module's guard then runs synchronously too). */
  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const request = context.switchToHttp().getRequest<Request & { user?: JwtPayload }>();
    const token = bearerToken(request);
    const cached = token ? this.verified.get(token) : undefined;
    if (cached) {
      request.user = cached;
      return true;
    }
    return this.verify(context, request, token);
  }

  private async verify(
    context: ExecutionContext,
    request: Request & { user?: JwtPayload },
    token: string | null,
  ): Promise<boolean> {
    await super.canActivate(context);
    if (token && request.user) this.verified.set(token, request.user);
    return true;
  }

  handleRequest<TUser>(error: unknown, user: TUser | false, info: unknown): TUser {
    if (error || !user) {
      const reason = info instanceof Error ? info.message : 'Authorization header required';
      throw new UnauthorizedException(reason === 'No auth token' ? 'Authorization header required' : 'Invalid token');
    }
    return user;
  }
}
