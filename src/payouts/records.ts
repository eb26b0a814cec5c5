// What a payout is in the store and in the settle path: its record (`payout:<id>`), its public view,
// how escrow is split into amount and fee cap, and what is a payout's own once LND's outcome is
// booked (its index, its event, the retry backoff after a failure): `payoutKind`, its descriptor
// for payments/outgoing.ts.
import { z } from 'zod';
import { topics, type EventData } from '../events/types.ts';
import { accounts, type Ledger, type Tx } from '../ledger/ledger.ts';
import { keys, prefixes, under } from '../ledger/keys.ts';
import { largestUnderFeeCap } from '../ledger/money.ts';
import type { Held, PendingKind } from '../ledger/pending.ts';
import { parseStored, storedFields } from '../ledger/records.ts';
import { outgoingFields, type OutgoingKind } from '../payments/outgoing.ts';
import { destinationFields } from '../claims/records.ts';
import { payerLotSchema, type PayerLot } from '../escrow/payers.ts';

/** A payout as stored (`payout:<id>`): an outgoing payment's fields, and its own. */
export const payoutSchema = z.object({
  ...outgoingFields,
  handleKey: z.string().min(1),
  ...destinationFields,
  feeCapMsat: storedFields.msat,
  /** A keysend's, picked by tipd; null for an invoice (its payee has it). */
  preimage: storedFields.hex32.nullable(),
  /** A payout to a Lightning Address: the invoice its callback gave, whether it committed to the metadata, and its success message. */
  paymentRequest: z.string().optional(),
  descriptionHash: z.enum(['matched', 'absent']).optional(),
  successMessage: z.string().nullable().optional(),
  /** A refund (purposes.ts): the payer lot it returns to its payer's address. */
  refundOf: z.string().min(1).optional(),
});
export type PayoutRecord = z.infer<typeof payoutSchema>;
export type PayoutState = PayoutRecord['state'];

export type PayoutView = Omit<PayoutRecord, 'handleKey' | 'preimage'>;

/** A payout as anyone may see it; a refund without its payer's address or invoice (theirs alone). */
export const payoutView = (record: PayoutRecord): PayoutView => {
  const { handleKey: _h, preimage: _p, ...view } = record;
  if (!record.refundOf) return view;
  const { lightningAddress: _a, paymentRequest: _r, successMessage: _m, ...refund } = view;
  return refund;
};

/** Failed payouts of a handle in a row, and when the next may be tried (`paytry:<handle>`). */
export const retrySchema = z.object({ failures: z.number().int().positive(), nextAt: storedFields.time });
export type RetryState = z.infer<typeof retrySchema>;

/** A payout's money: held from the handle's escrow, posted to the outside world; a void has a kind of its own. */
export const payoutTransfers: PendingKind = { name: 'payout', outside: accounts.payouts, voidKind: 'payout.void' };

/** What a payout holds: its amount and fee cap, from its handle's escrow. */
export const heldBy = (record: PayoutRecord): Held => ({
  id: record.id,
  from: accounts.escrow(record.handleKey),
  amountMsat: BigInt(record.amountMsat),
  feeReserveMsat: BigInt(record.feeCapMsat),
  meta: { handle: record.handleKey, payout: record.id },
});

/** A payout of `escrowMsat`: the fee is paid out of the escrow being sent, so amount + cap never exceeds it. */
export const payoutSplit = (escrowMsat: bigint, feeBaseMsat: bigint, feePpm: bigint): { amountMsat: bigint; feeCapMsat: bigint } | undefined =>
  largestUnderFeeCap(escrowMsat, { baseMsat: feeBaseMsat, ppm: feePpm });

/**
 * A failed payout of the handle, or a failed attempt to make one ready: the next waits, doubling
 * per failure in a row up to `retryMaxMs`. Answers when the next may be tried.
 */
export async function backOff(tx: Tx, handleKey: string, options: { retryMs: number; retryMaxMs: number }): Promise<Date> {
  const retryKey = keys.payoutRetry(handleKey);
  const earlier = await tx.get(retryKey);
  const failures = (earlier === undefined ? 0 : parseStored(retrySchema, retryKey, earlier).failures) + 1;
  const waitMs = Math.min(options.retryMaxMs, options.retryMs * 2 ** Math.min(failures - 1, 30));
  const nextAt = new Date(tx.now.getTime() + waitMs);
  tx.put(retryKey, { failures, nextAt: nextAt.toISOString() } satisfies RetryState);
  return nextAt;
}

