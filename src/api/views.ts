// What every route answers on success, as zod schemas: the OpenAPI document describes the success
// responses from these (`Operation.returns`), the routes build their answers to them (`satisfies`),
// and the web pages (web/) read their types from the same schemas. Stored records' schemas are
// reused for what is shown of them. Amounts are msat as decimal strings, times ISO 8601.
import { z } from 'zod';
import { bindingSchema, pendingBindingSchema } from '../claims/records.ts';
import { networks } from '../config.ts';
import { periodSchema } from '../flattrs/periods.ts';
import { storedFields } from '../ledger/records.ts';
import { payoutSchema } from '../payouts/records.ts';
import { restoredSchema } from '../backup/restored.ts';
import { windDownSchema } from '../winddown/wind-down.ts';
import { withdrawalSchema } from '../withdrawals/records.ts';

const msat = storedFields.msat;
const time = storedFields.time;
const count = z.number().int().nonnegative();

/** GET /healthz: LND answers, is on the configured network and synced. */
export const healthView = z.object({
  status: z.literal('ok'),
  network: z.enum(networks),
  lnd: z.object({ pubkey: z.string(), alias: z.string(), blockHeight: count, version: z.string() }),
});

// Supporters

/** A new account: its token is shown only here. */
export const accountCreated = z.object({ id: z.string(), token: z.string() });
export const tokenView = z.object({ token: z.string() });

export const accountView = z.object({
  id: z.string(),
  balanceMsat: msat,
  monthlyBudgetSat: z.number().int().nullable(),
  createdAt: time,
  /** The LNURL-pay that funds the balance from any wallet (null without TIPD_PUBLIC_URL). */
  fundingLnurl: z.string().nullable(),
  fundingLightning: z.string().nullable(),
});

/** A movement of the account; the transfer's own details (its tip, deposit, withdrawal…) beside. */
export const historyView = z.object({
  items: z.array(
    z.looseObject({
      id: z.string(),
      kind: z.string(),
      direction: z.enum(['in', 'out']),
      amountMsat: msat,
      counterparty: z.string(),
      at: time,
    }),
  ),
  nextCursor: z.string().nullable(),
});

export const budgetView = z.object({ monthlyBudgetSat: z.number().int().positive() });

// Sign-in with a wallet (LNURL-auth)

export const authChallengeView = z.object({ id: z.string(), lnurl: z.string(), k1: z.string(), expiresAt: time });
export const authPollView = z.discriminatedUnion('state', [
  z.object({ state: z.literal('pending'), expiresAt: time }),
  z.object({ state: z.literal('expired') }),
  z.object({ state: z.literal('signed_in'), supporterId: z.string(), token: z.string().optional() }),
  z.object({ state: z.literal('linked'), supporterId: z.string(), key: z.string().optional() }),
]);
export const linkedKeysView = z.object({ keys: z.array(z.object({ key: z.string(), linkedAt: time })) });

/** LNURL's success answer (LUD-01), to a wallet's callback. */
export const lnurlOk = z.object({ status: z.literal('OK') });

// Money in and out

export const tipView = z.object({ id: z.string(), handle: z.string(), amountMsat: msat, tweetId: z.string().nullable(), createdAt: time });

export const depositView = z.object({
  id: z.string(),
  paymentRequest: z.string().nullable(),
  /** The invoice as a `lightning:` URI, for a QR code any wallet scans. */
  lightning: z.string().nullable(),
  paymentHash: storedFields.hex32,
  amountMsat: msat,
  expiresAt: time,
  state: z.enum(['open', 'settled', 'expired', 'failed', 'cancelled']),
  receivedMsat: msat.nullable(),
  settledAt: time.nullable(),
});

/** What its supporter sees of a withdrawal: its record without the supporter and the invoice. */
export const withdrawalView = withdrawalSchema.omit({ supporterId: true, paymentRequest: true });

/** A new LNURL-withdraw link; the bounds in msat as numbers, as a wallet reads them (LUD-03). */
export const withdrawLinkCreated = z.object({
  id: z.string(),
  k1: z.string(),
  lnurl: z.string(),
  expiresAt: time,
  minWithdrawable: count,
  maxWithdrawable: count,
});
export const withdrawLinkView = z.object({
  id: z.string(),
  state: z.enum(['open', 'used', 'expired']),
  minWithdrawableMsat: msat,
  maxWithdrawableMsat: msat,
  expiresAt: time,
  withdrawal: withdrawalView.nullable(),
});
export const withdrawRequest = z.object({
  tag: z.literal('withdrawRequest'),
  callback: z.string(),
  k1: z.string(),
  defaultDescription: z.string(),
  minWithdrawable: count,
  maxWithdrawable: count,
});

/** LNURL-pay's first answer (LUD-06): a handle's (with LUD-12 comments and LUD-18 payer data) or a supporter's funding one. */
export const payRequestView = z.object({
  tag: z.literal('payRequest'),
  callback: z.string(),
  minSendable: count,
  maxSendable: count,
  metadata: z.string(),
  commentAllowed: count.optional(),
  payerData: z.object({ name: z.object({ mandatory: z.boolean() }), identifier: z.object({ mandatory: z.boolean() }) }).optional(),
});
/** LNURL-pay's callback answer: the invoice, where to verify it (LUD-21) and what to show once paid. */
export const payInvoiceView = z.object({
  pr: z.string(),
  routes: z.array(z.never()),
  verify: z.string(),
  successAction: z.object({ tag: z.literal('message'), message: z.string() }),
});
/** LUD-21's answer, and (tipd's own) when the invoice expires: a page stops asking then. */
export const verifyView = z.object({ status: z.literal('OK'), settled: z.boolean(), preimage: storedFields.hex32.nullable(), pr: z.string(), expiresAt: time });

