// Every outgoing Lightning payment whose outcome tipd learns by payment hash (withdrawals, payouts),
// settled and reconciled by one path. A kind of payment is a descriptor (`OutgoingKind`): its
// record, where its pending ones are indexed, what it held, and what it does of its own once an
// outcome is booked. The outcome is booked with compare-and-set on the record still being
// `pending`, so LND's answer is booked once, whoever asks: the call that sent it, the recheck, a
// restart. A payment is never sent again here; one LND never saw is failed only when it is old
// enough and not being sent by this process.
import { z } from 'zod';
import { InvariantViolation } from '../ledger/invariants.ts';
import { keys } from '../ledger/keys.ts';
import type { Ledger, Tx } from '../ledger/ledger.ts';
import { pendingAccount, post, voidHold, type Held, type PendingKind } from '../ledger/pending.ts';
import { parseStored, storedFields } from '../ledger/records.ts';
import type { PaymentState } from '../ln/lnd.ts';
import type { Logger } from '../process/log.ts';

/**
 * LND records a payment before its first HTLC, so one it does not know was never sent; but a call
 * still on its way to LND is not known yet either. Only a payment this old, and not being sent by
 * this process, is taken as never sent.
 */
const neverSentAfterMs = 60_000;

/**
 * The fields every outgoing payment's record has, as stored; each kind stores more, in a schema of
 * its own that spreads these (it checks a record when it is read back, and keeps it as stored).
 */
export const outgoingFields = {
  id: z.string().min(1),
  paymentHash: storedFields.hex32,
  amountMsat: storedFields.msat,
  feeMsat: storedFields.msat.nullable(),
  state: z.enum(['pending', 'succeeded', 'failed']),
  failureReason: z.string().nullable(),
  createdAt: storedFields.time,
  settledAt: storedFields.time.nullable(),
};
export type OutgoingRecord = z.infer<z.ZodObject<typeof outgoingFields>>;

/** What one kind of outgoing payment keeps of its own. Adding a kind adds one of these, nothing else. */
export interface OutgoingKind<R extends OutgoingRecord> {
  /** Its pending money: the name (`withdrawal`, `payout`: also the log field and its lines), accounts and transfer kinds. */
  pending: PendingKind;
  /** Its stored record, checked whenever it is read back here. */
  schema: z.ZodType<R>;
  key: (id: string) => string;
  /** The ids of its payments whose outcome is not booked yet (its own index). */
  pendingIds: () => Promise<string[]>;
  /** What a record held, and from where. */
  held: (record: R) => Held;
  /** Inside the writer, once an outcome is booked: its own keys and event. `record` is the updated one, already stored. */
  booked: (tx: Tx, record: R) => Promise<void> | void;
  /** The fields of its `<name> settled` log line, beside the id. */
  settledLog: (record: R) => Record<string, unknown>;
  /** Who to check by hand when LND paid one booked as failed (`handle`, `supporter`), and the log's fields. */
  owner: (record: R) => { what: string; fields: Record<string, unknown> };
  /** After the outcome is on disk. */
  afterBooked?: (record: R) => void;
}

export type PaymentLookup = { getPayment(paymentHash: string): Promise<PaymentState | undefined> };

/**
 * Inside an operation: whether an outgoing payment the ledger knows has this payment hash (a
 * payout, a withdrawal, or a payment booked after a restore: backup/restored.ts). No hash is paid,
 * or booked, twice.
 */
export async function hashTaken(tx: Pick<Tx, 'get'>, paymentHash: string): Promise<boolean> {
  for (const key of [keys.payoutByHash(paymentHash), keys.withdrawalByHash(paymentHash), keys.restoreBooking(paymentHash)])
    if ((await tx.get(key)) !== undefined) return true;
  return false;
}

export class OutgoingPayments<R extends OutgoingRecord> {
  readonly #ledger: Ledger;
  readonly #lnd: PaymentLookup;
  readonly #log: Logger;
  readonly #kind: OutgoingKind<R>;
  /** Payments this process is sending right now: reconcile leaves them alone. */
  readonly #sending = new Set<string>();

  constructor(ledger: Ledger, lnd: PaymentLookup, log: Logger, kind: OutgoingKind<R>) {
    this.#ledger = ledger;
    this.#lnd = lnd;
    this.#log = log;
    this.#kind = kind;
  }

