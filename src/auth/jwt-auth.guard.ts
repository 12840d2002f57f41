import { Injectable, UnauthorizedException } from '@nestjs/common';
import { AuthGuard } from '@nestjs/passport';

/** Passport JWT guard; failures are 401 with a JSON body. */
@Injectable()
export class JwtAuthGuard extends AuthGuard('jwt') {
  handleRequest<TUser>(error: unknown, user: TUser | false, info: unknown): TUser {
    if (error || !user) {
      const reason = info instanceof Error ? info.message : 'Authorization header required';
      throw new UnauthorizedException(reason === 'No auth token' ? 'Authorization header required' : 'Invalid token');
    }
    return user;
  }
}