// Flattrs

export const flattrView = z.object({
  id: z.string(),
  handle: z.string(),
  tweetId: z.string().nullable(),
  periodId: z.number().int().positive(),
  createdAt: time,
});
export const flattrsView = z.object({ period: periodSchema, items: z.array(flattrView) });

// Handles, claims, payouts

/** A handle's public page: what waits in its escrow, where it is paid, and how any wallet pays it. */
export const handleView = z.object({
  handle: z.string(),
  claimed: z.boolean(),
  pendingMsat: msat,
  supporters: count,
  tips: count,
  binding: bindingSchema.nullable(),
  pendingBinding: pendingBindingSchema.nullable(),
  lightningAddress: z.string().nullable(),
  lnurl: z.string().nullable(),
  lightning: z.string().nullable(),
});
export type HandleView = z.infer<typeof handleView>;

/** The handles with the most sats waiting for their creators (unclaimed, public counts only). */
export const waitingHandles = z.object({
  handles: z.array(z.object({ handle: z.string(), pendingMsat: msat, supporters: count })),
});
export type WaitingHandles = z.infer<typeof waitingHandles>;

/** The text a supporter tweets to tell a creator that sats wait, with its link to the claim page. */
export const notifyView = z.object({ handle: z.string(), pendingMsat: msat, text: z.string(), claimUrl: z.string(), intentUrl: z.string() });
export type NotifyView = z.infer<typeof notifyView>;
export type VerifyView = z.infer<typeof verifyView>;
export type AuditView = z.infer<typeof auditView>;
export type WindDownView = z.infer<typeof windDownView>;

export { claimView, proofOutcome } from '../claims/records.ts';
export type { ClaimView, ProofOutcome } from '../claims/records.ts';

/** A payout as anyone may see it (payouts/records.ts `payoutView`): a refund's address and invoice are left out. */
export const payoutView = payoutSchema.omit({ handleKey: true, preimage: true });
export const payoutsView = z.object({ handle: z.string(), payouts: z.array(payoutView), next: z.string().nullable() });

// The operator's

export const windDownStarted = z.object({ state: windDownSchema, started: z.boolean() });
const largest = <T extends z.ZodRawShape>(shape: T) => z.object({ count, totalMsat: msat, largest: z.array(z.object(shape)) });
export const windDownView = z.object({
  state: windDownSchema.nullable(),
  owed: z.object({
    supporters: largest({ supporterId: z.string(), balanceMsat: msat }),
    escrow: largest({ handle: z.string(), claimed: z.boolean(), amountMsat: msat }),
    inFlightMsat: msat,
    totalMsat: msat,
  }),
});
export const closeView = z.object({ periodId: z.number().int().positive(), supporters: count, allocatedMsat: msat, closedAt: time });
export const statsView = z.object({ ledger: z.object({ batches: count, operations: count }), uptimeSeconds: count, memoryRssBytes: count });
export const auditView = z.object({
  liabilitiesMsat: z.object({
    supporters: msat,
    escrow: msat,
    escrowFromPayers: z.object({ withRefundAddressMsat: msat, heldForClaimMsat: msat, lots: count }),
    inFlight: msat,
    total: msat,
  }),
  /** The hub's side: unknown (null, with LND's error code) while LND does not answer. */
  hub: z.object({ channelBalanceMsat: msat.nullable(), coversLiabilities: z.boolean().nullable(), unknownBecause: z.string().optional() }),
  ledger: z.object({
    sumMsat: z.string().regex(/^-?\d+$/),
    balanced: z.boolean(),
    lastTransferId: z.string().regex(/^\d+$/),
    lastEventSeq: z.string().regex(/^\d+$/),
  }),
  windDown: windDownSchema.nullable(),
  /** A ledger restored from a backup: payments wait for the operator until `resumedAt` (GET /v1/admin/restore). */
  restored: restoredSchema.nullable(),
});

/** A restore, and what LND did since the backup that the ledger does not know (null when not restored). */
export const restoredView = z.object({
  state: restoredSchema.nullable(),
  paymentsHeld: z.boolean(),
  unknownToLedger: z
    .object({
      payments: z.array(
        z.object({
          paymentHash: storedFields.hex32,
          destination: z.string().nullable(),
          amountMsat: msat,
          feeMsat: msat,
          createdAt: z.string(),
          state: z.enum(['succeeded', 'pending']),
        }),
      ),
      invoices: z.array(z.object({ paymentHash: storedFields.hex32, receivedMsat: msat, settledAt: z.string().nullable(), keysend: z.boolean() })),
      listedMax: count,
      complete: z.boolean(),
    })
    .nullable(),
});
export const restoreResumed = z.object({ state: restoredSchema.nullable(), resumed: z.boolean() });
export const restoreBooked = z.object({
  paymentHash: storedFields.hex32,
  as: z.union([z.object({ payout: z.object({ handleKey: z.string() }) }), z.object({ withdrawal: z.object({ supporterId: z.string() }) })]),
  account: z.string(),
  amountMsat: msat,
  feeMsat: msat,
  transferIds: z.array(z.string()),
  bookedAt: time,
  booked: z.boolean(),
});

/** This document (OpenAPI 3.1). */
export const openApiView = z.looseObject({ openapi: z.literal('3.1.0'), info: z.looseObject({}), paths: z.record(z.string(), z.unknown()) });
