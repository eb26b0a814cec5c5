// Withdrawals: a supporter's balance paid out to a BOLT11 invoice of their own. A pending
// transfer: the amount plus a routing-fee reserve is held (supporter → pending) in the same batch
// that records the withdrawal, before LND is asked to pay. LND's answer is booked by the one
// settle path (payments/outgoing.ts): success books the real fee and releases the rest of the
// reserve; only LND's final "failed" releases everything. No answer (a timeout, a dropped
// connection) leaves it pending, and it is looked up by payment hash, never paid again: later in
// this run, and at every start. What is a withdrawal's own in that path is in records.ts. Two
// entries share that path: POST /v1/withdrawals pays before it answers; an LNURL withdraw link
// (links.ts) answers once the hold is on disk, and pays in the background.
import { randomBytes } from 'node:crypto';
import type { Network } from '../config.ts';
import { Refusal } from '../errors.ts';
import { InvariantViolation, type Ledger, type RunOptions, type Tx } from '../ledger/ledger.ts';
import { keys } from '../ledger/keys.ts';
import { feeCap, largestUnderFeeCap, msatPerSat } from '../ledger/money.ts';
import { hold } from '../ledger/pending.ts';
import { parseStored } from '../ledger/records.ts';
import { decodeInvoice, invoiceProblem, type DecodedInvoice } from '../ln/bolt11.ts';
import { LndError, type Lnd } from '../ln/lnd.ts';
import { hashTaken, OutgoingPayments } from '../payments/outgoing.ts';
import { crashPoint } from '../process/crash.ts';
import type { Logger } from '../process/log.ts';
import { repeat } from '../process/repeat.ts';
import { heldBy, withdrawalKind, withdrawalSchema, withdrawalTransfers, withdrawalView, type WithdrawalRecord, type WithdrawalView } from './records.ts';

export interface WithdrawalOptions {
  network: Network;
  /** Routing-fee cap of a withdrawal: base plus a proportion (ppm) of the amount, rounded up. */
  feeBaseMsat: bigint;
  feePpm: bigint;
  /** How often withdrawals that got no final answer are looked up again. */
  recheckMs: number;
  /** Whether new payments wait for the operator (a ledger restored from a backup: backup/restored.ts). */
  paymentsHeld?: () => boolean;
}

/** What withdrawals ask of LND. */
export type WithdrawalLnd = Pick<Lnd, 'ownPubkey' | 'payInvoice' | 'getPayment'>;

/** An invoice a withdrawal may pay: decoded, with its amount. */
export type PayableInvoice = DecodedInvoice & { amountMsat: bigint };

/**
 * A caller's own writes in the operation that holds a withdrawal (a withdraw link marked used),
 * given the record about to be written. A refusal thrown here leaves nothing written.
 */
export type AlsoWrite = (tx: Tx, record: WithdrawalRecord) => Promise<void> | void;

export class Withdrawals {
  readonly #ledger: Ledger;
  readonly #lnd: WithdrawalLnd;
  readonly #options: WithdrawalOptions;
  readonly #payments: OutgoingPayments<WithdrawalRecord>;
  /** Payments sent in the background (LNURL), until LND's answer is booked. */
  readonly #background = new Set<Promise<void>>();
  #recheck: { stop(): void } | undefined;
  /** Set by `stop()` (tipd is stopping): a hold on disk is no longer sent to LND (createInBackground). */
  #stopped = false;
  readonly #log: Logger;

  constructor(ledger: Ledger, lnd: WithdrawalLnd, log: Logger, options: WithdrawalOptions) {
    this.#ledger = ledger;
    this.#lnd = lnd;
    this.#log = log;
    this.#options = options;
    this.#payments = new OutgoingPayments(ledger, lnd, log, withdrawalKind(ledger));
  }

