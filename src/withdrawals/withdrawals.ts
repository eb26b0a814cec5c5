// Withdrawals: a supporter's balance paid out to a BOLT11 invoice of their own. A pending
// transfer: the amount plus a routing-fee reserve is held (supporter → pending) in the same batch
// that records the withdrawal, before LND is asked to pay. LND's answer is booked by the one
// settle path (payments/outgoing.ts): success books the real fee and releases the rest of the
// reserve; only LND's final "failed" releases everything. No answer (a timeout, a dropped
// connection) leaves it pending, and it is looked up by payment hash, never paid again: later in
// this run, and at every start. What is a withdrawal's own in that path is in records.ts.
import { randomBytes } from 'node:crypto';
import type { Network } from '../config.ts';
import { Refusal } from '../errors.ts';
import type { Ledger, Tx } from '../ledger/ledger.ts';
import { keys } from '../ledger/keys.ts';
import { feeCap } from '../ledger/money.ts';
import { hold } from '../ledger/pending.ts';
import { parseStored } from '../ledger/records.ts';
import { decodeInvoice, invoiceNetworkOf, type DecodedInvoice } from '../ln/bolt11.ts';
import type { Lnd } from '../ln/lnd.ts';
import { OutgoingPayments } from '../payments/outgoing.ts';
import { crashPoint } from '../process/crash.ts';
import type { Logger } from '../process/log.ts';
import { repeat } from '../process/repeat.ts';
import { heldBy, withdrawalKind, withdrawalSchema, withdrawalTransfers, withdrawalView, type WithdrawalRecord, type WithdrawalView } from './records.ts';

export type InvoiceProblem = 'invalid_payment_request' | 'amount_missing' | 'invoice_expired' | 'wrong_network' | 'own_invoice' | 'invoice_already_used';

/** Why an invoice cannot be paid out to, or nothing. */
export function invoiceProblem(decoded: DecodedInvoice | undefined, context: { network: Network; hubPubkey: string; now: Date }): InvoiceProblem | undefined {
  if (!decoded) return 'invalid_payment_request';
  if (decoded.network !== invoiceNetworkOf[context.network]) return 'wrong_network';
  if (decoded.payee === context.hubPubkey) return 'own_invoice';
  if (decoded.amountMsat === undefined) return 'amount_missing';
  if (decoded.expiresAt <= context.now) return 'invoice_expired';
  return undefined;
}

export interface WithdrawalOptions {
  network: Network;
  /** Routing-fee cap of a withdrawal: base plus a proportion (ppm) of the amount, rounded up. */
  feeBaseMsat: bigint;
  feePpm: bigint;
  /** How often withdrawals that got no final answer are looked up again. */
  recheckMs: number;
}

export class Withdrawals {
  readonly #ledger: Ledger;
  readonly #lnd: Lnd;
  readonly #options: WithdrawalOptions;
  readonly #payments: OutgoingPayments<WithdrawalRecord>;
  #recheck: { stop(): void } | undefined;
  readonly #log: Logger;

  constructor(ledger: Ledger, lnd: Lnd, log: Logger, options: WithdrawalOptions) {
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
    const problem = invoiceProblem(decoded, { network: this.#options.network, hubPubkey: await this.#lnd.ownPubkey(), now: new Date() });
    if (problem || !decoded?.amountMsat) throw new Refusal(problem ?? 'amount_missing');
    const amountMsat = decoded.amountMsat;
    const feeReserveMsat = this.feeReserveOf(amountMsat);
    const fresh: WithdrawalRecord = {
      id: randomBytes(12).toString('base64url'),
      supporterId,
      paymentRequest: decoded.request,
      paymentHash: decoded.paymentHash,
      amountMsat: amountMsat.toString(),
      feeReserveMsat: feeReserveMsat.toString(),
      feeMsat: null,
      state: 'pending',
      failureReason: null,
      createdAt: new Date().toISOString(),
      settledAt: null,
    };
    // This process's from before its hold is on disk (as a payout's): a hold that waits in the
    // writer's queue for long must not be taken by the recheck for one never sent, and voided.
    return this.#payments.sending(fresh.id, async () => {
      const record = await this.#ledger.run((tx) => this.#hold(tx, fresh), {
        sync: true,
        ...(idempotency ? { idempotency: { scope: supporterId, ...idempotency } } : {}),
      });
      if (record.supporterId !== supporterId) throw new Refusal('invoice_already_used');
      if (record.id !== fresh.id) return withdrawalView((await this.#read(record.id)) ?? record);
      const outcome = await this.#lnd.payInvoice({ paymentRequest: decoded.request, maxFeeMsat: feeReserveMsat });
      crashPoint('withdrawal.paid-not-booked');
      return withdrawalView(await this.#payments.settle(record.id, outcome));
    });
  }

  /** Inside the writer: holds amount and fee reserve with the record; a second request for the invoice gets the first one. */
  async #hold(tx: Tx, fresh: WithdrawalRecord): Promise<WithdrawalRecord> {
    const existing = await tx.get<string>(keys.withdrawalByHash(fresh.paymentHash));
    if (existing) return parseStored(withdrawalSchema, keys.withdrawal(existing), await tx.get(keys.withdrawal(existing)));
    await hold(tx, withdrawalTransfers, heldBy(fresh));
    tx.put(keys.withdrawal(fresh.id), fresh);
    tx.put(keys.pendingWithdrawal(fresh.id), 0);
    tx.put(keys.withdrawalByHash(fresh.paymentHash), fresh.id);
    return fresh;
  }

  /** Looks every pending withdrawal up by hash and books LND's answer; at start and periodically. */
  reconcile(): Promise<void> {
    return this.#payments.reconcile(new Date());
  }

  start(): void {
    this.stop();
    this.#recheck = repeat('rechecking pending withdrawals', this.#options.recheckMs, () => this.reconcile(), this.#log);
  }

  stop(): void {
    this.#recheck?.stop();
  }
}
