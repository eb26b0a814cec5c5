// Supporter accounts over HTTP: create one, see it and its history, rotate its token.
import { z } from 'zod';
import { accounts, type Ledger } from '../ledger/ledger.ts';
import { formatMsat } from '../ledger/money.ts';
import type { Supporters } from '../supporters/supporters.ts';
import { Refusal } from '../errors.ts';
import { encodeLnurl } from '../lnurl/lnurl.ts';
import { fundingUrl, type Site } from '../lnurl/pay.ts';
import type { Api } from './openapi.ts';
import { parse, requireSupporter, supporterOf } from './http.ts';
import { accountCreated, accountView, historyView, tokenView } from './views.ts';

const historyQuery = z.object({
  cursor: z
    .string()
    .regex(/^\d{16}$/, 'must be a cursor from a previous page')
    .optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

/** `site`: where tipd is reached (TIPD_PUBLIC_URL), for the account's funding LNURL; none without one. */
export function supporterRoutes(api: Api, supporters: Supporters, ledger: Ledger, site: Site | undefined): void {
  const auth = requireSupporter(supporters);

  api.route(
    {
      method: 'post',
      path: '/v1/accounts',
      summary: 'Create a supporter account; its token is shown only here',
      auth: 'none',
      responses: { 201: '{ id, token }' },
      returns: accountCreated,
      errors: ['overloaded'],
    },
    async (_req, res) => {
      res.status(201).json(await supporters.create());
    },
  );

  api.route(
    {
      method: 'get',
      path: '/v1/account',
      summary: 'The supporter: balance, budget, and the LNURL that funds it from any wallet',
      auth: 'supporter',
      responses: { 200: '{ id, balanceMsat, monthlyBudgetSat, createdAt, fundingLnurl, fundingLightning }' },
      returns: accountView,
    },
    auth,
    async (_req, res) => {
      const id = supporterOf(res);
      const supporter = await supporters.get(id);
      if (!supporter) throw new Refusal('unauthorized', 'unknown supporter');
      res.json({
        id,
        balanceMsat: formatMsat(await ledger.balance(accounts.supporter(id))),
        monthlyBudgetSat: supporter.monthlyBudgetSat,
        createdAt: supporter.createdAt,
        // One QR that tops the balance up from any LNURL wallet, the amount picked there (a deposit, as POST /v1/deposits).
        ...fundingOf(site, id),
      });
    },
  );

  api.route(
    {
      method: 'get',
      path: '/v1/account/history',
      summary: 'Every movement of the account, newest first',
      auth: 'supporter',
      query: historyQuery,
      responses: { 200: '{ items, nextCursor }' },
      returns: historyView,
    },
    auth,
    async (req, res) => {
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
    },
  );

  api.route(
    {
      method: 'post',
      path: '/v1/account/token',
      summary: 'A new token; the old one stops working at once',
      auth: 'supporter',
      responses: { 201: '{ token }' },
      returns: tokenView,
      errors: ['overloaded'],
    },
    auth,
    async (_req, res) => {
      res.status(201).json({ token: await supporters.rotateToken(supporterOf(res)) });
    },
  );
}

function fundingOf(site: Site | undefined, supporterId: string): { fundingLnurl: string | null; fundingLightning: string | null } {
  if (!site) return { fundingLnurl: null, fundingLightning: null };
  const lnurl = encodeLnurl(fundingUrl(site, supporterId));
  return { fundingLnurl: lnurl, fundingLightning: `lightning:${lnurl}` };
}