  async #read(id: string): Promise<WithdrawalRecord | undefined> {
    const stored = await this.#ledger.read(keys.withdrawal(id));
    return stored === undefined ? undefined : parseStored(withdrawalSchema, keys.withdrawal(id), stored);
  }

  async get(supporterId: string, id: string): Promise<WithdrawalView | undefined> {
    const record = await this.#read(id);
    return record && record.supporterId === supporterId ? withdrawalView(record) : undefined;
  }

  feeReserveOf(amountMsat: bigint): bigint {
    return feeCap(amountMsat, { baseMsat: this.#options.feeBaseMsat, ppm: this.#options.feePpm });
  }

  /** The largest amount in whole sats whose fee reserve fits beside it in `balanceMsat`; 0 when none does. */
  largestCoveredMsat(balanceMsat: bigint): bigint {
    const split = largestUnderFeeCap(balanceMsat, { baseMsat: this.#options.feeBaseMsat, ppm: this.#options.feePpm });
    // A smaller amount never has a larger reserve: the whole sats below the largest amount fit too.
    return split ? split.amountMsat - (split.amountMsat % msatPerSat) : 0n;
  }

  /** `decoded` if a withdrawal may pay it; the refusal saying why not otherwise. */
  async payable(decoded: DecodedInvoice | undefined): Promise<PayableInvoice> {
    const problem = invoiceProblem(decoded, { network: this.#options.network, hubPubkey: await this.#lnd.ownPubkey(), now: new Date() });
    if (problem || decoded?.amountMsat === undefined) throw new Refusal(problem ?? 'amount_missing');
    return { ...decoded, amountMsat: decoded.amountMsat };
  }

  /** Holds the money, records the withdrawal, then pays; answers with where it stands. */
  async create(supporterId: string, paymentRequest: string, idempotency?: { key: string; fingerprint: string }): Promise<WithdrawalView> {
    const decoded = decodeInvoice(paymentRequest);
    // A request repeated (a retry, perhaps after the invoice expired) gets the withdrawal as it stands now.
    if (decoded) {
      const earlier = await this.#ledger.read<string>(keys.withdrawalByHash(decoded.paymentHash));
      const record = earlier ? await this.#read(earlier) : undefined;
      if (record) {
        if (record.supporterId !== supporterId) throw new Refusal('invoice_already_used');
        return withdrawalView(record);
      }
    }
    if (this.#options.paymentsHeld?.()) throw new Refusal('payments_held');
    const fresh = this.#fresh(supporterId, await this.payable(decoded));
    // This process's from before its hold is on disk (as a payout's): a hold that waits in the
    // writer's queue for long must not be taken by the recheck for one never sent, and voided.
    return this.#payments.sending(fresh.id, async () => {
      const record = await this.#holdRecord(fresh, idempotency ? { idempotency: { scope: supporterId, ...idempotency } } : {});
      if (record.supporterId !== supporterId) throw new Refusal('invoice_already_used');
      if (record.id !== fresh.id) return withdrawalView((await this.#read(record.id)) ?? record);
      return withdrawalView(await this.#pay(record));
    });
  }

  /**
   * Holds the money and records the withdrawal with `alsoWrite` in the same operation; answers once
   * that is on disk, and pays in the background (LNURL-withdraw: the wallet is told OK at once).
   * An invoice that a withdrawal pays already is refused, and nothing is written.
   */
  async createInBackground(supporterId: string, invoice: PayableInvoice, alsoWrite: AlsoWrite): Promise<WithdrawalView> {
    if (this.#options.paymentsHeld?.()) throw new Refusal('payments_held');
    const fresh = this.#fresh(supporterId, invoice);
    const held = Promise.withResolvers<WithdrawalRecord>();
    // One `sending` from before the hold until the outcome is booked, as in `create`.
    const paying = this.#payments.sending(fresh.id, async () => {
      let record: WithdrawalRecord;
      try {
        record = await this.#holdRecord(fresh, { alsoWrite });
      } catch (err) {
        held.reject(err);
        return;
      }
      held.resolve(record);
      if (record.id !== fresh.id) return;
      crashPoint('lnurl-withdraw.held-not-paid');
      // tipd is stopping: LND is not asked now, since the ledger closes right after and could not
      // book its answer. The hold is on disk and LND never saw the payment, as at the crash point
      // above: at the next start the recheck finds it unknown to LND and, once it is a minute old
      // and not being sent (payments/outgoing.ts, `neverSentAfterMs`), releases it. Nothing paid.
      if (this.#stopped) {
        this.#log.warn({ withdrawal: record.id }, 'withdrawal held as tipd stops: not sent; released at the next start');
        return;
      }
      await this.#pay(record);
    });
    const tracked = paying.catch((err: unknown) => this.#failedInBackground(fresh.id, err)).finally(() => this.#background.delete(tracked));
    this.#background.add(tracked);
    const record = await held.promise;
    if (record.id !== fresh.id) throw new Refusal('invoice_already_used');
    return withdrawalView(record);
  }

  /**
   * Waits for the payments sent in the background to be booked (or left to the recheck); at
   * shutdown, after `stop()` and once no request can start another, before the ledger closes.
   */
  async drained(): Promise<void> {
    while (this.#background.size > 0) await Promise.all(this.#background);
  }

  #failedInBackground(id: string, err: unknown): void {
    // A broken store is not something to try again: tipd stops, as when a request finds it.
    if (err instanceof InvariantViolation) return this.#ledger.halt(err);
    // No answer from LND: the hold stays, and the recheck looks the payment up by hash.
    if (err instanceof LndError)
      return this.#log.warn({ withdrawal: id, code: err.code }, 'withdrawal sent in the background got no answer from LND; the recheck looks it up');
    this.#log.error({ err, withdrawal: id }, 'withdrawal sent in the background failed; the recheck looks it up');
  }

  #fresh(supporterId: string, invoice: PayableInvoice): WithdrawalRecord {
    return {
      id: randomBytes(12).toString('base64url'),
      supporterId,
      paymentRequest: invoice.request,
      paymentHash: invoice.paymentHash,
      amountMsat: invoice.amountMsat.toString(),
      feeReserveMsat: this.feeReserveOf(invoice.amountMsat).toString(),
      feeMsat: null,
      state: 'pending',
      failureReason: null,
      createdAt: new Date().toISOString(),
      settledAt: null,
    };
  }

  /** One operation, on disk before it answers: the hold and the record (or the invoice's earlier withdrawal). */
  #holdRecord(fresh: WithdrawalRecord, options: { idempotency?: RunOptions['idempotency']; alsoWrite?: AlsoWrite }): Promise<WithdrawalRecord> {
    return this.#ledger.run((tx) => this.#hold(tx, fresh, options.alsoWrite), {
      sync: true,
      ...(options.idempotency ? { idempotency: options.idempotency } : {}),
    });
  }

  /** Inside the writer: holds amount and fee reserve with the record; a second request for the invoice gets the first one. */
  async #hold(tx: Tx, fresh: WithdrawalRecord, alsoWrite?: AlsoWrite): Promise<WithdrawalRecord> {
    const existing = await tx.get<string>(keys.withdrawalByHash(fresh.paymentHash));
    if (existing) return parseStored(withdrawalSchema, keys.withdrawal(existing), await tx.get(keys.withdrawal(existing)));
    // An invoice a payout of tipd pays (or a payment booked after a restore paid): no payment hash is paid twice.
    if (await hashTaken(tx, fresh.paymentHash)) throw new Refusal('invoice_already_used', 'another payment of tipd pays this invoice');
    await alsoWrite?.(tx, fresh);
    await hold(tx, withdrawalTransfers, heldBy(fresh));
    tx.put(keys.withdrawal(fresh.id), fresh);
    tx.put(keys.pendingWithdrawal(fresh.id), 0);
    tx.put(keys.withdrawalByHash(fresh.paymentHash), fresh.id);
    return fresh;
  }

  /** Asks LND to pay a held withdrawal (the fee capped at its reserve) and books the answer. */
  async #pay(record: WithdrawalRecord): Promise<WithdrawalRecord> {
    const outcome = await this.#lnd.payInvoice({ paymentRequest: record.paymentRequest, maxFeeMsat: BigInt(record.feeReserveMsat) });
    crashPoint('withdrawal.paid-not-booked');
    return this.#payments.settle(record.id, outcome);
  }

  /** Looks every pending withdrawal up by hash and books LND's answer; at start and periodically. */
  reconcile(): Promise<void> {
    return this.#payments.reconcile(new Date());
  }

  start(): void {
    this.stop();
    this.#stopped = false;
    this.#recheck = repeat('rechecking pending withdrawals', this.#options.recheckMs, () => this.reconcile(), this.#log);
  }

  /** Stops the recheck, and the sending of holds not yet sent; payments already with LND are still booked (`drained`). */
  stop(): void {
    this.#stopped = true;
    this.#recheck?.stop();
  }
}
