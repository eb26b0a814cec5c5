// Supporter accounts over HTTP: create one, see it and its history, rotate its token.
import { Router } from 'express';
import { z } from 'zod';
import { accounts, type Ledger } from '../ledger/ledger.ts';
import { formatMsat } from '../money.ts';
import type { Supporters } from '../supporters.ts';
import { ApiError } from './errors.ts';
import { parse, requireSupporter, supporterOf } from './http.ts';

const historyQuery = z.object({
  cursor: z.string().regex(/^\d{16}$/, 'must be a cursor from a previous page').optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

export function supporterRoutes(supporters: Supporters, ledger: Ledger): Router {
  const router = Router();
  const auth = requireSupporter(supporters);

  router.post('/v1/accounts', async (_req, res) => {
    res.status(201).json(await supporters.create());
  });

  router.get('/v1/account', auth, async (_req, res) => {
    const id = supporterOf(res);
    const supporter = await supporters.get(id);
    if (!supporter) throw new ApiError(401, 'unauthorized', 'unknown supporter');
    res.json({
      id,
      balanceMsat: formatMsat(await ledger.balance(accounts.supporter(id))),
      monthlyBudgetSat: supporter.monthlyBudgetSat,
      createdAt: supporter.createdAt,
    });
  });

  router.get('/v1/account/history', auth, async (req, res) => {
    const account = accounts.supporter(supporterOf(res));
    const query = parse(historyQuery, req.query, 'query');
    const page = await ledger.history(account, query.limit, query.cursor);
    res.json({
      items: page.map((t) => ({
        id: t.id,
        kind: t.kind,
        direction: t.credit === account ? 'in' : 'out',
        amountMsat: formatMsat(t.amountMsat),
        counterparty: t.credit === account ? t.debit : t.credit,
        at: t.at,
        ...(t.meta ?? {}),
      })),
      nextCursor: page.length === query.limit ? page.at(-1)!.id : null,
    });
  });

  router.post('/v1/account/token', auth, async (_req, res) => {
    res.status(201).json({ token: await supporters.rotateToken(supporterOf(res)) });
  });

  return router;
}
