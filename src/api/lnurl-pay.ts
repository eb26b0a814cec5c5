// LNURL-pay over HTTP: a handle's pay request at its Lightning Address path (LUD-16), the callback
// that makes the invoice, a supporter's own funding LNURL-pay, and LUD-21's verify. Public: no
// account, CORS `*`, errors in LNURL's format.
import { z } from 'zod';
import type { Deposits } from '../deposits/deposits.ts';
import { Refusal } from '../errors.ts';
import { handleSchema } from '../escrow/handles.ts';
import type { Tips } from '../escrow/tips.ts';
import type { Supporters } from '../supporters/supporters.ts';
import { depositSatMax } from './deposits.ts';
import {
  checkAmount,
  cleanComment,
  descriptionHashOf,
  fundingMetadata,
  fundingPayRequest,
  metadataOf,
  parsePayerData,
  payRequest,
  successMessage,
  type PayLimits,
  type Site,
} from '../lnurl/pay.ts';
import { idParams, parse } from './http.ts';
import { rateLimiter } from './rate-limit.ts';
import type { Api } from './openapi.ts';
import { payRequestView, verifyView, payInvoiceView } from './views.ts';

/** A Lightning Address's user part: the handle, with a `+tag` (LUD-16) set aside. */
const addressParams = z.strictObject({
  handle: z
    .string()
    .meta({ pattern: '^@?[A-Za-z0-9_]{1,15}(?:\\+[\\s\\S]*)?$' })
    .transform((user) => user.replace(/\+[\s\S]*$/, ''))
    .pipe(handleSchema),
});
const callbackParams = z.strictObject({ handle: handleSchema, state: z.enum(['claimed', 'unclaimed']) });
/** Wallets add parameters of their own (older ones `nonce`, `fromnodes`): those are ignored. */
const callbackQuery = z.object({
  amount: z.string().regex(/^\d{1,18}$/, 'must be the amount in msat'),
  comment: z.string().optional(),
  payerdata: z.string().max(2_000).optional(),
});

