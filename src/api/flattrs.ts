// Budgets and flattrs over HTTP.
import { z } from 'zod';
import { Refusal } from '../errors.ts';
import type { Flattrs } from '../flattrs/flattrs.ts';
import { handleSchema } from '../escrow/handles.ts';
import { amountSat } from '../ledger/money.ts';
import type { Supporters } from '../supporters/supporters.ts';
import type { Api } from './openapi.ts';
import { body, idParams, parse, requireSupporter, supporterOf } from './http.ts';
import { tweetIdSchema } from './tips.ts';
import { budgetView, flattrView, flattrsView } from './views.ts';

/** A monthly budget of at most 1 BTC. */
export const budgetSatMax = 100_000_000;

const budgetBody = z.strictObject({ monthlyBudgetSat: amountSat(budgetSatMax) });
const flattrBody = z.strictObject({ handle: handleSchema, tweet: tweetIdSchema.optional() });

export function flattrRoutes(api: Api, supporters: Supporters, flattrs: Flattrs): void {
  const auth = requireSupporter(supporters);

  api.route(
    {
      method: 'put',
      path: '/v1/budget',
      summary: 'The monthly budget split at each period close',
      auth: 'supporter',
      body: budgetBody,
      responses: { 200: '{ monthlyBudgetSat }' },
      returns: budgetView,
      errors: ['overloaded'],
    },
    auth,
    async (req, res) => {
      const input = parse(budgetBody, body(req));
      await supporters.setBudget(supporterOf(res), input.monthlyBudgetSat);
      res.json({ monthlyBudgetSat: input.monthlyBudgetSat });
    },
  );

  api.route(
    {
      method: 'post',
      path: '/v1/flattrs',
      summary: 'Flattr a handle, or one tweet of it, in the current period',
      refusedWhileWindingDown: true,
      auth: 'supporter',
      body: flattrBody,
      responses: { 201: 'the flattr', 200: 'already flattred this period' },
      returns: flattrView,
      errors: ['invalid_handle', 'too_many_flattrs', 'overloaded'],
    },
    auth,
    async (req, res) => {
      const input = parse(flattrBody, body(req));
      const { flattr, created } = await flattrs.flattr(supporterOf(res), input.handle, input.tweet ?? null);
      res.status(created ? 201 : 200).json(flattr);
    },
  );

  api.route(
    {
      method: 'get',
      path: '/v1/flattrs',
      summary: "This period's flattrs",
      auth: 'supporter',
      responses: { 200: '{ period, items }' },
      returns: flattrsView,
      errors: ['overloaded'],
    },
    auth,
    async (_req, res) => {
      const period = await flattrs.currentPeriod();
      res.json({ period, items: await flattrs.list(supporterOf(res)) });
    },
  );

  api.route(
    {
      method: 'delete',
      path: '/v1/flattrs/:id',
      summary: 'Take a flattr back before its period closes',
      auth: 'supporter',
      params: idParams,
      responses: { 204: 'removed' },
      errors: ['not_found', 'period_closed', 'overloaded'],
    },
    auth,
    async (req, res) => {
      const { id } = parse(idParams, req.params, 'path');
      const outcome = await flattrs.unflattr(supporterOf(res), id);
      if (outcome === 'not_found') throw new Refusal('not_found', 'no such flattr');
      if (outcome === 'period_closed') throw new Refusal('period_closed');
      res.status(204).end();
    },
  );
}
