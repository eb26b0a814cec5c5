// Flood protection: at most `perMinute` requests a minute per bearer token, or per address for
// callers without one (with express-rate-limit); past that, 429 in the API's error format (LNURL's
// on its routes).
// Generous by default (a wallet firing a hundred requests at once passes); 0 turns it off.
import { hash } from 'node:crypto';
import type { RequestHandler } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import { errorBody } from '../errors.ts';
import { lnurlError } from '../lnurl/lnurl.ts';
import { isLnurlPath } from './lnurl.ts';
import { bearerTokenIn } from '../supporters/supporters.ts';

/** `isToken` tells a real supporter token from made-up ones, which count as no token at all. */
export function rateLimiter(perMinute: number, isToken: (token: string) => Promise<boolean>): RequestHandler {
  if (perMinute === 0) return (_req, _res, next) => next();
  return rateLimit({
    windowMs: 60_000,
    limit: perMinute,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    // The token's hash, not the token, is the key: the limiter's memory holds no secret.
    keyGenerator: async (req) => {
      const token = bearerTokenIn(req.get('authorization'));
      return token && (await isToken(token)) ? `t:${hash('sha256', token)}` : `a:${ipKeyGenerator(req.ip ?? 'unknown')}`;
    },
    handler: (req, res) => {
      const message = `more than ${perMinute} requests a minute; slow down`;
      res.status(429).json(isLnurlPath(req.baseUrl + req.path) ? lnurlError('rate_limited', message) : errorBody('rate_limited', message));
    },
  });
}
