// Tips: a supporter's money moved at once into the escrow of an X handle. Escrow remembers, lot by
// lot, which supporter each sat came from and when, so that unclaimed sats can go back exactly.
// Handles are recorded as first seen, with counts of tips and distinct supporters.
import type { Handle } from './handles.ts';
import { accounts, type Ledger, type Tx } from './ledger/ledger.ts';
import { pad } from './ledger/store.ts';
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

/** What `intoEscrow` reads, for the ledger to fetch ahead. */
export const escrowReads = (supporterId: string, handleKey: string) => [`bal:${accounts.supporter(supporterId)}`, `bal:${accounts.escrow(handleKey)}`, `handle:${handleKey}`, `hsup:${handleKey}:${supporterId}`];

/** Puts money of a supporter into a handle's escrow, as one lot; used by tips and by period closes. */
export async function intoEscrow(tx: Tx, kind: string, supporterId: string, handle: Handle, amountMsat: bigint, meta: Record<string, string> = {}) {
  const transfer = await tx.transfer(kind, accounts.supporter(supporterId), accounts.escrow(handle.key), amountMsat, { handle: handle.key, ...meta });
  const record = (await tx.get<HandleRecord>(`handle:${handle.key}`)) ?? { key: handle.key, display: handle.display, firstSeenAt: tx.now.toISOString(), tips: 0, supporters: 0, claimed: false };
  const firstFromThisSupporter = (await tx.get(`hsup:${handle.key}:${supporterId}`)) === undefined;
  if (firstFromThisSupporter) tx.put(`hsup:${handle.key}:${supporterId}`, tx.now.toISOString());
  tx.put(`handle:${handle.key}`, { ...record, tips: record.tips + 1, supporters: record.supporters + (firstFromThisSupporter ? 1 : 0) });
  // A claimed handle's escrow belongs to its creator (paid out by keysend): no lots to return.
  if (!record.claimed) {
    const lot: Lot = { supporterId, amountMsat: amountMsat.toString(), at: tx.now.toISOString(), transferId: transfer.id };
    tx.put(`lot:${handle.key}:${transfer.id}`, lot);
    tx.put(`lotage:${pad(tx.now.getTime())}:${handle.key}:${transfer.id}`, 0);
  }
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
