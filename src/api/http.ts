// What every route shares: input validation with zod (400 with the issue paths), the supporter's
// bearer token, and the Idempotency-Key header (scoped to the supporter by the ledger).
import { hash } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import { Refusal } from '../errors.ts';
import { handleIssue } from '../escrow/handles.ts';
import { bearerTokenIn, type Supporters } from '../supporters/supporters.ts';

/**
 * `value` as `schema` takes it, or a 400 naming every issue's path: `invalid_handle` when one of
 * them is a handle that is not one, `invalid_request` otherwise.
 */
export function parse<S extends z.ZodType>(schema: S, value: unknown, what = 'request body'): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
  const first = issues[0]!;
  const code = result.error.issues.some((i) => i.code === 'custom' && i.params?.code === handleIssue) ? 'invalid_handle' : 'invalid_request';
  throw new Refusal(code, `${what}: ${first.path ? `${first.path}: ` : ''}${first.message}`, { issues });
}

/** Express 5 keeps req.body undefined when there is no JSON body. */
export const body = (req: Request): unknown => req.body ?? {};

/** The id of a record in a path (deposits, withdrawals, flattrs, claims): tipd's ids are of these letters. */
export const idParams = z.strictObject({ id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be an id tipd gave out') });

/** The bearer token the request sends, if any. */
export const bearerTokenOf = (req: Request): string | undefined => bearerTokenIn(req.get('authorization'));

export function requireSupporter(supporters: Supporters): RequestHandler {
  return async (req, res, next) => {
    const token = bearerTokenOf(req);
    const id = token === undefined ? undefined : await supporters.authenticate(token);
    if (!id) return next(new Refusal('unauthorized', 'send Authorization: Bearer <token> with a valid supporter token'));
    res.locals.supporterId = id;
    next();
  };
}

/**
 * A path as logged. A sign-in's id gets its holder a token: it is polled in a body now, but a page
 * loaded before tipd moved it there polls `GET /v1/auth/lnurl/<id>` (a 404): such an id stays out
 * of the logs, whatever case the path is in (express routes without regard to case).
 */
const secretInPath = /^\/v1\/auth\/lnurl\/(?!poll\/?$)[^/]+/i;
export const loggedPath = (path: string): string => path.replace(secretInPath, '/v1/auth/lnurl/:id');

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
