// Withdrawals: a supporter's balance paid out to a BOLT11 invoice of their own. A two-phase
// transfer: the amount plus a routing-fee reserve is held (supporter → pending) in the same batch
// that records the withdrawal, before LND is asked to pay. LND's success books the real fee and
// releases the rest of the reserve; only LND's final "failed" releases everything. No answer (a
// timeout, a dropped connection) leaves it pending, and it is looked up by payment hash, never
// paid again: later in this run, and at every start.
import { randomBytes } from 'node:crypto';
import { Refusal } from '../errors.ts';
import type { Network } from '../config.ts';
import { accounts, type Ledger, type Tx } from '../ledger/ledger.ts';
import { prefixEnd } from '../ledger/keys.ts';
import { decodeInvoice, invoiceNetworkOf, type DecodedInvoice } from '../ln/bolt11.ts';
import type { Lnd, PaymentState } from '../ln/lnd.ts';
import { reconcilePending } from '../payments/reconcile.ts';
import type { Logger } from '../process/log.ts';
import { crashPoint } from '../process/crash.ts';
import { feeCap } from '../ledger/money.ts';
import { repeat } from '../process/repeat.ts';

type WithdrawalState = 'pending' | 'succeeded' | 'failed';

interface WithdrawalRecord {
  id: string;
  supporterId: string;
  paymentRequest: string;
  paymentHash: string;
  amountMsat: string;
  feeReserveMsat: string;
  feeMsat: string | null;
  state: WithdrawalState;
  failureReason: string | null;
  createdAt: string;
  settledAt: string | null;
}

export interface WithdrawalView {
  id: string;
  state: WithdrawalState;
  paymentHash: string;
  amountMsat: string;
  feeReserveMsat: string;
  feeMsat: string | null;
  failureReason: string | null;
  createdAt: string;
  settledAt: string | null;
}

export type InvoiceProblem = 'invalid_payment_request' | 'amount_missing' | 'invoice_expired' | 'wrong_network' | 'own_invoice' | 'invoice_already_used';

const problems: Record<InvoiceProblem, string> = {
  invalid_payment_request: 'paymentRequest is not a BOLT11 payment request',
  amount_missing: 'the invoice has no amount; ask your wallet for one that names the amount',
  invoice_expired: 'the invoice has expired',
  wrong_network: 'the invoice is for another network than this tipd',
  own_invoice: 'the invoice is one of this tipd’s own node',
  invoice_already_used: 'another withdrawal already pays this invoice',
};

/** Why an invoice cannot be paid out to, or nothing. */
export function invoiceProblem(decoded: DecodedInvoice | undefined, context: { network: Network; hubPubkey: string; now: Date }): InvoiceProblem | undefined {
  if (!decoded) return 'invalid_payment_request';
  if (decoded.network !== invoiceNetworkOf[context.network]) return 'wrong_network';
  if (decoded.payee === context.hubPubkey) return 'own_invoice';
  if (decoded.amountMsat === undefined) return 'amount_missing';
  if (decoded.expiresAt <= context.now) return 'invoice_expired';
  return undefined;
}

export class InvoiceRefused extends Refusal<InvoiceProblem> {
  constructor(code: InvoiceProblem) {
    super(code, problems[code]);
  }
}

export interface WithdrawalOptions {
  network: Network;
  /** Routing-fee cap of a withdrawal: base plus a proportion (ppm) of the amount, rounded up. */
  feeBaseMsat: bigint;
  feePpm: bigint;
  /** How often withdrawals that got no final answer are looked up again. */
  recheckMs: number;
}

const pendingAccount = (id: string) => accounts.pending(`withdrawal:${id}`);

export class Withdrawals {
  readonly #ledger: Ledger;
  readonly #lnd: Lnd;
  readonly #log: Logger;
  readonly #options: WithdrawalOptions;
  #recheck: { stop(): void } | undefined;
  /** Withdrawals this process is paying right now: reconcile leaves them alone. */
  readonly #sending = new Set<string>();

  constructor(ledger: Ledger, lnd: Lnd, log: Logger, options: WithdrawalOptions) {
    this.#ledger = ledger;
    this.#lnd = lnd;
    this.#log = log;
    this.#options = options;
  }