/** A supporter's id in a funding LNURL. */
const fundParams = z.strictObject({ id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be an account id') });
const fundQuery = z.object({ amount: callbackQuery.shape.amount });

/**
 * The amount as the API's description gives it: a whole number of sats in msat within `limits`.
 * Checked by `checkAmount`, so that a wallet is told LNURL's own codes (amount_not_whole_sats,
 * amount_out_of_range); the query's string is read as the number it names.
 */
const amountIn = (limits: { minSendableMsat: bigint; maxSendableMsat: bigint }) =>
  callbackQuery.shape.amount.meta({
    type: 'integer',
    minimum: Number(limits.minSendableMsat),
    maximum: Number(limits.maxSendableMsat),
    multipleOf: 1000,
    pattern: undefined,
  });
/** What one payment may bring into a balance: as a deposit. */
const fundLimits = { minSendableMsat: 1_000n, maxSendableMsat: BigInt(depositSatMax) * 1000n, commentMax: 0 };

/** `limits.ratePerMinute`: callbacks a minute per address, across handles and accounts (each makes an invoice in LND and a record). */
export function lnurlPayRoutes(
  api: Api,
  site: Site | undefined,
  limits: PayLimits & { ratePerMinute: number },
  tips: Tips,
  deposits: Deposits,
  supporters: Supporters,
): void {
  const callbackLimit = rateLimiter(limits.ratePerMinute, async () => false);
  const payQuery = callbackQuery.extend({ amount: amountIn(limits) });
  const fundingQuery = fundQuery.extend({ amount: amountIn(fundLimits) });
  /** Where wallets reach tipd: without TIPD_PUBLIC_URL, there is no LNURL to give. */
  const siteOrRefuse = (): Site => {
    if (!site) throw new Refusal('lnurl_unavailable');
    return site;
  };

  api.route(
    {
      method: 'get',
      path: '/.well-known/lnurlp/:handle',
      summary: "A handle's LNURL-pay request: its Lightning Address (LUD-06, 16)",
      refusedWhileWindingDown: true,
      auth: 'none',
      lnurl: true,
      params: addressParams,
      responses: { 200: '{ tag: "payRequest", callback, minSendable, maxSendable, metadata, commentAllowed, payerData }' },
      returns: payRequestView,
      errors: ['invalid_handle', 'lnurl_unavailable'],
    },
    async (req, res) => {
      const here = siteOrRefuse();
      const { handle } = parse(addressParams, req.params, 'path');
      const view = await tips.handle(handle);
      res.json(payRequest(here, { key: handle.key, display: view.handle }, view.claimed ? 'claimed' : 'unclaimed', limits));
    },
  );

  api.route(
    {
      method: 'get',
      path: '/lnurl/pay/:handle/:state',
      summary: 'The LNURL-pay callback: an invoice of the hub into the handle’s escrow',
      refusedWhileWindingDown: true,
      auth: 'none',
      lnurl: true,
      params: callbackParams,
      query: payQuery,
      responses: { 200: '{ pr, routes: [], verify, successAction }' },
      returns: payInvoiceView,
      errors: [
        'rate_limited',
        'invalid_handle',
        'lnurl_unavailable',
        'amount_not_whole_sats',
        'amount_out_of_range',
        'comment_too_long',
        'invalid_payerdata',
        'overloaded',
        'lnd_unavailable',
        'lnd_error',
      ],
    },
    callbackLimit,
    async (req, res) => {
      const here = siteOrRefuse();
      const { handle, state } = parse(callbackParams, req.params, 'path');
      const query = parse(payQuery, req.query, 'query');
      const amountMsat = BigInt(query.amount);
      checkAmount(amountMsat, limits);
      // Comments off (commentAllowed absent): a wallet that sends one anyway is not refused, the comment is dropped.
      const comment = query.comment === undefined || limits.commentMax === 0 ? '' : cleanComment(query.comment);
      if (limits.commentMax > 0 && [...(query.comment ?? '')].length > limits.commentMax)
        throw new Refusal('comment_too_long', `comment is longer than ${limits.commentMax} characters`);
      const payer = query.payerdata === undefined ? {} : parsePayerData(query.payerdata, limits.allowLocal ?? false);
      const payerName = payer.name === undefined ? '' : cleanComment(payer.name);
      const metadata = metadataOf(here, handle, state);
      const tip = {
        handleKey: handle.key,
        display: handle.display,
        comment: comment || null,
        payerName: payerName || null,
        payerIdentifier: payer.identifier ?? null,
      };
      const invoice = await deposits.createTip(tip, amountMsat, descriptionHashOf(metadata, query.payerdata));
      res.json({
        pr: invoice.paymentRequest,
        routes: [],
        verify: `${here.url}/lnurl/verify/${invoice.id}`,
        successAction: { tag: 'message', message: successMessage(handle, state) },
      });
    },
  );

  /** The supporter a funding LNURL names; an unknown one is refused (nothing to fund). */
  const fundedOf = async (params: unknown): Promise<string> => {
    const { id } = parse(fundParams, params, 'path');
    if (!(await supporters.get(id))) throw new Refusal('not_found', 'no such account');
    return id;
  };

  api.route(
    {
      method: 'get',
      path: '/lnurl/fund/:id',
      summary: "A supporter's own LNURL-pay: fund the balance from any wallet",
      refusedWhileWindingDown: true,
      auth: 'none',
      lnurl: true,
      params: fundParams,
      responses: { 200: '{ tag: "payRequest", callback, minSendable, maxSendable, metadata }' },
      returns: payRequestView,
      errors: ['not_found', 'lnurl_unavailable'],
    },
    async (req, res) => {
      const here = siteOrRefuse();
      res.json(fundingPayRequest(here, await fundedOf(req.params), fundLimits));
    },
  );

  api.route(
    {
      method: 'get',
      path: '/lnurl/fund/:id/callback',
      summary: 'The funding LNURL-pay callback: a deposit invoice for the amount',
      refusedWhileWindingDown: true,
      auth: 'none',
      lnurl: true,
      params: fundParams,
      query: fundingQuery,
      responses: { 200: '{ pr, routes: [], verify, successAction }' },
      returns: payInvoiceView,
      errors: ['not_found', 'lnurl_unavailable', 'amount_not_whole_sats', 'amount_out_of_range', 'overloaded', 'lnd_unavailable', 'lnd_error'],
    },
    callbackLimit,
    async (req, res) => {
      const here = siteOrRefuse();
      const supporterId = await fundedOf(req.params);
      const amountMsat = BigInt(parse(fundingQuery, req.query, 'query').amount);
      checkAmount(amountMsat, fundLimits);
      const deposit = await deposits.create(supporterId, amountMsat, { descriptionHash: descriptionHashOf(fundingMetadata(here), undefined) });
      if (!deposit.paymentRequest) throw new Refusal('lnd_unavailable', 'the Lightning node did not make the invoice in time; try again');
      res.json({
        pr: deposit.paymentRequest,
        routes: [],
        verify: `${here.url}/lnurl/verify/${deposit.id}`,
        successAction: { tag: 'message', message: 'Thank you! Your tipd balance is topped up once the payment settles.' },
      });
    },
  );

  api.route(
    {
      method: 'get',
      path: '/lnurl/verify/:id',
      summary: 'Whether an LNURL invoice is paid, with its preimage once it is (LUD-21)',
      auth: 'none',
      lnurl: true,
      params: idParams,
      responses: { 200: '{ status: "OK", settled, preimage, pr, expiresAt }' },
      returns: verifyView,
      errors: ['not_found'],
    },
    async (req, res) => {
      const { id } = parse(idParams, req.params, 'path');
      const verified = await deposits.verify(id);
      if (!verified) throw new Refusal('not_found', 'Not found');
      res.json({ status: 'OK', ...verified });
    },
  );
}
