// A ledger restored from a backup knows nothing of what LND did after the backup's instant: a
// payout made since is owed again by the restored ledger, a withdrawal's balance is back, so
// paying on as usual would pay them twice. A restore therefore marks the ledger
// (`meta:restored`, restore.ts), and a tipd started on it sends no payment, payouts nor
// withdrawals, until the operator has compared LND's payments and invoices since the backup with
// the ledger (`unknownToLedger`, GET /v1/admin/restore), booked each payment as what it was (`book`:
// a payout of a handle's escrow, a withdrawal of a supporter's balance), and says so (POST
// /v1/admin/restore/resume). Deposits, tips and everything else go on meanwhile.
import { z } from 'zod';
import { Refusal } from '../errors.ts';
import { keys } from '../ledger/keys.ts';
import { accounts, type Account, type Ledger } from '../ledger/ledger.ts';
import { formatMsat } from '../ledger/money.ts';
import { parseStoredIfAny, storedFields } from '../ledger/records.ts';
import type { Store } from '../ledger/store.ts';
import type { Lnd } from '../ln/lnd.ts';
import { hashTaken } from '../payments/outgoing.ts';
import type { Logger } from '../process/log.ts';

export const restoredSchema = z.object({
  restoredAt: storedFields.time,
  /** The backup's instant: LND's payments and invoices from then on may be unknown to the ledger. */
  backupTakenAt: storedFields.time,
  /** When the operator let payments go on; null: held. */
  resumedAt: storedFields.time.nullable(),
});
export type RestoredState = z.infer<typeof restoredSchema>;

/**
 * Marks a store restored from a backup taken at `backupTakenAt` (restore.ts, before it is put in
 * place). A backup of a restored ledger still held keeps the earlier backup's time: what LND did
 * since then is still to be compared.
 */
export async function markRestored(store: Store, backupTakenAt: string, now = new Date()): Promise<void> {
  const earlier = parseStoredIfAny(restoredSchema, keys.restored, await store.get(keys.restored));
  const since = earlier && earlier.resumedAt === null && earlier.backupTakenAt < backupTakenAt ? earlier.backupTakenAt : backupTakenAt;
  await store.put(keys.restored, { restoredAt: now.toISOString(), backupTakenAt: since, resumedAt: null } satisfies RestoredState, { sync: true });
}

/** What a payment LND made after the backup was, as the operator books it. */
export type Booking = { payout: { handleKey: string } } | { withdrawal: { supporterId: string } };

const bookingSchema = z.object({
  as: z.union([z.object({ payout: z.object({ handleKey: z.string() }) }), z.object({ withdrawal: z.object({ supporterId: z.string() }) })]),
  account: z.string(),
  amountMsat: storedFields.msat,
  feeMsat: storedFields.msat,
  transferIds: z.array(z.string()),
  bookedAt: storedFields.time,
});
export type Booked = z.infer<typeof bookingSchema> & { paymentHash: string };

/** LND's clock and the backup's may differ a little: what began this long before the backup is listed too. */
const clockSlackMs = 60_000;

/** What LND did since the backup that the ledger has no record of, for the operator to put right. */
export interface UnknownToLedger {
  /** Payments sent (succeeded, or still in flight): a payout or withdrawal the ledger will owe again. */
  payments: { paymentHash: string; destination: string | null; amountMsat: string; feeMsat: string; createdAt: string; state: 'succeeded' | 'pending' }[];
  /** Invoices paid (and keysends received) that credit nobody in the ledger. */
  invoices: { paymentHash: string; receivedMsat: string; settledAt: string | null; keysend: boolean }[];
  /** Each list stops at this many. */
  listedMax: number;
  /** False when a list stopped there: book those listed, then ask again for the rest. */
  complete: boolean;
}

export class RestoredLedger {
  readonly #ledger: Ledger;
  readonly #log: Logger;
  #state: RestoredState | undefined;
  readonly #resumed = new Set<() => void>();

