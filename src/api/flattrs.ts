// Budgets and flattrs over HTTP.
import { Router } from 'express';
import { z } from 'zod';
import { FlattrLimit, type Flattrs } from '../flattrs.ts';
import { handleSchema } from '../handles.ts';
import { amountSat } from '../money.ts';
import type { Supporters } from '../supporters.ts';
import { ApiError } from './errors.ts';
import { body, parse, requireSupporter, supporterOf } from './http.ts';
import { tweetIdSchema } from './tips.ts';

/** A monthly budget of at most 1 BTC. */
export const budgetSatMax = 100_000_000;

const budgetBody = z.strictObject({ monthlyBudgetSat: amountSat(budgetSatMax) });
const flattrBody = z.strictObject({ handle: handleSchema, tweet: tweetIdSchema.optional() });

export function flattrRoutes(supporters: Supporters, flattrs: Flattrs): Router {
  const router = Router();
  const auth = requireSupporter(supporters);

  router.put('/v1/budget', auth, async (req, res) => {
    const input = parse(budgetBody, body(req));
    await flattrs.setBudget(supporterOf(res), input.monthlyBudgetSat);
    res.json({ monthlyBudgetSat: input.monthlyBudgetSat });
  });

  router.post('/v1/flattrs', auth, async (req, res) => {
    const input = parse(flattrBody, body(req));
    try {
      const { flattr, created } = await flattrs.flattr(supporterOf(res), input.handle, input.tweet ?? null);
      res.status(created ? 201 : 200).json(flattr);
    } catch (err) {
      if (err instanceof FlattrLimit) throw new ApiError(409, 'too_many_flattrs', err.message);
      throw err;
    }
  });

  router.get('/v1/flattrs', auth, async (_req, res) => {
    const period = await flattrs.currentPeriod();
    res.json({ period, items: await flattrs.list(supporterOf(res)) });
  });

  router.delete('/v1/flattrs/:id', auth, async (req, res) => {
    const outcome = await flattrs.unflattr(supporterOf(res), req.params.id as string);
    if (outcome === 'not_found') throw new ApiError(404, 'not_found', 'no such flattr');
    if (outcome === 'period_closed') throw new ApiError(409, 'period_closed', 'the period of this flattr is closed');
    res.status(204).end();
  });

  return router;
}
