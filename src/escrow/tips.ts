// Tips: a supporter's money moved at once into the escrow of an X handle (escrow.ts books it), and
// what anyone may see of a handle: its escrow and its counts of tips and supporters.
import { Refusal } from '../errors.ts';
import type { Handle } from './handles.ts';
import { type Escrowed, escrowKeys, type HandleRecord, intoEscrow, tipView } from './escrow.ts';
import { accounts, type Ledger } from '../ledger/ledger.ts';
import { keys } from '../ledger/keys.ts';
import { formatMsat } from '../ledger/money.ts';

export interface TipView {
  id: string;
  handle: string;
  amountMsat: string;
  tweetId: string | null;
  createdAt: string;
}

/** A handle as anyone may see it. */
export interface HandleView {
  handle: string;
  claimed: boolean;
  pendingMsat: string;
  supporters: number;
  tips: number;
}

export class Tips {
  readonly #ledger: Ledger;
  readonly #held: () => boolean;
  /**
   * `held`: whether supporters' balances wait (a ledger restored from a backup, until its operator
   * has booked what LND paid since: a balance may still hold a withdrawal made after the backup).
   */
  constructor(ledger: Ledger, options: { held?: () => boolean } = {}) {
    this.#ledger = ledger;
    this.#held = options.held ?? (() => false);
  }

  tip(args: {
    supporterId: string;
    handle: Handle;
    amountMsat: bigint;
    tweetId: string | null;
    idempotency?: { key: string; fingerprint: string };
  }): Promise<TipView> {
    const { supporterId, handle, amountMsat, tweetId } = args;
    if (this.#held()) return Promise.reject(new Refusal('payments_held'));
    const sent = ({ transfer, display }: Escrowed): TipView => tipView(transfer, display);
    const tipKeys = escrowKeys(supporterId, handle.key);
    return this.#ledger.run(
      (tx) => {
        const escrowed = intoEscrow(tx, { kind: 'tip', supporterId, handle, amountMsat, keys: tipKeys, ...(tweetId ? { meta: { tweetId } } : {}) });
        return escrowed instanceof Promise ? escrowed.then(sent) : sent(escrowed);
      },
      {
        sync: true,
        prefetch: [tipKeys.handle, tipKeys.given],
        balances: [tipKeys.supporter, tipKeys.escrow],
        ...(args.idempotency ? { idempotency: { scope: supporterId, ...args.idempotency } } : {}),
      },
    );
  }

  /**
   * The unclaimed handles with the most sats waiting, at most `limit`, largest first. Reads every
   * escrow's balance (callers cache it: api/handles.ts), keeping the largest four times `limit`:
   * claimed handles' escrow is paid out as it comes, so few of those are among them.
   */
  async mostWaiting(limit: number): Promise<HandleView[]> {
    const found: HandleView[] = [];
    for (const { id: handleKey, balanceMsat } of (await this.#ledger.holding('escrow', limit * 4)).largest) {
      const record = await this.#ledger.read<HandleRecord>(keys.handle(handleKey));
      if (!record || record.claimed) continue;
      found.push({ handle: record.display, claimed: false, pendingMsat: formatMsat(balanceMsat), supporters: record.supporters, tips: record.tips });
      if (found.length >= limit) break;
    }
    return found;
  }

  async handle(handle: Handle): Promise<HandleView> {
    const record = await this.#ledger.read<HandleRecord>(keys.handle(handle.key));
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
