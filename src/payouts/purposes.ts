// What a payout pays, and the two things it may be. A creator's payout: a claimed handle's escrow,
// to the destination it is bound to. A refund: a tip paid by LNURL-pay whose handle was never
// claimed, back to the Lightning Address its payer gave (escrow/payers.ts). Both go the one payout
// way (payouts.ts): made ready outside the writer, held with their record, sent, settled by the
// one settle path. Each says here where to and how much at most, what must still stand when the
// hold is written, and what it writes beside it.
import { bindingSchema } from '../claims/records.ts';
import { payerLotSchema, type PayerLot } from '../escrow/payers.ts';
import { accounts, type Ledger, type Tx } from '../ledger/ledger.ts';
import { keys } from '../ledger/keys.ts';
import { parseStored } from '../ledger/records.ts';
import { destinationOf, storedFieldsOf, type Destination } from './destination.ts';
import { payoutSplit } from './records.ts';

export type Purpose = { kind: 'creator' } | { kind: 'refund'; lotId: string };

/** What a payout would pay now: to whom, at most how much, and the comment its invoice carries. */
export interface Target {
  destination: Destination;
  /** The handle as shown, for its event. */
  display: string;
  maxAmountMsat: bigint;
  comment: string;
}

export interface Fees {
  feeBaseMsat: bigint;
  feePpm: bigint;
}

const sameDestination = (a: Destination, b: Destination) => JSON.stringify(storedFieldsOf(a)) === JSON.stringify(storedFieldsOf(b));

/** Outside the writer (cached reads): the payout `purpose` would make of the handle now; undefined: none. */
export async function targetOf(ledger: Ledger, handleKey: string, purpose: Purpose, fees: Fees, now: Date): Promise<Target | undefined> {
  const bindingKey = keys.binding(handleKey);
  const binding = await ledger.read(bindingKey);
  switch (purpose.kind) {
    case 'creator': {
      if (binding === undefined) return undefined;
      const bound = parseStored(bindingSchema, bindingKey, binding);
      const split = payoutSplit(await ledger.balance(accounts.escrow(handleKey)), fees.feeBaseMsat, fees.feePpm);
      return (
        split && { destination: destinationOf(bound), display: bound.handle, maxAmountMsat: split.amountMsat, comment: `tipd payout for @${bound.handle}` }
      );
    }
    case 'refund': {
      // Claimed meanwhile: the lot is the creator's now.
      if (binding !== undefined) return undefined;
      const lot = await payerLotIn(ledger.read.bind(ledger), handleKey, purpose.lotId);
      if (!lot?.refundAddress || lot.refundPayout || (lot.nextAttemptAt !== undefined && new Date(lot.nextAttemptAt) > now)) return undefined;
      const split = payoutSplit(BigInt(lot.amountMsat), fees.feeBaseMsat, fees.feePpm);
      return (
        split && {
          destination: { type: 'lightning_address', address: lot.refundAddress },
          display: handleKey,
          maxAmountMsat: split.amountMsat,
          comment: `tipd: your tip to @${handleKey} was not claimed; here it is back`,
        }
      );
    }
  }
}

/**
 * Inside the writer: whether the payout made ready for `destination` still stands. A creator's:
 * the handle still bound there, no other account waiting out a cooling-off. A refund: the handle
 * still unclaimed, the lot still there and not being refunded already.
 */
export async function stillStands(tx: Tx, handleKey: string, purpose: Purpose, destination: Destination): Promise<boolean> {
  const bindingKey = keys.binding(handleKey);
  const binding = await tx.get(bindingKey);
  switch (purpose.kind) {
    case 'creator':
      return (
        binding !== undefined &&
        (await tx.get(keys.rebinding(handleKey))) === undefined &&
        sameDestination(destinationOf(parseStored(bindingSchema, bindingKey, binding)), destination)
      );
    case 'refund': {
      if (binding !== undefined) return false;
      const lot = await payerLotIn((key) => tx.get(key), handleKey, purpose.lotId);
      return (
        lot !== undefined &&
        !lot.refundPayout &&
        lot.refundAddress !== null &&
        sameDestination({ type: 'lightning_address', address: lot.refundAddress }, destination)
      );
    }
  }
}

/** Inside the writer, with the hold: a refund marks its lot as being refunded by `payoutId`. */
export async function held(tx: Tx, handleKey: string, purpose: Purpose, payoutId: string): Promise<void> {
  if (purpose.kind !== 'refund') return;
  const lot = (await payerLotIn((key) => tx.get(key), handleKey, purpose.lotId))!;
  tx.put(keys.payerLot(handleKey, purpose.lotId), { ...lot, refundPayout: payoutId } satisfies PayerLot);
}

/** A payer lot as an operation or a read sees it; undefined if it is gone. */
export async function payerLotIn(read: (key: string) => Promise<unknown>, handleKey: string, lotId: string): Promise<PayerLot | undefined> {
  const key = keys.payerLot(handleKey, lotId);
  const stored = await read(key);
  return stored === undefined ? undefined : parseStored(payerLotSchema, key, stored);
}
