// Tips: a supporter's money moved at once into the escrow of an X handle. Escrow remembers, lot by
// lot, which supporter each sat came from and when, so that unclaimed sats can go back exactly.
// Handles are recorded as first seen, with counts of tips and distinct supporters.
import type { Handle } from './handles.ts';
import { accounts, type Ledger, type Tx } from './ledger/ledger.ts';
import { formatMsat } from './money.ts';

export interface HandleRecord {
  key: string;
  display: string;
  firstSeenAt: string;
  tips: number;
  supporters: number;
  claimed: boolean;
}

/** One supporter's contribution to an escrow, until it is paid out or refunded. */
export interface Lot {
  supporterId: string;
  amountMsat: string;
  at: string;
  transferId: string;
}

export interface TipView {
  id: string;
  handle: string;
  amountMsat: string;
  tweetId: string | null;
  createdAt: string;
}

/** Marks that a supporter has given to a handle (supporter first: a close reads them in order). */
const givenKey = (supporterId: string, handleKey: string) => `given:${supporterId}:${handleKey}`;

/** What `intoEscrow` reads, for the ledger to fetch ahead (the supporter's balance once of many). */
export const escrowReads = (supporterId: string, handleKey: string, withSupporterBalance = true) => {
  const keys = [`bal:${accounts.escrow(handleKey)}`, `handle:${handleKey}`, givenKey(supporterId, handleKey)];
  if (withSupporterBalance) keys.push(`bal:${accounts.supporter(supporterId)}`);
  return keys;
};

/**
 * Puts money of a supporter into a handle's escrow, as one lot (`lot:<handle>:<transfer>`, in the
 * order given, so oldest first); used by tips and by period closes.
 */
export async function intoEscrow(tx: Tx, kind: string, supporterId: string, handle: Handle, amountMsat: bigint, meta: Record<string, string> = {}) {
  const transfer = await tx.transfer(kind, accounts.supporter(supporterId), accounts.escrow(handle.key), amountMsat, { handle: handle.key, ...meta });
  const record = (await tx.get<HandleRecord>(`handle:${handle.key}`)) ?? { key: handle.key, display: handle.display, firstSeenAt: tx.nowIso, tips: 0, supporters: 0, claimed: false };
  const given = givenKey(supporterId, handle.key);
  const firstFromThisSupporter = (await tx.get(given)) === undefined;
  if (firstFromThisSupporter) tx.put(given, 0);
  tx.put(`handle:${handle.key}`, { ...record, tips: record.tips + 1, supporters: record.supporters + (firstFromThisSupporter ? 1 : 0) });
  const lot: Lot = { supporterId, amountMsat: amountMsat.toString(), at: tx.nowIso, transferId: transfer.id };
  tx.put(`lot:${handle.key}:${transfer.id}`, lot);
  const pendingMsat = await tx.balance(accounts.escrow(handle.key));
  tx.emit('handle.tipped', [`handle:${handle.key}`], { handle: record.display, amountMsat: formatMsat(amountMsat), pendingMsat: formatMsat(pendingMsat) });
  return transfer;
}

export class Tips {
  readonly #ledger: Ledger;
  constructor(ledger: Ledger) {
    this.#ledger = ledger;
  }

  tip(args: { supporterId: string; handle: Handle; amountMsat: bigint; tweetId: string | null; idempotency?: { key: string; fingerprint: string } }): Promise<TipView> {
    const { supporterId, handle, amountMsat, tweetId } = args;
    return this.#ledger.run(
      async (tx) => {
        const transfer = await intoEscrow(tx, 'tip', supporterId, handle, amountMsat, tweetId ? { tweetId } : {});
        const view: TipView = { id: transfer.id, handle: handle.display, amountMsat: formatMsat(amountMsat), tweetId, createdAt: transfer.at };
        tx.emit('tip.sent', [`account:${supporterId}`], { ...view });
        return view;
      },
      { sync: true, prefetch: escrowReads(supporterId, handle.key), ...(args.idempotency ? { idempotency: { scope: supporterId, ...args.idempotency } } : {}) },
    );
  }

  async handle(handle: Handle): Promise<{ handle: string; claimed: boolean; pendingMsat: string; supporters: number; tips: number }> {
    const record = await this.#ledger.read<HandleRecord>(`handle:${handle.key}`);
    const pendingMsat = await this.#ledger.balance(accounts.escrow(handle.key));
    return {
      handle: record?.display ?? handle.display,
      claimed: record?.claimed ?? false,
      pendingMsat: formatMsat(pendingMsat),
      supporters: record?.supporters ?? 0,
      tips: record?.tips ?? 0,
    };
  }
}
