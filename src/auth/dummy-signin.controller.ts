import { Body, Controller, HttpCode, Post, Res } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { ApiBody, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { goTrimSpace } from '@oversync/nestjs';

class DummySigninRequest {
  @ApiProperty({ example: 'alice' }) user: string;
  @ApiProperty({ example: 'anything', required: false }) password?: string;
  @ApiProperty({ example: ['admin'], required: false, description: "role claims; ['admin'] opens the admin console (refused in production)" }) roles?: string[];
}

const TOKEN_LIFETIME_SECONDS = 300;

/** The reference example's sign-in (spec §3.14): any password, a 5-minute HS256 token for `user`. */
@ApiTags('auth')
@Controller()
export class DummySigninController {
  constructor(private readonly jwt: JwtService) {}

  @Post('dummy-signin')
  @HttpCode(200)
  @ApiOperation({ summary: 'Development sign-in: returns a JWT whose sub is the user' })
  @ApiBody({ type: DummySigninRequest })
  async signIn(@Body() body: unknown, @Res() res: Response): Promise<void> {
    if (!body || typeof body !== 'object' || Array.isArray(body)) {
      res.status(400).json({ error: 'invalid_request', message: 'invalid JSON' });
      return;
    }
    const user = (body as { user?: unknown }).user;
    if (typeof user !== 'string' || goTrimSpace(user) === '') {
      res.status(400).json({ error: 'invalid_request', message: 'user required' });
      return;
    }
    const roles = (body as { roles?: unknown }).roles;
    if (roles !== undefined && (!Array.isArray(roles) || !roles.every((role) => typeof role === 'string'))) {
      res.status(400).json({ error: 'invalid_request', message: 'roles must be an array of strings' });
      return;
    }
    // even when OVERSYNC_DUMMY_SIGNIN forces this route on, it never mints role claims in production
    if (roles?.length && process.env.NODE_ENV === 'production') {
      res.status(403).json({ error: 'forbidden', message: 'roles are not issued in production' });
      return;
    }
    const claims = { sub: goTrimSpace(user), iss: 'go-oversync-examples', ...(roles?.length ? { roles } : {}) };
    const token = await this.jwt.signAsync(claims, { expiresIn: TOKEN_LIFETIME_SECONDS });
    res.status(200).json({ expires_in: TOKEN_LIFETIME_SECONDS, token, user: goTrimSpace(user) });
  }
}
