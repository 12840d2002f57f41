/**
 * Bearer tokens for simulated users: from the reference app's `POST /dummy-signin`, or minted
 * locally as HS256 JWTs with the server's `JWT_SECRET` (`sub` = user id), as any issuer may do.
 */
import { JSON_CONTENT_TYPE } from '@oversync/protocol';
import { createHmac } from 'node:crypto';

export interface BearerTokens {
  token(user: string): Promise<string>;
}

/** Tokens live 5 minutes on the reference app; a cached one is reused for 4. */
const SIGN_IN_REUSE_MS = 4 * 60_000;

export class SignInTokens implements BearerTokens {
  private readonly cache = new Map<string, { token: Promise<string>; at: number }>();

  constructor(private readonly baseUrl: string) {}

  token(user: string): Promise<string> {
    const cached = this.cache.get(user);
    if (cached && Date.now() - cached.at < SIGN_IN_REUSE_MS) return cached.token;
    const token = this.signIn(user);
    this.cache.set(user, { token, at: Date.now() });
    token.catch(() => this.cache.delete(user));
    return token;
  }

  private async signIn(user: string): Promise<string> {
    const response = await fetch(`${this.baseUrl.replace(/\/+$/, '')}/dummy-signin`, {
      method: 'POST',
      headers: { 'Content-Type': JSON_CONTENT_TYPE },
      body: JSON.stringify({ user, password: 'simulator' }),
    });
    const text = await response.text();
    if (response.status !== 200)
      throw new Error(`POST /dummy-signin for ${user} returned ${response.status}: ${text.trim()}`);
    const body = JSON.parse(text) as { token?: unknown };
    if (typeof body.token !== 'string') throw new Error('POST /dummy-signin returned no token');
    return body.token;
  }
}

export class MintedTokens implements BearerTokens {
  constructor(
    private readonly secret: string,
    private readonly lifetimeSeconds = 3600,
  ) {}

  token(user: string): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return Promise.resolve(
      mintHs256Token(this.secret, { sub: user, iat: now, exp: now + this.lifetimeSeconds, iss: 'oversync-simulator' }),
    );
  }
}

export function mintHs256Token(secret: string, claims: Record<string, string | number>): string {
  const encode = (part: object) => Buffer.from(JSON.stringify(part)).toString('base64url');
  const unsigned = `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode(claims)}`;
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`;
}
