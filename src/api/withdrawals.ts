// Withdrawals over HTTP: pay a supporter's own invoice from the balance, and see how it went.
import { z } from 'zod';
import type { Supporters } from '../supporters/supporters.ts';
import { Refusal } from '../errors.ts';
import type { Withdrawals } from '../withdrawals/withdrawals.ts';
import type { Api } from './openapi.ts';
import { body, idempotencyOf, idParams, parse, requireSupporter, supporterOf } from './http.ts';
import { withdrawalView } from './views.ts';

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
      responses: { 201: '{ id, state, amountMsat, feeReserveMsat, feeMsat }' },
      returns: withdrawalView,
      errors: [
        'invalid_payment_request',
        'amount_missing',
        'invoice_expired',
        'wrong_network',
        'own_invoice',
        'insufficient_balance',
        'invoice_already_used',
        'idempotency_key_reused',
        'payments_held',
        'overloaded',
        'lnd_unavailable',
        'lnd_error',
      ],
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
      params: idParams,
      responses: { 200: 'the withdrawal' },
      returns: withdrawalView,
      errors: ['not_found'],
    },
    auth,
    async (req, res) => {
      const { id } = parse(idParams, req.params, 'path');
      const withdrawal = await withdrawals.get(supporterOf(res), id);
      if (!withdrawal) throw new Refusal('not_found', 'no such withdrawal');
      res.json(withdrawal);
    },
  );
}
