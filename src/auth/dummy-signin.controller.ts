import { Body, Controller, HttpCode, HttpException, Post } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { ApiBody, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { goTrimSpace } from '@oversync/nestjs';

class DummySigninRequest {
  @ApiProperty({ example: 'alice' }) user: string;
  @ApiProperty({ example: 'anything', required: false }) password?: string;
  @ApiProperty({
    example: ['admin'],
    required: false,
    description: "role claims; ['admin'] opens the admin console (refused in production)",
  })
  roles?: string[];
}

const TOKEN_LIFETIME_SECONDS = 300;

/**
 * A body Fastify read as text (any Content-Type but JSON): read as JSON like Express' parser does for
 * this route; what is not JSON fails as body-parser's error does (JsonBodyErrorFilter answers it).
 */
function jsonOf(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw Object.assign(new SyntaxError('invalid JSON'), { type: 'entity.parse.failed' });
  }
}

/** The `{error, message}` body Nest's exception layer sends as JSON (the platform's own JSON reply). */
const refusal = (status: number, error: string, message: string) => new HttpException({ error, message }, status);

/** The reference example's sign-in (spec §3.14): any password, a 5-minute HS256 token for `user`. */
@ApiTags('auth')
@Controller()
export class DummySigninController {
  constructor(private readonly jwt: JwtService) {}

  @Post('dummy-signin')
  @HttpCode(200)
  @ApiOperation({ summary: 'Development sign-in: returns a JWT whose sub is the user' })
  @ApiBody({ type: DummySigninRequest })
  async signIn(@Body() received: unknown): Promise<{ expires_in: number; token: string; user: string }> {
    const body = typeof received === 'string' ? jsonOf(received) : received;
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw refusal(400, 'invalid_request', 'invalid JSON');
    const user = (body as { user?: unknown }).user;
    if (typeof user !== 'string' || goTrimSpace(user) === '') throw refusal(400, 'invalid_request', 'user required');
    const roles = (body as { roles?: unknown }).roles;
    if (roles !== undefined && (!Array.isArray(roles) || !roles.every((role) => typeof role === 'string'))) {
      throw refusal(400, 'invalid_request', 'roles must be an array of strings');
    }
    // even when OVERSYNC_DUMMY_SIGNIN forces this route on, it never mints role claims in production
    if (roles?.length && process.env.NODE_ENV === 'production')
      throw refusal(403, 'forbidden', 'roles are not issued in production');
    const claims = { sub: goTrimSpace(user), iss: 'go-oversync-examples', ...(roles?.length ? { roles } : {}) };
    const token = await this.jwt.signAsync(claims, { expiresIn: TOKEN_LIFETIME_SECONDS });
    return { expires_in: TOKEN_LIFETIME_SECONDS, token, user: goTrimSpace(user) };
  }
}
