// Payouts over HTTP: every payout of a handle, newest first, for anyone to see.
import { z } from 'zod';
import { handleSchema } from '../escrow/handles.ts';
import type { Payouts } from '../payouts/payouts.ts';
import { parse } from './http.ts';
import type { Api } from './openapi.ts';
import { payoutsView } from './views.ts';

const payoutQuery = z.strictObject({
  handle: handleSchema,
  cursor: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
});

export function payoutRoutes(api: Api, payouts: Payouts): void {
  api.route(
    {
      method: 'get',
      path: '/v1/payouts',
      summary: "A handle's payouts, newest first, public",
      auth: 'none',
      query: payoutQuery,
      responses: { 200: '{ handle, payouts, next }' },
      returns: payoutsView,
      errors: ['invalid_handle'],
    },
    async (req, res) => {
      const query = parse(payoutQuery, req.query, 'query');
      const page = await payouts.list(query.handle.key, query.limit, query.cursor);
      res.json({ handle: query.handle.display, payouts: page.payouts, next: page.next ?? null });
    },
  );
}
