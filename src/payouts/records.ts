// What a payout is in the store and in the settle path: its record (`payout:<id>`), its public view,
// how escrow is split into amount and fee cap, and what is a payout's own once LND's outcome is
// booked (its index, its event, the retry backoff after a failure): `payoutKind`, its descriptor
// for payments/outgoing.ts.
import { z } from 'zod';
import { topics, type EventData } from '../events/types.ts';
import { accounts, type Ledger, type Tx } from '../ledger/ledger.ts';
import { keys, prefixes, under } from '../ledger/keys.ts';
import { feeCap } from '../ledger/money.ts';
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

export const payoutView = (record: PayoutRecord): PayoutView => {
  const { handleKey: _h, preimage: _p, ...view } = record;
  return view;
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

/**
 * The largest amount whose fee cap fits beside it in `escrowMsat`: the fee is paid out of the
 * escrow being sent, so amount + cap never exceeds what the escrow holds.
 */
export function payoutSplit(escrowMsat: bigint, feeBaseMsat: bigint, feePpm: bigint): { amountMsat: bigint; feeCapMsat: bigint } | undefined {
  const cap = (amountMsat: bigint) => feeCap(amountMsat, { baseMsat: feeBaseMsat, ppm: feePpm });
  let amountMsat = ((escrowMsat - feeBaseMsat) * 1_000_000n) / (1_000_000n + feePpm);
  // Rounding the cap up costs at most one msat: at most a step or two back.
  while (amountMsat > 0n && amountMsat + cap(amountMsat) > escrowMsat) amountMsat -= 1n;
  return amountMsat > 0n ? { amountMsat, feeCapMsat: cap(amountMsat) } : undefined;
}

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
 * Once a refund's outcome is booked: paid, its payer lot is gone (the unspent part of its fee cap
 * stays in the handle's escrow); failed, the lot is refunded no more, to be tried again later.
 */
async function refundBooked(tx: Tx, handleKey: string, lotId: string, succeeded: boolean): Promise<void> {
  const key = keys.payerLot(handleKey, lotId);
  if (succeeded) return tx.del(key);
  const stored = await tx.get(key);
  if (stored === undefined) return;
  const { refundPayout: _, ...lot } = parseStored(payerLotSchema, key, stored);
  tx.put(key, lot satisfies PayerLot);
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
      if (record.state === 'succeeded') tx.del(keys.payoutRetry(handleKey));
      else await backOff(tx, handleKey, options);
      if (record.refundOf) await refundBooked(tx, handleKey, record.refundOf, record.state === 'succeeded');
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
