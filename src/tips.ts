// Tips: a supporter's money moved at once into the escrow of an X handle. Escrow remembers, lot by
// lot, which supporter each sat came from and when, so that unclaimed sats can go back exactly.
// Handles are recorded as first seen, with counts of tips and distinct supporters.
import type { Handle } from './handles.ts';
import { accounts, unread, type Ledger, type Transfer, type Tx } from './ledger/ledger.ts';
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

/** Whether everything `intoEscrow` reads is in memory, so that `intoEscrowKnown` books it without waiting. */
export const escrowKnown = (tx: Tx, supporterId: string, handleKey: string): boolean =>
  tx.knownBalance(accounts.supporter(supporterId)) !== undefined &&
  tx.knownBalance(accounts.escrow(handleKey)) !== undefined &&
  tx.known(`handle:${handleKey}`) !== unread &&
  tx.known(givenKey(supporterId, handleKey)) !== unread;

/**
 * Puts money of a supporter into a handle's escrow, as one lot (`lot:<handle>:<transfer>`, in the
 * order given, so oldest first); used by tips and by period closes.
 */
export async function intoEscrow(tx: Tx, kind: string, supporterId: string, handle: Handle, amountMsat: bigint, meta: Record<string, string> = {}): Promise<Transfer> {
  const known = intoEscrowKnown(tx, kind, supporterId, handle, amountMsat, meta);
  if (known !== unread) return known;
  const transfer = await tx.transfer(kind, accounts.supporter(supporterId), accounts.escrow(handle.key), amountMsat, { handle: handle.key, ...meta });
  const record = await tx.get<HandleRecord>(`handle:${handle.key}`);
  const first = (await tx.get(givenKey(supporterId, handle.key))) === undefined;
  book(tx, supporterId, handle, transfer, record, first, await tx.balance(accounts.escrow(handle.key)));
  return transfer;
}

/** `intoEscrow` without waiting, when all it reads is in memory (read ahead); `unread` if not, and nothing done. */
export function intoEscrowKnown(tx: Tx, kind: string, supporterId: string, handle: Handle, amountMsat: bigint, meta: Record<string, string> = {}): Transfer | typeof unread {
  const supporter = accounts.supporter(supporterId);
  const escrow = accounts.escrow(handle.key);
  const from = tx.knownBalance(supporter);
  const to = tx.knownBalance(escrow);
  const record = tx.known<HandleRecord>(`handle:${handle.key}`);
  const given = tx.known(givenKey(supporterId, handle.key));
  if (from === undefined || to === undefined || record === unread || given === unread) return unread;
  const transfer = tx.transferKnown(kind, supporter, escrow, amountMsat, { handle: handle.key, ...meta }, from, to);
  book(tx, supporterId, handle, transfer, record, given === undefined, to + amountMsat);
  return transfer;
}

/** The handle's record and counts, the lot, the handle's event: what a transfer into escrow comes with. */
function book(tx: Tx, supporterId: string, handle: Handle, transfer: Transfer, stored: HandleRecord | undefined, firstFromThisSupporter: boolean, pendingMsat: bigint): void {
  const record = stored ?? { key: handle.key, display: handle.display, firstSeenAt: tx.nowIso, tips: 0, supporters: 0, claimed: false };
  if (firstFromThisSupporter) tx.put(givenKey(supporterId, handle.key), 0);
  tx.put(`handle:${handle.key}`, { ...record, tips: record.tips + 1, supporters: record.supporters + (firstFromThisSupporter ? 1 : 0) });
  // A claimed handle's escrow belongs to its creator (paid out by keysend): no lots to return.
  if (!record.claimed) {
    const lot: Lot = { supporterId, amountMsat: transfer.amountMsat.toString(), at: tx.nowIso, transferId: transfer.id };
    tx.put(`lot:${handle.key}:${transfer.id}`, lot);
  }
  tx.emit('handle.tipped', [`handle:${handle.key}`], { handle: record.display, amountMsat: formatMsat(transfer.amountMsat), pendingMsat: formatMsat(pendingMsat) });
}

export class Tips {
  readonly #ledger: Ledger;
  constructor(ledger: Ledger) {
    this.#ledger = ledger;
  }

  tip(args: { supporterId: string; handle: Handle; amountMsat: bigint; tweetId: string | null; idempotency?: { key: string; fingerprint: string } }): Promise<TipView> {
    const { supporterId, handle, amountMsat, tweetId } = args;
    const sent = (tx: Tx, transfer: Transfer): TipView => {
      const view: TipView = { id: transfer.id, handle: handle.display, amountMsat: formatMsat(amountMsat), tweetId, createdAt: transfer.at };
      tx.emit('tip.sent', [`account:${supporterId}`], { ...view });
      return view;
    };
    return this.#ledger.run(
      (tx) => {
        const meta: Record<string, string> = tweetId ? { tweetId } : {};
        // Read ahead, a tip is booked without waiting.
        const known = intoEscrowKnown(tx, 'tip', supporterId, handle, amountMsat, meta);
        if (known !== unread) return sent(tx, known);
        return intoEscrow(tx, 'tip', supporterId, handle, amountMsat, meta).then((transfer) => sent(tx, transfer));
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
