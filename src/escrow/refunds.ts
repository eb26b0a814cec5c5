// Unclaimed tips go home. Escrow holds each supporter's sats as lots, oldest first; a lot of a
// handle nobody claimed, older than the return time (default 180 days, Flattr's six months), is
// moved back to the supporter it came from, exactly, and each supporter is told a week before.
// The lots a handle got in one ledger batch are stored together and come of age together: they
// are returned in one ledger operation that deletes them, so none is returned twice. While tipd
// winds down, every lot is due at once, whatever its age.
import type { EventData } from '../events/types.ts';
import { topics } from '../events/types.ts';
import { accounts, type Ledger } from '../ledger/ledger.ts';
import { after, keys, prefixEnd, prefixes, under } from '../ledger/keys.ts';
import { notAsStored, parseStored } from '../ledger/records.ts';
import { payerLotSchema } from './payers.ts';
import type { Logger } from '../process/log.ts';
import { formatMsat } from '../ledger/money.ts';
import { repeat } from '../process/repeat.ts';
import { lotsOf, type HandleRecord, type StoredLotEntry } from './escrow.ts';

export interface RefundOptions {
  returnAfterMs: number;
  /**
   * Where unclaimed tips paid by LNURL-pay go, when their payer gave a Lightning Address: a
   * payout back there, one per lot (payouts/purposes.ts). Without it they wait in escrow.
   */
  returnToPayers?: (handleKey: string, lotIds: string[]) => void;
  warnBeforeMs: number;
  /** Every lot is due now, whatever its age: tipd is winding down (winddown/). */
  allDue?: () => boolean;
  /**
   * Whether escrow stays as it is for now: a ledger restored from a backup, until its operator has
   * booked what LND paid since (a payout made after the backup leaves a handle's escrow only once
   * booked: backup/restored.ts).
   */
  held?: () => boolean;
  /** How often the sweeper looks. */
  intervalMs: number;
  now?: () => Date;
}

const dayMs = 24 * 3600 * 1000;
export const defaultRefundOptions: RefundOptions = { returnAfterMs: 180 * dayMs, warnBeforeMs: 7 * dayMs, intervalMs: 3600_000 };

