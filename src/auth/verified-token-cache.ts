import type { JwtPayload } from './jwt.strategy.js';

/**
 * Tokens that passport-jwt verified, with the user they verified to, until their `exp`: a device
 * sends the same bearer token with every request of its 5-minute lifetime, and verifying it (HMAC,
 * base64, JSON, passport's chain) is a visible share of a small request's CPU.
 *
 * Keyed by the whole token, never by its signature alone: a valid signature under other claims is a
 * different key and goes through the verifier. An entry is used only while `now < exp` (jsonwebtoken's
 * own expiry rule, seconds), then dropped. Least recently used entries go first beyond `maxEntries`;
 * tokens longer than MAX_CACHED_TOKEN_CHARS are verified every time, so the cache stays a few MiB.
 */
export const MAX_CACHED_TOKEN_CHARS = 2048;

export class VerifiedTokenCache {
  private readonly entries = new Map<string, JwtPayload>();

  constructor(
    readonly maxEntries: number,
    private readonly nowSeconds: () => number = () => Math.floor(Date.now() / 1000),
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** The user a live cached token verified to (a copy), or undefined. */
  get(token: string): JwtPayload | undefined {
    const user = this.entries.get(token);
    if (user === undefined) return undefined;
    this.entries.delete(token);
    if (this.nowSeconds() >= user.exp) return undefined;
    this.entries.set(token, user); // most recently used last
    return copyOf(user);
  }

  /** Remembers a token that the verifier accepted, for the rest of its lifetime. */
  set(token: string, user: JwtPayload): void {
    if (this.maxEntries <= 0 || token.length > MAX_CACHED_TOKEN_CHARS || this.nowSeconds() >= user.exp) return;
    this.entries.delete(token);
    this.entries.set(token, copyOf(user));
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }
}

/** a request may change its user object: the cached one stays as verified */
function copyOf(user: JwtPayload): JwtPayload {
  return user.roles ? { ...user, roles: [...user.roles] } : { ...user };
}
