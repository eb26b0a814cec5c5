// What every route shares: input validation with zod (400 with the issue paths), the supporter's
// bearer token, and the Idempotency-Key header (scoped to the supporter by the ledger).
import { hash } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import type { Supporters } from '../supporters/supporters.ts';
import { ApiError } from './errors.ts';

export function parse<S extends z.ZodType>(schema: S, value: unknown, what = 'request body'): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
  const first = issues[0]!;
  throw new ApiError(400, 'invalid_request', `${what}: ${first.path ? `${first.path}: ` : ''}${first.message}`, { issues });
}

/** Express 5 keeps req.body undefined when there is no JSON body. */
export const body = (req: Request): unknown => req.body ?? {};

export function requireSupporter(supporters: Supporters): RequestHandler {
  return async (req, res, next) => {
    const match = /^Bearer (\S+)$/.exec(req.get('authorization') ?? '');
    const id = match ? await supporters.authenticate(match[1]!) : undefined;
    if (!id) return next(new ApiError(401, 'unauthorized', 'send Authorization: Bearer <token> with a valid supporter token'));
    res.locals.supporterId = id;
    next();
  };
}

export const supporterOf = (res: Response): string => res.locals.supporterId as string;

const idempotencyKeySchema = z.string().regex(/^[\x21-\x7e]{1,255}$/, 'must be 1 to 255 printable ASCII characters');

/** The request's Idempotency-Key and a fingerprint of what it asks, if it sent one. */
export function idempotencyOf(req: Request): { key: string; fingerprint: string } | undefined {
  const key = req.get('idempotency-key');
  if (key === undefined) return undefined;
  return {
    key: parse(idempotencyKeySchema, key, 'Idempotency-Key header'),
    fingerprint: hash('sha256', `${req.method} ${req.path} ${JSON.stringify(req.body ?? null)}`),
  };
}