  #view(r: WithdrawalRecord): WithdrawalView {
    const { supporterId: _s, paymentRequest: _p, ...view } = r;
    return view;
  }

  async get(supporterId: string, id: string): Promise<WithdrawalView | undefined> {
    const record = await this.#ledger.read<WithdrawalRecord>(`wd:${id}`);
    return record && record.supporterId === supporterId ? this.#view(record) : undefined;
  }

  feeReserveOf(amountMsat: bigint): bigint {
    return feeCap(amountMsat, { baseMsat: this.#options.feeBaseMsat, ppm: this.#options.feePpm });
  }

  /** Holds the money, records the withdrawal, then pays; answers with where it stands. */
  async create(supporterId: string, paymentRequest: string, idempotency?: { key: string; fingerprint: string }): Promise<WithdrawalView> {
    const decoded = decodeInvoice(paymentRequest);
    // A request repeated (a retry, perhaps after the invoice expired) gets the withdrawal as it stands now.
    if (decoded) {
      const earlier = await this.#ledger.read<string>(`wdhash:${decoded.paymentHash}`);
      const record = earlier ? await this.#ledger.read<WithdrawalRecord>(`wd:${earlier}`) : undefined;
      if (record) {
        if (record.supporterId !== supporterId) throw new InvoiceRefused('invoice_already_used');
        return this.#view(record);
      }
    }
    const problem = invoiceProblem(decoded, { network: this.#options.network, hubPubkey: await this.#lnd.ownPubkey(), now: new Date() });
    if (problem || !decoded?.amountMsat) throw new InvoiceRefused(problem ?? 'amount_missing');
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
    const record = await this.#ledger.run(
      async (tx) => {
        // One withdrawal per invoice: a second request for it gets the first one.
        const existing = await tx.get<string>(`wdhash:${fresh.paymentHash}`);
        if (existing) return (await tx.get<WithdrawalRecord>(`wd:${existing}`))!;
        await tx.transfer('withdrawal.hold', accounts.supporter(supporterId), pendingAccount(fresh.id), amountMsat + feeReserveMsat, { withdrawal: fresh.id });
        tx.put(`wd:${fresh.id}`, fresh);
        tx.put(`wdpending:${fresh.id}`, 0);
        tx.put(`wdhash:${fresh.paymentHash}`, fresh.id);
        return fresh;
      },
      { sync: true, ...(idempotency ? { idempotency: { scope: supporterId, ...idempotency } } : {}) },
    );
    if (record.supporterId !== supporterId) throw new InvoiceRefused('invoice_already_used');
    if (record.id !== fresh.id) return this.#view((await this.#ledger.read<WithdrawalRecord>(`wd:${record.id}`)) ?? record);
    this.#sending.add(record.id);
    try {
      const outcome = await this.#lnd.payInvoice({ paymentRequest: decoded.request, maxFeeMsat: feeReserveMsat });
      crashPoint('withdrawal.paid-not-booked');
      return this.#view(await this.#settle(record.id, outcome));
    } finally {
      this.#sending.delete(record.id);
    }
  }

  /** Books what LND said, if the withdrawal is still pending (compare-and-set in the writer). */
  async #settle(id: string, outcome: PaymentState): Promise<WithdrawalRecord> {
    const { record, booked } = await this.#ledger.run(
      async (tx) => {
        const record = (await tx.get<WithdrawalRecord>(`wd:${id}`))!;
        if (record.state !== 'pending') return { record, booked: false };
        const held = BigInt(record.amountMsat) + BigInt(record.feeReserveMsat);
        const pending = pendingAccount(id);
        const supporter = accounts.supporter(record.supporterId);
        let updated: WithdrawalRecord;
        if (outcome.state === 'succeeded') {
          // Never more than reserved: LND was told the cap. Anything above would be a bug.
          if (outcome.feeMsat > BigInt(record.feeReserveMsat)) throw new Error(`withdrawal ${id}: fee ${outcome.feeMsat} above the reserve`);
          await tx.transfer('withdrawal', pending, accounts.withdrawals, BigInt(record.amountMsat), { withdrawal: id });
          if (outcome.feeMsat > 0n) await tx.transfer('withdrawal.fee', pending, accounts.fees, outcome.feeMsat, { withdrawal: id });
          await releaseRest(tx, pending, supporter, held - BigInt(record.amountMsat) - outcome.feeMsat, id);
          updated = { ...record, state: 'succeeded', feeMsat: outcome.feeMsat.toString(), settledAt: tx.now.toISOString() };
        } else if (outcome.state === 'failed') {
          await releaseRest(tx, pending, supporter, held, id);
          updated = { ...record, state: 'failed', failureReason: outcome.reason, settledAt: tx.now.toISOString() };
        } else {
          return { record, booked: false };
        }
        tx.put(`wd:${id}`, updated);
        tx.del(`wdpending:${id}`);
        tx.emit(updated.state === 'succeeded' ? 'withdrawal.succeeded' : 'withdrawal.failed', [`account:${record.supporterId}`], { ...this.#view(updated) });
        return { record: updated, booked: true };
      },
      { sync: true },
    );
    if (booked) this.#log.info({ withdrawal: id, state: record.state, feeMsat: record.feeMsat, reason: record.failureReason }, 'withdrawal settled');
    return record;
  }

  /** Looks every pending withdrawal up by hash and books LND's answer; at start and periodically. */
  async reconcile(): Promise<void> {
    // Only pending withdrawals are indexed (`wdpending:`), so this reads none of the settled ones.
    const ids = (await this.#ledger.db.keys({ gt: 'wdpending:', lt: prefixEnd('wdpending:') }).all()).map((key) => key.slice('wdpending:'.length));
    const pending = ((await this.#ledger.db.getMany(ids.map((id) => `wd:${id}`))) as (WithdrawalRecord | undefined)[]).filter(
      (record): record is WithdrawalRecord => record?.state === 'pending',
    );
    await reconcilePending(pending, {
      lnd: this.#lnd,
      sending: this.#sending,
      now: new Date(),
      settle: (id, state) => this.#settle(id, state),
      log: this.#log,
      what: 'withdrawal',
    });
  }

  start(): void {
    this.stop();
    this.#recheck = repeat('rechecking pending withdrawals', this.#options.recheckMs, () => this.reconcile(), this.#log);
  }

  stop(): void {
    this.#recheck?.stop();
  }
}

async function releaseRest(
  tx: Tx,
  pending: ReturnType<typeof pendingAccount>,
  supporter: ReturnType<typeof accounts.supporter>,
  amountMsat: bigint,
  id: string,
) {
  if (amountMsat > 0n) await tx.transfer('withdrawal.release', pending, supporter, amountMsat, { withdrawal: id });
}