  private constructor(ledger: Ledger, log: Logger, state: RestoredState | undefined) {
    this.#ledger = ledger;
    this.#log = log;
    this.#state = state;
  }

  static async open(ledger: Ledger, log: Logger): Promise<RestoredLedger> {
    const state = parseStoredIfAny(restoredSchema, keys.restored, await ledger.read(keys.restored));
    if (state && state.resumedAt === null)
      log.warn(
        { backupTakenAt: state.backupTakenAt, restoredAt: state.restoredAt },
        'restored from a backup: no payment is sent until the operator compares LND with the ledger and resumes (GET /v1/admin/restore)',
      );
    return new RestoredLedger(ledger, log, state);
  }

  /** The restore, if this ledger was restored from a backup. */
  get state(): RestoredState | undefined {
    return this.#state;
  }

  /** Whether payments wait for the operator. */
  get paymentsHeld(): boolean {
    return this.#state !== undefined && this.#state.resumedAt === null;
  }

  /** `listener` runs when the operator resumes payments. */
  onResume(listener: () => void): void {
    this.#resumed.add(listener);
  }

  /** Lets payments go on, once: the state, and whether this call resumed them. */
  async resume(): Promise<{ state: RestoredState | undefined; resumed: boolean }> {
    const outcome = await this.#ledger.run(
      async (tx) => {
        const before = parseStoredIfAny(restoredSchema, keys.restored, await tx.get(keys.restored));
        if (!before || before.resumedAt !== null) return { state: before, resumed: false };
        const state: RestoredState = { ...before, resumedAt: tx.nowIso };
        tx.put(keys.restored, state);
        return { state, resumed: true };
      },
      { sync: true },
    );
    this.#state = outcome.state;
    if (outcome.resumed) {
      this.#log.warn({ backupTakenAt: outcome.state!.backupTakenAt }, 'payments resumed by the operator after the restore');
      for (const listener of this.#resumed) listener();
    }
    return outcome;
  }

