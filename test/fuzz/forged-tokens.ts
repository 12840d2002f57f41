import { createHmac } from 'node:crypto';

const base64url = (value: string | Buffer) => Buffer.from(value).toString('base64url');

/** A compact JWT with the given header and claims, HMAC-signed with `secret` (or unsigned for `alg: none`). */
export function signJwt(header: Record<string, unknown>, claims: Record<string, unknown>, secret: string): string {
  const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
  const hash = ({ HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' } as Record<string, string>)[String(header.alg)];
  if (!hash) return `${signingInput}.`;
  return `${signingInput}.${createHmac(hash, secret).update(signingInput).digest('base64url')}`;
}

/**
 * Tokens for `user` that the reference app must refuse (spec §3.0.2, §8.26): forged, expired,
 * unsigned, other algorithms, missing or malformed claims. `secret` is the app's real secret.
 */
export function forgedTokens(user: string, secret: string): Array<[name: string, token: string]> {
  const now = Math.floor(Date.now() / 1000);
  const live = { sub: user, iat: now, exp: now + 300 };
  const hs256 = { alg: 'HS256', typ: 'JWT' };
  const valid = signJwt(hs256, live, secret);
  const [validHeader, validClaims] = valid.split('.');
  return [
    ['wrong secret', signJwt(hs256, live, 'not-the-secret')],
    ['empty secret', signJwt(hs256, live, '')],
    ['expired', signJwt(hs256, { sub: user, iat: now - 600, exp: now - 300 }, secret)],
    ['not yet valid (nbf)', signJwt(hs256, { ...live, nbf: now + 3600 }, secret)],
    ['alg none, no signature', signJwt({ alg: 'none', typ: 'JWT' }, live, secret)],
    [
      'alg None with the HS256 signature',
      `${base64url(JSON.stringify({ alg: 'None', typ: 'JWT' }))}.${validClaims}.${valid.split('.')[2]}`,
    ],
    ['HS512 with the right secret', signJwt({ alg: 'HS512', typ: 'JWT' }, live, secret)],
    ['HS384 with the right secret', signJwt({ alg: 'HS384', typ: 'JWT' }, live, secret)],
    [
      'RS256 header over an HMAC signature',
      `${base64url(JSON.stringify({ alg: 'RS256', typ: 'JWT' }))}.${validClaims}.${valid.split('.')[2]}`,
    ],
    ['missing exp', signJwt(hs256, { sub: user, iat: now }, secret)],
    ['exp as a string', signJwt(hs256, { sub: user, iat: now, exp: String(now + 300) }, secret)],
    ['sub missing', signJwt(hs256, { iat: now, exp: now + 300 }, secret)],
    ['sub blank', signJwt(hs256, { sub: '   ', iat: now, exp: now + 300 }, secret)],
    ['sub not a string', signJwt(hs256, { sub: { id: user }, iat: now, exp: now + 300 }, secret)],
    [
      'claims swapped under a valid signature',
      `${validHeader}.${base64url(JSON.stringify({ ...live, sub: `${user}x` }))}.${valid.split('.')[2]}`,
    ],
    ['signature stripped', `${validHeader}.${validClaims}.`],
    ['two segments', `${validHeader}.${validClaims}`],
    ['garbage', 'not.a.jwt'],
  ];
}
