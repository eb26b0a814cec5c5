// Unclaimed tips go home. Escrow holds each supporter's sats as lots, indexed by age; a lot of a
// handle nobody claimed, older than the return time (default 180 days, Flattr's six months), is
// moved back to the supporter it came from, exactly, and each supporter is told a week before.
// Each lot is returned in one ledger operation that deletes it, so none is returned twice.
import { accounts, type Ledger } from './ledger/ledger.ts';
import { pad } from './ledger/store.ts';
import type { Logger } from './log.ts';
import { formatMsat } from './money.ts';
import { repeat } from './repeat.ts';
import type { HandleRecord, Lot } from './tips.ts';

export interface RefundOptions {
  returnAfterMs: number;
  warnBeforeMs: number;
  /** How often the sweeper looks. */
  intervalMs: number;
  now?: () => Date;
}

const dayMs = 24 * 3600 * 1000;
export const defaultRefundOptions: RefundOptions = { returnAfterMs: 180 * dayMs, warnBeforeMs: 7 * dayMs, intervalMs: 3600_000 };

/** Lots looked at per pass: bounds memory however large the escrow is. */
const passSize = 1_000;

export class Refunds {
  readonly #ledger: Ledger;
  readonly #log: Logger;
  readonly #options: RefundOptions;
  readonly #now: () => Date;
  #loop: { stop(): void } | undefined;

  constructor(ledger: Ledger, log: Logger, options: RefundOptions = defaultRefundOptions) {
    this.#ledger = ledger;
    this.#log = log;
    this.#options = options;
    this.#now = options.now ?? (() => new Date());
  }

  /** One sweep: warns about lots due within the warning time, returns lots that are due. */
  async sweep(): Promise<{ warned: number; returned: number; returnedMsat: bigint }> {
    const now = this.#now().getTime();
    const dueBefore = now - this.#options.returnAfterMs;
    const warnBefore = dueBefore + this.#options.warnBeforeMs;
    let warned = 0;
    let returned = 0;
    let returnedMsat = 0n;
    let from = 'lotage:';
    for (;;) {
      const page = await this.#ledger.db.keys({ gt: from, lt: `lotage:${pad(warnBefore)}`, limit: passSize }).all();
      if (page.length === 0) break;
      const outcomes = await Promise.all(
        page.map((key) => {
          const [, at, handleKey, transferId] = key.split(':') as [string, string, string, string];
          return Number(at) < dueBefore ? this.#return(key, handleKey, transferId) : this.#warn(handleKey, transferId, Number(at));
        }),
      );
      for (const o of outcomes) {
        if (o.kind === 'returned') {
          returned += 1;
          returnedMsat += o.amountMsat;
        } else if (o.kind === 'warned') warned += 1;
      }
      from = page.at(-1)!;
    }
    if (warned + returned > 0) this.#log.info({ warned, returned, returnedMsat: formatMsat(returnedMsat) }, 'unclaimed tips swept');
    return { warned, returned, returnedMsat };
  }

  #return(ageKey: string, handleKey: string, transferId: string): Promise<{ kind: 'returned'; amountMsat: bigint } | { kind: 'none' }> {
    return this.#ledger.run(
      async (tx) => {
        const lotKey = `lot:${handleKey}:${transferId}`;
        const lot = await tx.get<Lot>(lotKey);
        if (!lot) {
          tx.del(ageKey);
          return { kind: 'none' as const };
        }
        // A claimed handle's escrow is the creator's, paid out to their node: its lots are void.
        if ((await tx.get<HandleRecord>(`handle:${handleKey}`))?.claimed) {
          tx.del(lotKey);
          tx.del(ageKey);
          tx.del(`lotwarn:${handleKey}:${transferId}`);
          return { kind: 'none' as const };
        }
        const amountMsat = BigInt(lot.amountMsat);
        await tx.transfer('refund', accounts.escrow(handleKey), accounts.supporter(lot.supporterId), amountMsat, { handle: handleKey, lot: transferId });
        tx.del(lotKey);
        tx.del(ageKey);
        tx.del(`lotwarn:${handleKey}:${transferId}`);
        tx.emit('refund', [`account:${lot.supporterId}`], { handle: handleKey, amountMsat: lot.amountMsat, tippedAt: lot.at });
        tx.emit('handle.refunded', [`handle:${handleKey}`], { handle: handleKey, amountMsat: lot.amountMsat, pendingMsat: formatMsat(await tx.balance(accounts.escrow(handleKey))) });
        return { kind: 'returned' as const, amountMsat };
      },
      { sync: true },
    );
  }

  #warn(handleKey: string, transferId: string, at: number): Promise<{ kind: 'warned' } | { kind: 'none' }> {
    return this.#ledger.run(async (tx) => {
      const warnKey = `lotwarn:${handleKey}:${transferId}`;
      const lot = await tx.get<Lot>(`lot:${handleKey}:${transferId}`);
      if (!lot || (await tx.get(warnKey)) !== undefined) return { kind: 'none' as const };
      if ((await tx.get<HandleRecord>(`handle:${handleKey}`))?.claimed) return { kind: 'none' as const };
      tx.put(warnKey, tx.now.toISOString());
      const returnsAt = new Date(at + this.#options.returnAfterMs).toISOString();
      tx.emit('refund.upcoming', [`account:${lot.supporterId}`], { handle: handleKey, amountMsat: lot.amountMsat, tippedAt: lot.at, returnsAt });
      return { kind: 'warned' as const };
    });
  }

  start(): void {
    this.stop();
    this.#loop = repeat('sweeping unclaimed tips', this.#options.intervalMs, () => this.sweep(), this.#log);
  }

  stop(): void {
    this.#loop?.stop();
  }
}
