// The operator's API, behind TIPD_ADMIN_TOKEN (off when it is not set).
import { timingSafeEqual, createHash } from 'node:crypto';
import { Router, type RequestHandler } from 'express';
import type { Flattrs } from '../flattrs.ts';
import { ApiError } from './errors.ts';

const digest = (s: string) => createHash('sha256').update(s).digest();

export function requireAdmin(adminToken: string | undefined): RequestHandler {
  const expected = adminToken ? digest(adminToken) : undefined;
  return (req, _res, next) => {
    if (!expected) return next(new ApiError(403, 'admin_disabled', 'the admin API is off: set TIPD_ADMIN_TOKEN'));
    const match = /^Bearer (\S+)$/.exec(req.get('authorization') ?? '');
    // Compare digests, so the time taken says nothing about the token.
    if (!match || !timingSafeEqual(digest(match[1]!), expected)) return next(new ApiError(401, 'unauthorized', 'send Authorization: Bearer <operator token>'));
    next();
  };
}

export function adminRoutes(adminToken: string | undefined, flattrs: Flattrs): Router {
  const router = Router();
  router.post('/v1/admin/periods/close', requireAdmin(adminToken), async (_req, res) => {
    res.json(await flattrs.close());
  });
  return router;
}