  get #name(): string {
    return this.#kind.pending.name;
  }

  /** Runs `work` (a hold, the call to LND, the settle) with `id` marked as being sent by this process. */
  async sending<T>(id: string, work: () => Promise<T>): Promise<T> {
    this.#sending.add(id);
    try {
      return await work();
    } finally {
      this.#sending.delete(id);
    }
  }

  /**
   * Books LND's final word, if the payment is still pending (compare-and-set in the writer):
   * succeeded posts the hold, failed voids it, in flight or unknown books nothing. Answers with the
   * record as it stands.
   */
  async settle(id: string, outcome: PaymentState): Promise<R> {
    const kind = this.#kind;
    const { record, booked } = await this.#ledger.run(
      async (tx) => {
        const key = kind.key(id);
        const stored = await tx.get(key);
        if (stored === undefined) throw new InvariantViolation(`${this.#name} ${id}: settled, but it has no record`);
        const record = parseStored(kind.schema, key, stored);
        if (record.state === 'failed' && outcome.state === 'succeeded') {
          // Voided, yet LND paid it: what it held may have been paid again. Never silently.
          const owner = kind.owner(record);
          this.#log.fatal({ [this.#name]: id, ...owner.fields }, `a ${this.#name} booked as failed was paid by LND: check this ${owner.what} by hand`);
        }
        if (record.state !== 'pending' || (outcome.state !== 'succeeded' && outcome.state !== 'failed')) return { record, booked: false };
        const held = kind.held(record);
        let updated: R;
        if (outcome.state === 'succeeded') {
          if (outcome.paymentHash !== record.paymentHash) {
            throw new InvariantViolation(`${this.#name} ${id}: LND paid ${outcome.paymentHash}, not ${record.paymentHash}`);
          }
          await post(tx, kind.pending, held, outcome);
          updated = { ...record, state: 'succeeded', feeMsat: outcome.feeMsat.toString(), settledAt: tx.now.toISOString() };
        } else {
          await voidHold(tx, kind.pending, held);
          updated = { ...record, state: 'failed', failureReason: outcome.reason, settledAt: tx.now.toISOString() };
        }
        tx.put(key, updated);
        await kind.booked(tx, updated);
        return { record: updated, booked: true };
      },
      // The record and its pending balance read ahead with those of the whole batch (a burst of
      // payments settles in a few batches), not one after another in the writer.
      { sync: true, prefetch: [kind.key(id)], balances: [pendingAccount(kind.pending, id)] },
    );
    if (booked) {
      this.#log.info({ [this.#name]: id, ...kind.settledLog(record) }, `${this.#name} settled`);
      kind.afterBooked?.(record);
    }
    return record;
  }

  /**
   * Looks every pending payment up by hash and books LND's answer; at start and periodically. Those
   * being sent by this process are left to the call sending them. One that cannot be settled now is
   * logged and does not hold up the others; the next pass tries it again.
   */
  async reconcile(now: Date): Promise<void> {
    try {
      await this.#reconcile(now);
    } catch (err) {
      // A broken store is not something to try again: tipd stops (the writer has stopped already
      // when it found it itself).
      if (err instanceof InvariantViolation) this.#ledger.halt(err);
      throw err;
    }
  }

  async #reconcile(now: Date): Promise<void> {
    const ids = await this.#kind.pendingIds();
    const values = await this.#ledger.db.getMany(ids.map((id) => this.#kind.key(id)));
    for (const [i, value] of values.entries()) {
      const id = ids[i]!;
      if (this.#sending.has(id)) continue;
      // Records of payments are never deleted: an index that names none is a broken store.
      if (value === undefined) throw new InvariantViolation(`${this.#name} ${id}: indexed as pending, but it has no record`);
      const payment = parseStored(this.#kind.schema, this.#kind.key(id), value);
      // Booked since the index was read.
      if (payment.state !== 'pending') continue;
      try {
        const found = await this.#lnd.getPayment(payment.paymentHash);
        if (found) await this.settle(id, found);
        else if (now.getTime() - Date.parse(payment.createdAt) > neverSentAfterMs) {
          await this.settle(id, { state: 'failed', paymentHash: payment.paymentHash, reason: 'never sent (tipd stopped before paying)' });
        }
      } catch (err) {
        // A broken invariant is not something to try again.
        if (err instanceof InvariantViolation) throw err;
        this.#log.error({ err, [this.#name]: id }, `could not settle a pending ${this.#name}; will try again`);
      }
    }
  }
}
