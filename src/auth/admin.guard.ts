import { ForbiddenException, Injectable, type ExecutionContext } from '@nestjs/common';
import { JwtAuthGuard } from './jwt-auth.guard.js';
import type { JwtPayload } from './jwt.strategy.js';

export const ADMIN_ROLE = 'admin';

/**
 * The reference host's admin check for the console: a valid JWT (else 401) whose `roles` claim has `admin` (else 403).
 */
@Injectable()
export class AdminGuard extends JwtAuthGuard {
  async canActivate(context: ExecutionContext): Promise<boolean> {
    await super.canActivate(context);
    const user = context.switchToHttp().getRequest<{ user?: JwtPayload }>().user;
    if (!user?.roles?.includes(ADMIN_ROLE)) throw new ForbiddenException('admin role required');
    return true;
  }
}
