// The operator's API, behind TIPD_ADMIN_TOKEN (off when it is not set).
import { hash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { z } from 'zod';
import type { Flattrs } from '../flattrs/flattrs.ts';
import type { Ledger } from '../ledger/ledger.ts';
import type { Lnd } from '../ln/lnd.ts';
import { formatMsat } from '../ledger/money.ts';
import { payerEscrow } from '../escrow/payers.ts';
import type { Api } from './openapi.ts';
import { body, idParams, parse } from './http.ts';
import type { WindDown } from '../winddown/wind-down.ts';
import { Refusal } from '../errors.ts';
import { LndError } from '../ln/lnd.ts';
import { bearerTokenIn } from '../supporters/supporters.ts';
import { auditView, closeView, restoreBooked, restoredView, restoreResumed, statsView, windDownStarted, windDownView } from './views.ts';
import { handleSchema } from '../escrow/handles.ts';
import type { RestoredLedger } from '../backup/restored.ts';

const digest = (s: string) => hash('sha256', s, 'buffer');

export function requireAdmin(adminToken: string | undefined): RequestHandler {
  const expected = adminToken ? digest(adminToken) : undefined;
  return (req, _res, next) => {
    if (!expected) return next(new Refusal('admin_disabled'));
    const token = bearerTokenIn(req.get('authorization'));
    // Compare digests, so the time taken says nothing about the token.
    if (token === undefined || !timingSafeEqual(digest(token), expected))
      return next(new Refusal('unauthorized', 'send Authorization: Bearer <operator token>'));
    next();
  };
}

/** A payment LND made after the restored backup, and what it was: a payout of a handle, or a withdrawal of a supporter. */
const paymentHash = z.string().regex(/^[0-9a-f]{64}$/, 'must be a payment hash: 64 lower-case hex characters');
const bookingBody = z.union([
  z.strictObject({ paymentHash, payout: z.strictObject({ handle: handleSchema }) }),
  z.strictObject({ paymentHash, withdrawal: z.strictObject({ supporterId: idParams.shape.id }) }),
]);

// Bounded as sent (the description's maxLength), then trimmed: a reason is not blank.
const windDownBody = z.strictObject({ reason: z.string().max(500).regex(/\S/, 'must not be blank').trim() });

export function adminRoutes(
  api: Api,
  adminToken: string | undefined,
  flattrs: Flattrs,
  ledger: Ledger,
  lnd: Pick<Lnd, 'getChannelBalanceMsat' | 'paymentsSince' | 'settledInvoicesSince' | 'getPayment'>,
  windDown: WindDown,
  restored: RestoredLedger,
): void {
  const admin = requireAdmin(adminToken);

  api.route(
    {
      method: 'post',
      path: '/v1/admin/wind-down',
      summary: 'Wind tipd down, for good: no new money or claims; unclaimed tips go back; balances stay withdrawable',
      auth: 'admin',
      body: windDownBody,
      responses: { 202: '{ state: { startedAt, reason }, started }: begun now (started), or already' },
      returns: windDownStarted,
      errors: ['overloaded'],
    },
    admin,
    async (req, res) => {
      const { reason } = parse(windDownBody, body(req));
      res.status(202).json(await windDown.start(reason));
    },
  );

  api.route(
    {
      method: 'get',
      path: '/v1/admin/wind-down',
      summary: 'Whether tipd is winding down, and what it still owes, to whom',
      auth: 'admin',
      responses: { 200: '{ state: { startedAt, reason } | null, owed: { supporters, escrow, inFlightMsat, totalMsat } }' },
      returns: windDownView,
    },
    admin,
    async (_req, res) => {
      res.json({ state: windDown.state ?? null, owed: await windDown.owed() });
    },
  );

  api.route(
    {
      method: 'post',
      path: '/v1/admin/periods/close',
      summary: 'Close the current flattr period now',
      refusedWhileWindingDown: true,
      auth: 'admin',
      responses: { 200: '{ periodId, supporters, allocatedMsat, closedAt }' },
      returns: closeView,
      errors: ['payments_held', 'overloaded'],
    },
    admin,
    async (_req, res) => {
      // A close moves supporters' balances: not while a restored ledger holds them.
      if (restored.paymentsHeld) throw new Refusal('payments_held');
      res.json(await flattrs.close());
    },
  );

  api.route(
    {
      method: 'get',
      path: '/v1/admin/stats',
      summary: 'Ledger batch figures, uptime, memory',
      auth: 'admin',
      responses: { 200: '{ ledger, uptimeSeconds, memoryRssBytes }' },
      returns: statsView,
    },
    admin,
    (_req, res) => {
      res.json({ ledger: { ...ledger.stats }, uptimeSeconds: Math.round(process.uptime()), memoryRssBytes: process.memoryUsage().rss });
    },
  );

  // What tipd owes (supporter balances, escrow, money held for payments in flight) next to what
  // the hub holds in its channels, and whether the ledger sums to zero.
  api.route(
    {
      method: 'get',
      path: '/v1/admin/audit',
      summary: "Liabilities next to the hub's channel balance (unknown while LND is down); the ledger sum",
      auth: 'admin',
      responses: {
        200: '{ liabilitiesMsat: { supporters, escrow, escrowFromPayers, inFlight, total }, hub, ledger: { sumMsat, balanced, lastTransferId, lastEventSeq }, windDown }',
      },
      returns: auditView,
    },
    admin,
    async (_req, res) => {
      const [{ totals, lastTransferId, lastEventSeq }, fromPayers] = await Promise.all([ledger.figures(), payerEscrow(ledger)]);
      const liabilities = totals.supporter + totals.escrow + totals.pending;
      // The ledger's own sums matter most when LND is down: they are shown, the hub's side marked unknown.
      const hub = await lnd.getChannelBalanceMsat().then(
        (channelBalanceMsat) => ({ channelBalanceMsat: formatMsat(channelBalanceMsat), coversLiabilities: channelBalanceMsat >= liabilities }),
        (err: unknown) => {
          if (!(err instanceof LndError)) throw err;
          return { channelBalanceMsat: null, coversLiabilities: null, unknownBecause: err.code };
        },
      );
      const sum = liabilities + totals.system;
      res.json({
        liabilitiesMsat: {
          supporters: formatMsat(totals.supporter),
          escrow: formatMsat(totals.escrow),
          // Part of the escrow: tips paid by LNURL with no account behind them (escrow/payers.ts).
          escrowFromPayers: {
            withRefundAddressMsat: formatMsat(fromPayers.withRefundAddressMsat),
            heldForClaimMsat: formatMsat(fromPayers.heldForClaimMsat),
            lots: fromPayers.lots,
          },
          inFlight: formatMsat(totals.pending),
          total: formatMsat(liabilities),
        },
        hub,
        // The last transfer id and event number read with the balances: a backup taken at the same ones holds the same figures.
        ledger: { sumMsat: formatMsat(sum), balanced: sum === 0n, lastTransferId: lastTransferId.toString(), lastEventSeq: lastEventSeq.toString() },
        // Once winding down, what is owed goes to zero as supporters withdraw (GET /v1/admin/wind-down lists them).
        windDown: windDown.state ?? null,
        restored: restored.state ?? null,
      });
    },
  );

  // After a restore from a backup: what LND paid and was paid since the backup that the ledger
  // does not know, for the operator to put right before payments go on (backup/restored.ts).
  api.route(
    {
      method: 'get',
      path: '/v1/admin/restore',
      summary:
        "Whether this ledger was restored from a backup, whether payments wait, and LND's payments and invoices since the backup that the ledger does not know",
      auth: 'admin',
      responses: {
        200: '{ state: { restoredAt, backupTakenAt, resumedAt } | null, paymentsHeld, unknownToLedger: { payments, invoices, listedMax, complete } | null (null once resumed) }',
      },
      returns: restoredView,
      errors: ['lnd_unavailable', 'lnd_error'],
    },
    admin,
    async (_req, res) => {
      const unknownToLedger = await restored.unknownToLedger(lnd, restoreListedMax);
      res
        .set('Cache-Control', 'no-store')
        .json({ state: restored.state ?? null, paymentsHeld: restored.paymentsHeld, unknownToLedger: unknownToLedger ?? null });
    },
  );

  api.route(
    {
      method: 'post',
      path: '/v1/admin/restore/book',
      summary:
        "After a restore, book a payment LND made after the backup as what it was: a payout of a (claimed) handle's escrow, or a withdrawal of a supporter's balance",
      auth: 'admin',
      body: bookingBody,
      responses: { 200: '{ paymentHash, as, account, amountMsat, feeMsat, transferIds, bookedAt, booked }: booked now, or already' },
      returns: restoreBooked,
      errors: [
        'not_restored',
        'payment_known',
        'payment_not_found',
        'payment_not_succeeded',
        'handle_not_claimed',
        'insufficient_balance',
        'not_found',
        'invalid_handle',
        'overloaded',
        'lnd_unavailable',
        'lnd_error',
      ],
    },
    admin,
    async (req, res) => {
      const input = parse(bookingBody, body(req));
      const as = 'payout' in input ? { payout: { handleKey: input.payout.handle.key } } : { withdrawal: { supporterId: input.withdrawal.supporterId } };
      res.json(await restored.book(lnd, input.paymentHash, as));
    },
  );

  api.route(
    {
      method: 'post',
      path: '/v1/admin/restore/resume',
      summary: "After a restore, let payments and supporters' balances move again (once the differences with LND are booked or put right)",
      auth: 'admin',
      responses: { 200: '{ state, resumed }: resumed now, or already (or never held)' },
      returns: restoreResumed,
      errors: ['overloaded'],
    },
    admin,
    async (_req, res) => {
      const { state, resumed } = await restored.resume();
      res.json({ state: state ?? null, resumed });
    },
  );
}

/** LND's payments, and invoices, listed at most by GET /v1/admin/restore. */
const restoreListedMax = 1_000;