/**
 * A refund that failed, or could not be made ready: its payer lot waits, doubling per failure in
 * a row up to `retryMaxMs` (its own backoff: one payer's bad address holds up no other refund, nor
 * the creator). Answers when the next may be tried.
 */
export async function lotBackOff(tx: Tx, handleKey: string, lotId: string, options: { retryMs: number; retryMaxMs: number }): Promise<Date> {
  const key = keys.payerLot(handleKey, lotId);
  const stored = await tx.get(key);
  const nextAt = new Date(tx.now.getTime() + options.retryMs);
  if (stored === undefined) return nextAt;
  const { refundPayout: _, ...lot } = parseStored(payerLotSchema, key, stored);
  const failures = (lot.failures ?? 0) + 1;
  const at = new Date(tx.now.getTime() + Math.min(options.retryMaxMs, options.retryMs * 2 ** Math.min(failures - 1, 30)));
  tx.put(key, { ...lot, failures, nextAttemptAt: at.toISOString() } satisfies PayerLot);
  return at;
}

/**
 * Once a refund's outcome is booked. Paid in full: the lot is gone (what its fee cap did not use
 * stays in the handle's escrow). Cut short by the address's `maxSendable`: the lot is what is
 * left of it, returned by a later one. Failed: the lot is refunded no more, and backs off.
 */
async function refundBooked(tx: Tx, record: PayoutRecord, lotId: string, options: { retryMs: number; retryMaxMs: number }): Promise<void> {
  const key = keys.payerLot(record.handleKey, lotId);
  if (record.state !== 'succeeded') {
    await lotBackOff(tx, record.handleKey, lotId, options);
    return;
  }
  const stored = await tx.get(key);
  if (stored === undefined) return;
  const { refundPayout: _p, failures: _f, nextAttemptAt: _n, ...lot } = parseStored(payerLotSchema, key, stored);
  // All of it went (but for its fee cap and less than two sats of rounding): the lot is gone.
  const lotMsat = BigInt(lot.amountMsat);
  if (lotMsat - BigInt(record.amountMsat) - BigInt(record.feeCapMsat) < 2_000n) return tx.del(key);
  tx.put(key, { ...lot, amountMsat: (lotMsat - BigInt(record.amountMsat) - BigInt(record.feeMsat ?? '0')).toString() } satisfies PayerLot);
}

/**
 * What is a payout's own in the settle path. Success clears the handle's retry state; a failure
 * makes the next payout of the handle wait, doubling per failure in a row up to `retryMaxMs`.
 * Either way the handle is free for its next payout, and is looked at again (`kick`).
 */
export function payoutKind(ledger: Ledger, options: { retryMs: number; retryMaxMs: number }, kick: (handleKey: string) => void): OutgoingKind<PayoutRecord> {
  return {
    pending: payoutTransfers,
    schema: payoutSchema,
    key: keys.payout,
    // One pending payout per handle, indexed by handle (`payoutopen:`): the values are the ids.
    pendingIds: async () => parseStored(z.array(z.string().min(1)), prefixes.openPayouts, await ledger.db.values(under(prefixes.openPayouts)).all()),
    held: heldBy,
    booked: async (tx: Tx, record) => {
      const handleKey = record.handleKey;
      // A creator's payout backs off by handle, a refund by its lot.
      if (record.refundOf) await refundBooked(tx, record, record.refundOf, options);
      else if (record.state === 'succeeded') tx.del(keys.payoutRetry(handleKey));
      else await backOff(tx, handleKey, options);
      tx.del(keys.openPayout(handleKey));
      const data = { handle: handleKey, ...payoutView(record) };
      if (record.state === 'succeeded') tx.emit('payout.succeeded', [topics.handle(handleKey)], data satisfies EventData['payout.succeeded']);
      else tx.emit('payout.failed', [topics.handle(handleKey)], data satisfies EventData['payout.failed']);
    },
    settledLog: (record) => ({
      handle: record.handleKey,
      state: record.state,
      amountMsat: record.amountMsat,
      feeMsat: record.feeMsat,
      reason: record.failureReason,
    }),
    owner: (record) => ({ what: 'handle', fields: { handle: record.handleKey, amountMsat: record.amountMsat } }),
    // More may have come in meanwhile; after a failure, the retry state says when to try again.
    afterBooked: (record) => kick(record.handleKey),
  };
}
