// LNURL-withdraw over HTTP (LUD-03): a supporter asks for a withdraw link (/v1, bearer token); a
// wallet reads it (GET /lnurl/withdraw) and redeems it with an invoice (GET /lnurl/withdraw/callback),
// answered OK once the withdrawal is held, LND paying it in the background. The wallet's routes
// answer errors in LNURL's format (api/errors.ts). Every link printed starts with TIPD_PUBLIC_URL:
// without it, there is no link to print.
import { z } from 'zod';
import { Refusal } from '../errors.ts';
import { encodeLnurl } from '../lnurl/lnurl.ts';
import { amountSat, satToMsat } from '../ledger/money.ts';
import type { Supporters } from '../supporters/supporters.ts';
import type { WithdrawLinks } from '../withdrawals/links.ts';
import { body, idParams, parse, requireSupporter, supporterOf } from './http.ts';
import type { Api } from './openapi.ts';
import { lnurlOk, withdrawLinkCreated, withdrawLinkView, withdrawRequest } from './views.ts';

const linkBody = z.strictObject({ amountSat: amountSat().optional() });
const k1 = z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be the k1 of a withdraw link: 64 hex digits');
// Wallets may add parameters of their own: those are let through.
const requestQuery = z.object({ k1 });
const callbackQuery = z.object({ k1, pr: z.string().min(1).max(4_000) });

/** What the wallet is told the withdrawal is, in its history. */
const defaultDescription = 'Withdrawal from tipd';

const publicUrlOf = (publicUrl: string | undefined): string => {
  if (publicUrl === undefined) throw new Refusal('lnurl_unavailable');
  return publicUrl;
};

export function lnurlWithdrawRoutes(api: Api, supporters: Supporters, links: WithdrawLinks, publicUrl: string | undefined): void {
  const auth = requireSupporter(supporters);

  api.route(
    {
      method: 'post',
      path: '/v1/withdrawals/lnurl',
      summary: 'A single-use LNURL-withdraw link for a wallet: for amountSat, or for up to what the balance covers',
      auth: 'supporter',
      body: linkBody,
      responses: { 201: '{ id, k1, lnurl, expiresAt, minWithdrawable, maxWithdrawable } (msat, as the wallet sees them)' },
      returns: withdrawLinkCreated,
      errors: ['insufficient_balance', 'too_many_withdraw_links', 'lnurl_unavailable', 'overloaded'],
    },
    auth,
    async (req, res) => {
      const input = parse(linkBody, body(req));
      const base = publicUrlOf(publicUrl);
      const { k1: secret, link } = await links.create(supporterOf(res), input.amountSat === undefined ? undefined : satToMsat(input.amountSat));
      res.status(201).json({
        id: link.id,
        k1: secret,
        lnurl: encodeLnurl(`${base}/lnurl/withdraw?k1=${secret}`),
        expiresAt: link.expiresAt,
        minWithdrawable: Number(link.minWithdrawableMsat),
        maxWithdrawable: Number(link.maxWithdrawableMsat),
      });
    },
  );

  api.route(
    {
      method: 'get',
      path: '/v1/withdrawals/lnurl/:id',
      summary: 'A withdraw link: open, used (with its withdrawal) or expired',
      auth: 'supporter',
      params: idParams,
      responses: { 200: '{ id, state, minWithdrawableMsat, maxWithdrawableMsat, expiresAt, withdrawal }' },
      returns: withdrawLinkView,
      errors: ['not_found'],
    },
    auth,
    async (req, res) => {
      const { id } = parse(idParams, req.params, 'path');
      const link = await links.get(supporterOf(res), id);
      if (!link) throw new Refusal('not_found', 'no such withdraw link');
      res.json(link);
    },
  );

  api.route(
    {
      method: 'get',
      path: '/lnurl/withdraw',
      summary: 'LNURL-withdraw (LUD-03): what a wallet may take with this k1',
      auth: 'none',
      query: requestQuery,
      responses: { 200: '{ tag: "withdrawRequest", callback, k1, defaultDescription, minWithdrawable, maxWithdrawable }' },
      returns: withdrawRequest,
      errors: ['withdraw_link_unknown', 'withdraw_link_used', 'withdraw_link_expired', 'insufficient_balance', 'lnurl_unavailable'],
      lnurl: true,
    },
    async (req, res) => {
      const query = parse(requestQuery, req.query, 'query');
      const base = publicUrlOf(publicUrl);
      const bounds = await links.bounds(query.k1);
      res.json({
        tag: 'withdrawRequest',
        callback: `${base}/lnurl/withdraw/callback`,
        k1: query.k1,
        defaultDescription,
        minWithdrawable: Number(bounds.minWithdrawableMsat),
        maxWithdrawable: Number(bounds.maxWithdrawableMsat),
      });
    },
  );

  api.route(
    {
      method: 'get',
      path: '/lnurl/withdraw/callback',
      summary: 'LNURL-withdraw (LUD-03): the wallet redeems k1 with its invoice; OK once held, paid in the background',
      auth: 'none',
      query: callbackQuery,
      responses: { 200: '{ status: "OK" }' },
      returns: lnurlOk,
      errors: [
        'withdraw_link_unknown',
        'withdraw_link_used',
        'withdraw_link_expired',
        'amount_out_of_range',
        'invalid_payment_request',
        'amount_missing',
        'invoice_expired',
        'wrong_network',
        'own_invoice',
        'invoice_already_used',
        'insufficient_balance',
        'payments_held',
        'overloaded',
        'lnd_unavailable',
        'lnd_error',
      ],
      lnurl: true,
    },
    async (req, res) => {
      const query = parse(callbackQuery, req.query, 'query');
      await links.redeem(query.k1, query.pr);
      res.json({ status: 'OK' });
    },
  );
}
