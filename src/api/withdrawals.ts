// Withdrawals over HTTP: pay a supporter's own invoice from the balance, and see how it went.
import { Router } from 'express';
import { z } from 'zod';
import type { Supporters } from '../supporters.ts';
import { InvoiceRefused, type Withdrawals } from '../withdrawals.ts';
import { ApiError } from './errors.ts';
import { body, idempotencyOf, parse, requireSupporter, supporterOf } from './http.ts';

const withdrawalBody = z.strictObject({ paymentRequest: z.string().min(1).max(4_000) });

export function withdrawalRoutes(supporters: Supporters, withdrawals: Withdrawals): Router {
  const router = Router();
  const auth = requireSupporter(supporters);

  router.post('/v1/withdrawals', auth, async (req, res) => {
    const input = parse(withdrawalBody, body(req));
    try {
      res.status(201).json(await withdrawals.create(supporterOf(res), input.paymentRequest, idempotencyOf(req)));
    } catch (err) {
      if (err instanceof InvoiceRefused) throw new ApiError(err.code === 'invoice_already_used' ? 409 : 400, err.code, err.message);
      throw err;
    }
  });

  router.get('/v1/withdrawals/:id', auth, async (req, res) => {
    const withdrawal = await withdrawals.get(supporterOf(res), req.params.id as string);
    if (!withdrawal) throw new ApiError(404, 'not_found', 'no such withdrawal');
    res.json(withdrawal);
  });

  return router;
}
