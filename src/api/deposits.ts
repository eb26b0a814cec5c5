// Deposits over HTTP: ask for an invoice, see whether it was paid.
import { z } from 'zod';
import type { Deposits } from '../deposits/deposits.ts';
import { amountSat, satToMsat } from '../ledger/money.ts';
import type { Supporters } from '../supporters/supporters.ts';
import { Refusal } from '../errors.ts';
import type { Api } from './openapi.ts';
import { body, idempotencyOf, idParams, parse, requireSupporter, supporterOf } from './http.ts';
import { depositView } from './views.ts';

/** Largest single deposit (0.1 BTC): a bound, so that a typo cannot ask for a fortune. */
export const depositSatMax = 10_000_000;

const depositBody = z.strictObject({ amountSat: amountSat(depositSatMax) });

export function depositRoutes(api: Api, supporters: Supporters, deposits: Deposits): void {
  const auth = requireSupporter(supporters);

  api.route(
    {
      method: 'post',
      path: '/v1/deposits',
      summary: 'A BOLT11 invoice of the hub; paying it credits the balance',
      refusedWhileWindingDown: true,
      auth: 'supporter',
      body: depositBody,
      responses: { 201: '{ id, paymentRequest, paymentHash, expiresAt, state }' },
      returns: depositView,
      errors: ['idempotency_key_reused', 'overloaded', 'lnd_unavailable', 'lnd_error'],
    },
    auth,
    async (req, res) => {
      const input = parse(depositBody, body(req));
      res.status(201).json(await deposits.create(supporterOf(res), satToMsat(input.amountSat), { idempotency: idempotencyOf(req) }));
    },
  );

  api.route(
    {
      method: 'get',
      path: '/v1/deposits/:id',
      summary: 'A deposit: open, settled, expired, failed (LND never made its invoice) or cancelled (by the wind-down)',
      auth: 'supporter',
      params: idParams,
      responses: { 200: 'the deposit' },
      returns: depositView,
      errors: ['not_found'],
    },
    auth,
    async (req, res) => {
      const { id } = parse(idParams, req.params, 'path');
      const deposit = await deposits.get(supporterOf(res), id);
      if (!deposit) throw new Refusal('not_found', 'no such deposit');
      res.json(deposit);
    },
  );
}
