// Deposits over HTTP: ask for an invoice, see whether it was paid.
import { Router } from 'express';
import { z } from 'zod';
import type { Deposits } from '../deposits.ts';
import { amountSat, satToMsat } from '../money.ts';
import type { Supporters } from '../supporters.ts';
import { ApiError } from './errors.ts';
import { body, idempotencyOf, parse, requireSupporter, supporterOf } from './http.ts';

/** Largest single deposit (0.1 BTC): a bound, so that a typo cannot ask for a fortune. */
export const depositSatMax = 10_000_000;

const depositBody = z.strictObject({ amountSat: amountSat(depositSatMax) });

export function depositRoutes(supporters: Supporters, deposits: Deposits): Router {
  const router = Router();
  const auth = requireSupporter(supporters);

  router.post('/v1/deposits', auth, async (req, res) => {
    const input = parse(depositBody, body(req));
    res.status(201).json(await deposits.create(supporterOf(res), satToMsat(input.amountSat), idempotencyOf(req)));
  });

  router.get('/v1/deposits/:id', auth, async (req, res) => {
    const deposit = await deposits.get(supporterOf(res), req.params.id as string);
    if (!deposit) throw new ApiError(404, 'not_found', 'no such deposit');
    res.json(deposit);
  });

  return router;
}
