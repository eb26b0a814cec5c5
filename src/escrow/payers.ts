// Tips with no account behind them: paid from any wallet through a handle's LNURL-pay or Lightning
// Address (deposits/ follows the invoice; lnurl/ speaks the protocol). The sats go into the handle's
// escrow like any tip, but their lot remembers a payment, not a supporter: the payer's Lightning
// Address if they gave one (LUD-18 `identifier`), where unclaimed sats can go back; without one,
// the sats stay in escrow until the handle is claimed (tipd never keeps them). Such lots are
// stored apart from supporters' (`paylot:`), so the refund sweep never mistakes them for a
// supporter's, and the audit can show them apart.
import { z } from 'zod';
import type { Handle } from './handles.ts';
import type { HandleRecord } from './escrow.ts';
import type { EventData } from '../events/types.ts';
import { topics } from '../events/types.ts';
import { accounts, type Ledger, type Transfer, type Tx } from '../ledger/ledger.ts';
import { after, keys, prefixes, under } from '../ledger/keys.ts';
import { parseStored } from '../ledger/records.ts';
import { formatMsat } from '../ledger/money.ts';

/** A tip paid by invoice, as its lot keeps it (`paylot:<handle>:<transfer id>`). */
export interface PayerLot {
  at: string;
  /** The incoming invoice's record (`dep:<id>`). */
  paymentId: string;
  amountMsat: string;
  /** The payer's Lightning Address (LUD-18 `identifier`): where unclaimed sats go back. */
  refundAddress: string | null;
  /** The payout returning it there, while it is under way (payouts/purposes.ts). */
  refundPayout?: string;
  /** Returns that failed in a row, and when the next may be tried (the lot's own backoff). */
  failures?: number;
  nextAttemptAt?: string;
}

export const payerLotSchema = z.object({
  at: z.string(),
  paymentId: z.string(),
  amountMsat: z.string().regex(/^\d+$/),
  refundAddress: z.string().nullable(),
  refundPayout: z.string().optional(),
  failures: z.number().int().positive().optional(),
  nextAttemptAt: z.string().optional(),
});

export interface PayerTip {
  handle: Handle;
  amountMsat: bigint;
  paymentId: string;
  paymentHash: string;
  comment: string | null;
  /** The name the payer gave to be shown with the tip (LUD-18 `name`). */
  payerName: string | null;
  refundAddress: string | null;
}

/**
 * Books a paid LNURL tip: from the Lightning inflow into the handle's escrow, with the handle's
 * record and counts, a payer lot (an unclaimed handle only: a claimed one's escrow is its
 * creator's), and the public `handle.tipped` event with the comment.
 */
export async function payerIntoEscrow(tx: Tx, tip: PayerTip): Promise<Transfer> {
  const { handle, amountMsat } = tip;
  const escrow = accounts.escrow(handle.key);
  const transfer = await tx.transfer('tip.lnurl', accounts.deposits, escrow, amountMsat, {
    handle: handle.key,
    deposit: tip.paymentId,
    paymentHash: tip.paymentHash,
  });
  const stored = await tx.get<HandleRecord>(keys.handle(handle.key));
  const record: HandleRecord = { ...(stored ?? { key: handle.key, display: handle.display, firstSeenAt: tx.nowIso, tips: 0, supporters: 0, claimed: false }) };
  record.tips += 1;
  // A payer is one more supporter, unless the same Lightning Address tipped this handle before.
  const given = tip.refundAddress ? keys.payerGiven(tip.refundAddress, handle.key) : undefined;
  if (!given || (await tx.get(given)) === undefined) {
    record.supporters += 1;
    if (given) tx.put(given, 0);
  }
  tx.put(keys.handle(handle.key), record);
  if (!record.claimed) {
    tx.put(keys.payerLot(handle.key, transfer.id), {
      at: tx.nowIso,
      paymentId: tip.paymentId,
      amountMsat: amountMsat.toString(),
      refundAddress: tip.refundAddress,
    } satisfies PayerLot);
  }
  tx.emit('handle.tipped', [topics.handle(handle.key)], {
    handle: record.display,
    amountMsat: formatMsat(amountMsat),
    pendingMsat: formatMsat(await tx.balance(escrow)),
    ...(tip.comment ? { comment: tip.comment } : {}),
    ...(tip.payerName ? { from: tip.payerName } : {}),
  } satisfies EventData['handle.tipped']);
  return transfer;
}

/** What payers without accounts have in the escrow of unclaimed handles: for the audit. */
export interface PayerEscrow {
  /** Lots whose payer gave a Lightning Address: they go back there if the handle is not claimed in time. */
  withRefundAddressMsat: bigint;
  /** Lots without one: they wait for the handle's claim. */
  heldForClaimMsat: bigint;
  lots: number;
}

/** Sums the payer lots of handles still unclaimed (a claimed handle's are dropped by the refund sweep). Reads every payer lot. */
export async function payerEscrow(ledger: Ledger): Promise<PayerEscrow> {
  const sums: PayerEscrow = { withRefundAddressMsat: 0n, heldForClaimMsat: 0n, lots: 0 };
  const claimed = new Map<string, boolean>();
  for await (const [key, value] of ledger.db.iterator(under(prefixes.payerLots))) {
    const handleKey = after(prefixes.payerLots, key).split(':')[0]!;
    let isClaimed = claimed.get(handleKey);
    if (isClaimed === undefined) {
      isClaimed = (await ledger.read<HandleRecord>(keys.handle(handleKey)))?.claimed ?? false;
      claimed.set(handleKey, isClaimed);
    }
    if (isClaimed) continue;
    const lot = parseStored(payerLotSchema, key, value);
    // Being returned: held for its payout (in flight), no longer in the escrow.
    if (lot.refundPayout) continue;
    sums.lots += 1;
    if (lot.refundAddress) sums.withRefundAddressMsat += BigInt(lot.amountMsat);
    else sums.heldForClaimMsat += BigInt(lot.amountMsat);
  }
  return sums;
}
