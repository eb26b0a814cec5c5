// Withdrawals over HTTP: pay a supporter's own invoice from the balance, and see how it went.
import { z } from 'zod';
import type { Supporters } from '../supporters/supporters.ts';
import type { Withdrawals } from '../withdrawals/withdrawals.ts';
import { ApiError } from './errors.ts';
import type { Api } from './openapi.ts';
import { body, idempotencyOf, parse, requireSupporter, supporterOf } from './http.ts';

const withdrawalBody = z.strictObject({ paymentRequest: z.string().min(1).max(4_000) });

export function withdrawalRoutes(api: Api, supporters: Supporters, withdrawals: Withdrawals): void {
  const auth = requireSupporter(supporters);

  api.route(
    {
      method: 'post',
      path: '/v1/withdrawals',
      summary: "Pay the supporter's own BOLT11 invoice from the balance",
      auth: 'supporter',
      body: withdrawalBody,
      responses: {
        201: '{ id, state, amountMsat, feeReserveMsat, feeMsat }',
        400: 'invalid_payment_request | amount_missing | invoice_expired | wrong_network | own_invoice',
        409: 'insufficient_balance | invoice_already_used',
      },
    },
    auth,
    async (req, res) => {
      const input = parse(withdrawalBody, body(req));
      res.status(201).json(await withdrawals.create(supporterOf(res), input.paymentRequest, idempotencyOf(req)));
    },
  );

  api.route(
    {
      method: 'get',
      path: '/v1/withdrawals/:id',
      summary: 'A withdrawal: pending, succeeded or failed',
      auth: 'supporter',
      responses: { 200: 'the withdrawal', 404: 'not_found' },
    },
    auth,
    async (req, res) => {
      const withdrawal = await withdrawals.get(supporterOf(res), req.params.id as string);
      if (!withdrawal) throw new ApiError(404, 'not_found', 'no such withdrawal');
      res.json(withdrawal);
    },
  );
}