  /**
   * Books a payment LND made after the backup, which the ledger does not know, as what the operator
   * says it was: its amount leaves the handle's escrow (a payout) or the supporter's balance (a
   * withdrawal) for the outside world, its fee for the fees, as the payment itself would have. LND
   * must say it succeeded; the account must hold it. Once per payment hash: the same booking again
   * answers the first (`booked: false`), another is refused.
   */
  async book(lnd: Pick<Lnd, 'getPayment'>, paymentHash: string, as: Booking): Promise<Booked & { booked: boolean }> {
    if (!this.#state) throw new Refusal('not_restored');
    const bookingKey = keys.restoreBooking(paymentHash);
    const sameBooking = (stored: Booked) => JSON.stringify(stored.as) === JSON.stringify(as);
    const earlier = parseStoredIfAny(bookingSchema, bookingKey, await this.#ledger.read(bookingKey));
    if (earlier) {
      if (!sameBooking({ ...earlier, paymentHash })) throw new Refusal('payment_known', 'this payment is booked already, as something else');
      return { ...earlier, paymentHash, booked: false };
    }
    if (await this.#known(paymentHash)) throw new Refusal('payment_known', 'this payment is one of the ledger’s own payouts or withdrawals');
    const payment = await lnd.getPayment(paymentHash);
    if (!payment) throw new Refusal('payment_not_found');
    if (payment.state !== 'succeeded') throw new Refusal('payment_not_succeeded');
    const { amountMsat, feeMsat } = payment;
    const outcome = await this.#ledger.run(
      async (tx) => {
        const before = parseStoredIfAny(bookingSchema, bookingKey, await tx.get(bookingKey));
        if (before) return { ...before, paymentHash, booked: false };
        // Held, or paid meanwhile by a payout or withdrawal of the ledger's own: never booked as well.
        if (await hashTaken(tx, paymentHash)) throw new Refusal('payment_known', 'this payment is one of the ledger’s own payouts or withdrawals');
        let account: Account;
        let outside: Account;
        if ('payout' in as) {
          // Paid after the backup because claimed after it: claimed again, its escrow is its
          // creator's (its supporters' lots void), and the payout leaves it as one would.
          if ((await tx.get(keys.binding(as.payout.handleKey))) === undefined) throw new Refusal('handle_not_claimed');
          account = accounts.escrow(as.payout.handleKey);
          outside = accounts.payouts;
        } else {
          if ((await tx.get(keys.supporter(as.withdrawal.supporterId))) === undefined) throw new Refusal('not_found', 'no such supporter');
          account = accounts.supporter(as.withdrawal.supporterId);
          outside = accounts.withdrawals;
        }
        const meta = { paymentHash, bookedAfterRestore: 'true' };
        const kind = 'payout' in as ? 'payout' : 'withdrawal';
        const transfers = [await tx.transfer(kind, account, outside, amountMsat, meta)];
        if (feeMsat > 0n) transfers.push(await tx.transfer(`${kind}.fee`, account, accounts.fees, feeMsat, meta));
        const booking = {
          as,
          account,
          amountMsat: formatMsat(amountMsat),
          feeMsat: formatMsat(feeMsat),
          transferIds: transfers.map((t) => t.id),
          bookedAt: tx.nowIso,
        } satisfies z.infer<typeof bookingSchema>;
        tx.put(bookingKey, booking);
        return { ...booking, paymentHash, booked: true };
      },
      { sync: true },
    );
    if (!outcome.booked && !sameBooking(outcome)) throw new Refusal('payment_known', 'this payment is booked already, as something else');
    if (outcome.booked)
      this.#log.warn({ paymentHash, account: outcome.account, amountMsat: outcome.amountMsat }, 'a payment made after the backup booked by the operator');
    return outcome;
  }

  /** Whether the ledger has a record of this payment, as committed: one of its payouts or withdrawals, or booked after the restore. */
  #known(paymentHash: string): Promise<boolean> {
    return hashTaken({ get: (key) => this.#ledger.read(key) }, paymentHash);
  }

  /**
   * While payments are held: LND's payments and settled invoices since the backup whose payment
   * hash the ledger does not know (none of its payouts, withdrawals, bookings or invoices), the
   * first `max` of each kind.
   */
  async unknownToLedger(lnd: Pick<Lnd, 'paymentsSince' | 'settledInvoicesSince'>, max: number): Promise<UnknownToLedger | undefined> {
    // Once resumed, LND's history since the backup is no longer paged through at each look.
    const state = this.#state;
    if (state?.resumedAt !== null) return undefined;
    const since = new Date(Date.parse(state.backupTakenAt) - clockSlackMs);
    /** The first `max` of `all` that `unknown` keeps, and whether none was left out. */
    const firstUnknown = async <T>(all: AsyncIterable<T>, unknown: (item: T) => Promise<boolean>): Promise<{ items: T[]; complete: boolean }> => {
      const items: T[] = [];
      for await (const item of all) {
        if (!(await unknown(item))) continue;
        if (items.length === max) return { items, complete: false };
        items.push(item);
      }
      return { items, complete: true };
    };
    // One after the other: a failure of one leaves no paging of LND running on.
    const payments = await firstUnknown(lnd.paymentsSince(since), async (p) => !(await this.#known(p.paymentHash)));
    const invoices = await firstUnknown(
      lnd.settledInvoicesSince(since),
      async (i) => (await this.#ledger.read(keys.depositByHash(i.paymentHash))) === undefined,
    );
    return {
      payments: payments.items.map((p) => ({ ...p, amountMsat: formatMsat(p.amountMsat), feeMsat: formatMsat(p.feeMsat) })),
      invoices: invoices.items.map((i) => ({ ...i, receivedMsat: formatMsat(i.receivedMsat) })),
      listedMax: max,
      complete: payments.complete && invoices.complete,
    };
  }
}