/** Handles read, and lots handled, per pass: bounds memory however large the escrow is. */
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

  /**
   * One sweep: warns about lots due within the warning time, returns lots that are due. A handle's
   * lots are kept in the order they came (by transfer id), so each handle's due lots are the first
   * ones: the sweep reads each unclaimed handle's lots until one is younger than that.
   */
  async sweep(): Promise<{ warned: number; returned: number; returnedMsat: bigint }> {
    if (this.#options.held?.()) return { warned: 0, returned: 0, returnedMsat: 0n };
    const now = this.#now().getTime();
    const dueBefore = this.#options.allDue?.() ? Infinity : now - this.#options.returnAfterMs;
    const warnBefore = dueBefore + this.#options.warnBeforeMs;
    let warned = 0;
    let returned = 0;
    let returnedMsat = 0n;
    let work: Promise<{ kind: 'returned'; lots: number; amountMsat: bigint } | { kind: 'warned'; lots: number } | { kind: 'none' }>[] = [];
    let lotsQueued = 0;
    const settle = async () => {
      for (const o of await Promise.all(work)) {
        if (o.kind === 'returned') {
          returned += o.lots;
          returnedMsat += o.amountMsat;
        } else if (o.kind === 'warned') warned += o.lots;
      }
      work = [];
      lotsQueued = 0;
    };
    let from = prefixes.handles;
    for (;;) {
      const handles = await this.#ledger.db.iterator({ gt: from, lt: prefixEnd(prefixes.handles), limit: passSize }).all();
      if (handles.length === 0) break;
      for (const [recordKey, value] of handles) {
        const handle = handleRecord(recordKey, value);
        const prefix = prefixes.lots(handle.key);
        for await (const [key, stored] of this.#ledger.db.iterator(under(prefix))) {
          const id = after(prefix, key);
          const { at: atIso, lots } = lotsOf(id, stored as StoredLotEntry);
          const at = Date.parse(atIso);
          // A claimed handle's escrow is the creator's, paid out to their node: the lots it had
          // before the claim are dropped (#return does that), whatever their age.
          if (at >= warnBefore && !handle.claimed) break;
          work.push(at < dueBefore || handle.claimed ? this.#return(handle.key, id) : this.#warn(handle.key, id, at));
          lotsQueued += lots.length;
          if (lotsQueued >= passSize) await settle();
        }
        if (handle.claimed) work.push(this.#dropPayerLots(handle.key));
        else await this.#payerLotsDue(handle.key, dueBefore);
      }
      from = handles.at(-1)![0];
    }
    await settle();
    if (warned + returned > 0) this.#log.info({ warned, returned, returnedMsat: formatMsat(returnedMsat) }, 'unclaimed tips swept');
    return { warned, returned, returnedMsat };
  }

  /** Returns the lots stored under `lot:<handle>:<id>` to their supporters, or drops them if the handle is claimed. */
  #return(handleKey: string, id: string): Promise<{ kind: 'returned'; lots: number; amountMsat: bigint } | { kind: 'none' }> {
    return this.#ledger.run(
      async (tx) => {
        const key = keys.lots(handleKey, id);
        const stored = await tx.get<StoredLotEntry>(key);
        if (!stored) return { kind: 'none' as const };
        tx.del(key);
        tx.del(keys.lotsWarned(handleKey, id));
        // A claimed handle's escrow is the creator's, paid out to their node: its lots are void.
        const record = await tx.get<HandleRecord>(keys.handle(handleKey));
        if (record?.claimed) return { kind: 'none' as const };
        // Shown as first seen, as everywhere.
        const handle = record?.display ?? handleKey;
        const { at, lots } = lotsOf(id, stored);
        let amountMsat = 0n;
        for (const lot of lots) {
          const lotMsat = BigInt(lot.amountMsat);
          await tx.transfer('refund', accounts.escrow(handleKey), accounts.supporter(lot.supporterId), lotMsat, { handle: handleKey, lot: lot.transferId });
          // One event: its supporter sees `refund`, followers of the handle `handle.refunded` (events/hub.ts).
          tx.emit('refund', [topics.supporter(lot.supporterId), topics.handle(handleKey)], {
            handle,
            amountMsat: lot.amountMsat,
            tippedAt: at,
            pendingMsat: formatMsat(await tx.balance(accounts.escrow(handleKey))),
          } satisfies EventData['refund']);
          amountMsat += lotMsat;
        }
        return { kind: 'returned' as const, lots: lots.length, amountMsat };
      },
      { sync: true },
    );
  }

  /**
   * Hands the payer lots of an unclaimed handle that are due, and whose payer gave a Lightning
   * Address, to the payouts that return them there (a lot being returned already is left alone;
   * one whose return failed is handed over again at a later sweep). Oldest first, a page at a time.
   */
  async #payerLotsDue(handleKey: string, dueBefore: number): Promise<void> {
    const returnToPayers = this.#options.returnToPayers;
    if (!returnToPayers) return;
    const prefix = prefixes.handlePayerLots(handleKey);
    let due: string[] = [];
    for await (const [key, value] of this.#ledger.db.iterator(under(prefix))) {
      const lot = parseStored(payerLotSchema, key, value);
      if (Date.parse(lot.at) >= dueBefore) break;
      if (lot.refundAddress && !lot.refundPayout) due.push(after(prefix, key));
      if (due.length >= passSize) {
        returnToPayers(handleKey, due);
        due = [];
      }
    }
    if (due.length > 0) returnToPayers(handleKey, due);
  }

  /**
   * Drops the payer lots (tips by LNURL-pay, escrow/payers.ts) of a claimed handle: its escrow is
   * its creator's, so they will never go back. No money moves; a page at a time.
   */
  async #dropPayerLots(handleKey: string): Promise<{ kind: 'none' }> {
    for (;;) {
      const page = await this.#ledger.db.keys({ ...under(prefixes.handlePayerLots(handleKey)), limit: passSize }).all();
      if (page.length === 0) return { kind: 'none' };
      await this.#ledger.run((tx) => {
        for (const key of page) tx.del(key);
      });
    }
  }

  /** Tells the supporters of the lots under `lot:<handle>:<id>` that they come back soon (once). */
  #warn(handleKey: string, id: string, at: number): Promise<{ kind: 'warned'; lots: number } | { kind: 'none' }> {
    return this.#ledger.run(async (tx) => {
      const warnKey = keys.lotsWarned(handleKey, id);
      const stored = await tx.get<StoredLotEntry>(keys.lots(handleKey, id));
      if (!stored || (await tx.get(warnKey)) !== undefined) return { kind: 'none' as const };
      const record = await tx.get<HandleRecord>(keys.handle(handleKey));
      if (record?.claimed) return { kind: 'none' as const };
      tx.put(warnKey, tx.now.toISOString());
      const returnsAt = new Date(at + this.#options.returnAfterMs).toISOString();
      const { at: tippedAt, lots } = lotsOf(id, stored);
      for (const lot of lots) {
        const upcoming = { handle: record?.display ?? handleKey, amountMsat: lot.amountMsat, tippedAt, returnsAt } satisfies EventData['refund.upcoming'];
        tx.emit('refund.upcoming', [topics.supporter(lot.supporterId)], upcoming);
      }
      return { kind: 'warned' as const, lots: lots.length };
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

/** A handle's record as the sweep reads it from a range: what it relies on checked, never misread. */
function handleRecord(key: string, value: unknown): HandleRecord {
  const record = value as Partial<HandleRecord> | null;
  if (typeof record !== 'object' || record === null || typeof record.key !== 'string' || typeof record.claimed !== 'boolean')
    throw notAsStored(key, "a handle's record");
  return record as HandleRecord;
}
