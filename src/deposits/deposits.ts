// Money in by invoice. A deposit: a supporter asks for a BOLT11 invoice from the hub and pays it from
// any wallet, and its balance is credited. An LNURL tip: a wallet pays a handle's LNURL-pay or
// Lightning Address (lnurl/), and the handle's escrow is credited (escrow/payers.ts). Either way,
// when LND settles the invoice exactly what was received is credited, once. tipd picks the preimage
// itself and records the invoice before LND knows it, so every invoice tipd made has a record. It
// credits only invoices it recorded (keysends and other apps' invoices are not its own), follows
// settlements live from LND's settle index (kept with each credit), and at start looks up every
// invoice still open, which catches invoices paid while tipd was down. Winding down, no money comes
// in: every invoice still open is cancelled in LND, so that no wallet can pay it any more.
import { hash, randomBytes } from 'node:crypto';
import pMap from 'p-map';
import { z } from 'zod';
import type { EventData } from '../events/types.ts';
import { topics } from '../events/types.ts';
import { accounts, InvariantViolation, type Ledger, type Tx } from '../ledger/ledger.ts';
import { after, keys, prefixes, under } from '../ledger/keys.ts';
import { notAsStored, parseStoredIfAny } from '../ledger/records.ts';
import type { Lnd, SettledInvoice } from '../ln/lnd.ts';
import type { Logger } from '../process/log.ts';
import { formatMsat } from '../ledger/money.ts';
import { Refusal } from '../errors.ts';
import { crashPoint } from '../process/crash.ts';
import { repeat } from '../process/repeat.ts';
import { payerIntoEscrow } from '../escrow/payers.ts';

type DepositState = 'creating' | 'open' | 'settled' | 'failed' | 'expired' | 'cancelled';

/** What an LNURL tip's invoice credits: a handle's escrow, with what its payer said (LUD-12, LUD-18). */
export interface TipTarget {
  handleKey: string;
  /** The handle as the payer's wallet named it. */
  display: string;
  comment: string | null;
  payerName: string | null;
  /** A Lightning Address: where the tip may go back if the handle is never claimed. */
  payerIdentifier: string | null;
}

/**
 * An incoming invoice as stored (`dep:<id>`): a deposit credits `supporterId`'s balance, an LNURL
 * tip (`tip`) a handle's escrow; exactly one of the two is set.
 */
interface DepositRecord {
  id: string;
  supporterId?: string;
  tip?: TipTarget;
  /** An LNURL invoice commits to its metadata (LUD-06): kept to make the same invoice again after a crash. */
  descriptionHash?: string;
  paymentHash: string;
  /** Kept so that an interrupted creation can be finished with the same invoice. */
  preimage: string;
  amountMsat: string;
  paymentRequest: string | null;
  createdAt: string;
  expiresAt: string;
  state: DepositState;
  receivedMsat: string | null;
  settledAt: string | null;
}

const msat = z.string().regex(/^\d+$/);
const depositRecordSchema = z
  .object({
    id: z.string(),
    supporterId: z.string().optional(),
    tip: z
      .object({
        handleKey: z.string(),
        display: z.string(),
        comment: z.string().nullable(),
        payerName: z.string().nullable(),
        payerIdentifier: z.string().nullable(),
      })
      .optional(),
    descriptionHash: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .optional(),
    paymentHash: z.string().regex(/^[0-9a-f]{64}$/),
    preimage: z.string().regex(/^[0-9a-f]{64}$/),
    amountMsat: msat,
    paymentRequest: z.string().nullable(),
    createdAt: z.string(),
    expiresAt: z.string(),
    state: z.enum(['creating', 'open', 'settled', 'failed', 'expired', 'cancelled']),
    receivedMsat: msat.nullable(),
    settledAt: z.string().nullable(),
  })
  .refine((record) => (record.supporterId === undefined) !== (record.tip === undefined), 'a deposit or an LNURL tip');

/** A deposit's record as read back from the store (checked: never misread; absent: undefined). */
const depositRecord = (id: string, value: unknown): DepositRecord | undefined => parseStoredIfAny(depositRecordSchema, keys.deposit(id), value);

export interface DepositView {
  id: string;
  paymentRequest: string | null;
  /** The invoice as a `lightning:` URI, for a QR code any wallet scans. */
  lightning: string | null;
  paymentHash: string;
  amountMsat: string;
  expiresAt: string;
  state: 'open' | 'settled' | 'expired' | 'failed' | 'cancelled';
  receivedMsat: string | null;
  settledAt: string | null;
}

/** How often invoices past their expiry are looked up and closed (at start, every open one is). */
const expirySweepMs = 10 * 60_000;
/** Open invoices looked up in LND at once by a sweep (one at a time, 2,000 took LND 2.8 s). */
const lookupsAtOnce = 16;

export class Deposits {
  readonly #ledger: Ledger;
  readonly #lnd: Lnd;
  readonly #log: Logger;
  readonly #expiryMs: number;
  readonly #creatingGraceMs: number;
  readonly #windingDown: () => boolean;
  #watch: { stop(): void } | undefined;
  #sweep: { stop(): void } | undefined;

  /**
   * `lndTimeoutMs`: a record still without an invoice after two LND calls' worth of it (plus a
   * minute) was cut off by a stop, not by a request still waiting for LND. `windingDown`: whether
   * open invoices are to be cancelled (winddown/).
   */
  constructor(ledger: Ledger, lnd: Lnd, log: Logger, options: { expiryMs: number; lndTimeoutMs: number; windingDown?: () => boolean }) {
    this.#ledger = ledger;
    this.#lnd = lnd;
    this.#log = log;
    this.#expiryMs = options.expiryMs;
    this.#creatingGraceMs = 2 * options.lndTimeoutMs + 60_000;
    this.#windingDown = options.windingDown ?? (() => false);
  }

  #view(record: DepositRecord, now = new Date()): DepositView {
    const expired = record.state === 'open' && new Date(record.expiresAt) <= now;
    return {
      id: record.id,
      paymentRequest: record.paymentRequest,
      lightning: record.paymentRequest ? `lightning:${record.paymentRequest}` : null,
      paymentHash: record.paymentHash,
      amountMsat: record.amountMsat,
      expiresAt: record.expiresAt,
      state: expired ? 'expired' : record.state === 'creating' ? 'open' : record.state,
      receivedMsat: record.receivedMsat,
      settledAt: record.settledAt,
    };
  }

  async get(supporterId: string, id: string): Promise<DepositView | undefined> {
    const record = await this.#read(id);
    return record && record.supporterId === supporterId ? this.#view(record) : undefined;
  }

  async #read(id: string): Promise<DepositRecord | undefined> {
    return depositRecord(id, await this.#ledger.read(keys.deposit(id)));
  }

  /** A fresh record in `creating`, with the preimage tipd picked. */
  #fresh(amountMsat: bigint, target: Pick<DepositRecord, 'supporterId' | 'tip' | 'descriptionHash'>): DepositRecord {
    const preimage = randomBytes(32);
    return {
      id: randomBytes(12).toString('base64url'),
      ...target,
      paymentHash: hash('sha256', preimage),
      preimage: preimage.toString('hex'),
      amountMsat: amountMsat.toString(),
      paymentRequest: null,
      createdAt: new Date().toISOString(),
      expiresAt: new Date(Date.now() + this.#expiryMs).toISOString(),
      state: 'creating',
      receivedMsat: null,
      settledAt: null,
    };
  }

  /** Records an invoice before LND knows it (with its index by hash, and as open); answers the id recorded. */
  #record(fresh: DepositRecord, idempotency?: { scope: string; key: string; fingerprint: string }): Promise<string> {
    return this.#ledger.run(
      (tx) => {
        tx.put(keys.deposit(fresh.id), fresh);
        tx.put(keys.openDeposit(fresh.id), 0);
        tx.put(keys.depositByHash(fresh.paymentHash), fresh.id);
        return fresh.id;
      },
      { sync: true, ...(idempotency ? { idempotency } : {}) },
    );
  }

  /** `descriptionHash`: an invoice for the supporter's funding LNURL-pay commits to its metadata. */
  async create(
    supporterId: string,
    amountMsat: bigint,
    { idempotency, descriptionHash }: { idempotency?: { key: string; fingerprint: string } | undefined; descriptionHash?: Buffer } = {},
  ): Promise<DepositView> {
    const fresh = this.#fresh(amountMsat, { supporterId, ...(descriptionHash ? { descriptionHash: descriptionHash.toString('hex') } : {}) });
    // A retry with the same Idempotency-Key gets the deposit of the first request.
    const id = await this.#record(fresh, idempotency ? { scope: supporterId, ...idempotency } : undefined);
    const record = id === fresh.id ? fresh : (await this.#read(id))!;
    return this.#view(await this.#unlessWindingDown(await this.#finishCreating(record, record === fresh)));
  }

  /** An LNURL tip's invoice: exactly `amountMsat` into the handle's escrow, committing to the LNURL metadata (`descriptionHash`). */
  async createTip(tip: TipTarget, amountMsat: bigint, descriptionHash: Buffer): Promise<{ id: string; paymentRequest: string }> {
    const fresh = this.#fresh(amountMsat, { tip, descriptionHash: descriptionHash.toString('hex') });
    await this.#record(fresh);
    const record = await this.#unlessWindingDown(await this.#finishCreating(fresh, true));
    // Closed meanwhile by the start-up scan (only after LND failed to answer for minutes), or cancelled in LND.
    if (record.state !== 'open' || !record.paymentRequest)
      throw new Refusal('lnd_unavailable', 'the Lightning node did not make the invoice in time; try again');
    return { id: record.id, paymentRequest: record.paymentRequest };
  }

  /**
   * An invoice made by a request that began before the wind-down did, and finished after: it is
   * cancelled at once (the sweep tries again if LND cannot), and the request refused.
   */
  async #unlessWindingDown(record: DepositRecord): Promise<DepositRecord> {
    if (!this.#windingDown()) return record;
    await this.#check(record, { expired: false, cancel: true }).catch((err: unknown) => {
      if (err instanceof InvariantViolation) throw err;
      this.#log.warn({ deposit: record.id, err }, 'an invoice made as the wind-down began could not be cancelled; the sweep tries again');
    });
    throw new Refusal('winding_down');
  }

  /** Where an incoming invoice stands, for anyone holding its id (LUD-21 `verify`): the preimage once it is paid. */
  async verify(id: string): Promise<{ settled: boolean; preimage: string | null; pr: string; expiresAt: string } | undefined> {
    const record = await this.#read(id);
    if (!record?.paymentRequest) return undefined;
    const settled = record.state === 'settled';
    return { settled, preimage: settled ? record.preimage : null, pr: record.paymentRequest, expiresAt: record.expiresAt };
  }

  /**
   * Gives a deposit in `creating` its invoice: made now, or found if LND made it before a crash or
   * for an earlier try of the same request. A record made by this very request (`fresh`) has a
   * preimage nobody has seen: LND cannot know it yet, so it is not looked up first.
   */
  async #finishCreating(record: DepositRecord, fresh = false): Promise<DepositRecord> {
    if (record.state !== 'creating') return record;
    const existing = async () => (await this.#lnd.getInvoice(record.paymentHash))?.request;
    let paymentRequest = fresh ? undefined : await existing();
    if (!paymentRequest) {
      try {
        const invoice = await this.#lnd.createInvoice({
          amountMsat: BigInt(record.amountMsat),
          ...(record.descriptionHash ? { descriptionHash: Buffer.from(record.descriptionHash, 'hex') } : { description: `tipd deposit ${record.id}` }),
          expiresAt: new Date(record.expiresAt),
          preimage: Buffer.from(record.preimage, 'hex'),
        });
        paymentRequest = invoice.paymentRequest;
      } catch (err) {
        // A retry of the same request may have made it just now: the invoice is what matters.
        paymentRequest = await existing();
        if (!paymentRequest) throw err;
      }
    }
    return this.#ledger.run(
      async (tx) => {
        const current = (await depositIn(tx, record.id))!;
        if (current.state !== 'creating') return current;
        const updated: DepositRecord = { ...current, paymentRequest, state: 'open' };
        tx.put(keys.deposit(record.id), updated);
        return updated;
      },
      { sync: true },
    );
  }

  /** Credits a settled invoice if it is one of our deposits not yet credited; keeps LND's settle index. */
  async credit(settled: SettledInvoice): Promise<void> {
    crashPoint('deposit.settled-not-credited');
    const credited = await this.#ledger.run(
      async (tx) => {
        const cursor = settleIndexOf(await tx.get(keys.settleCursor)) ?? 0;
        if (settled.settleIndex > cursor) tx.put(keys.settleCursor, settled.settleIndex);
        const id = await tx.get<string>(keys.depositByHash(settled.paymentHash));
        if (!id) return;
        const record = (await depositIn(tx, id))!;
        if (record.state === 'settled') return;
        const updated: DepositRecord = {
          ...record,
          state: 'settled',
          receivedMsat: settled.receivedMsat.toString(),
          settledAt: settled.settledAt.toISOString(),
        };
        tx.put(keys.deposit(id), updated);
        tx.del(keys.openDeposit(id));
        if (record.tip) {
          const { handleKey: key, display, comment, payerName, payerIdentifier } = record.tip;
          await payerIntoEscrow(tx, {
            handle: { key, display },
            amountMsat: settled.receivedMsat,
            paymentId: id,
            paymentHash: settled.paymentHash,
            comment,
            payerName,
            refundAddress: payerIdentifier,
          });
          return { id, to: `escrow of @${key}` };
        }
        const supporterId = record.supporterId!;
        const transfer = await tx.transfer('deposit', accounts.deposits, accounts.supporter(supporterId), settled.receivedMsat, {
          deposit: id,
          paymentHash: settled.paymentHash,
        });
        tx.emit('deposit.settled', [topics.supporter(supporterId)], {
          ...this.#view(updated),
          transferId: transfer.id,
          receivedMsat: formatMsat(settled.receivedMsat),
        } satisfies EventData['deposit.settled']);
        return { id, to: 'balance' };
      },
      { sync: true },
    );
    // Logged once it is on disk.
    if (credited)
      this.#log.info(
        { deposit: credited.id, to: credited.to, receivedMsat: formatMsat(settled.receivedMsat), settleIndex: settled.settleIndex },
        'invoice credited',
      );
  }

  /** Starts following settlements: catches up on open deposits, then follows LND live. */
  async start(): Promise<void> {
    this.#watch?.stop();
    const cursor = settleIndexOf(await this.#ledger.read(keys.settleCursor)) ?? 0;
    this.#watch = this.#lnd.watchSettledInvoices(
      cursor,
      (settled) => this.credit(settled),
      (err) => this.#log.warn({ code: err.code }, `following invoices, will resubscribe: ${err.message}`),
    );
    const checked = await this.#closeUnpayable(true);
    this.#log.info({ settleCursor: cursor, openDepositsChecked: checked }, 'following deposits');
    this.#sweep?.stop();
    this.#sweep = repeat('closing expired invoices', expirySweepMs, () => this.#closeUnpayable(false), this.#log);
  }

  /**
   * Winding down: cancels every invoice still open (a sweep every ten minutes cancels any that a
   * request under way made after). Their payments are refused; one LND settled first is credited.
   */
  cancelOpen(): Promise<number> {
    return this.#closeUnpayable(true);
  }

  /**
   * Looks open invoices up in LND: credits one paid while tipd was away, finishes one cut off
   * before its record was, and closes those nobody can pay any more, so that they leave the open
   * index (`depopen:`, the only one read): past their expiry, or cancelled while winding down.
   * `all`: every open invoice (at start, and at the wind-down); otherwise only those past their
   * expiry, or all while winding down. A payment LND settles after all is still credited: the
   * settle stream credits whatever state the record is in, except settled.
   */
  async #closeUnpayable(all: boolean): Promise<number> {
    let checked = 0;
    const cancel = this.#windingDown();
    await pMap(
      this.#ledger.db.keys(under(prefixes.openDeposits)),
      async (key) => {
        const record = await this.#read(after(prefixes.openDeposits, key));
        if (!record || (record.state !== 'open' && record.state !== 'creating')) return;
        const expired = Date.parse(record.expiresAt) < Date.now();
        if (!all && !expired && !cancel) return;
        checked += 1;
        try {
          await this.#check(record, { expired, cancel });
        } catch (err) {
          // An invoice LND cannot answer for holds up none of the others: the next sweep tries it again.
          if (err instanceof InvariantViolation) throw err;
          this.#log.warn({ deposit: record.id, err }, 'an open invoice could not be looked up; the next sweep tries again');
        }
      },
      { concurrency: lookupsAtOnce },
    );
    return checked;
  }

  /** One open invoice looked up in LND (and cancelled there first, if `cancel`), its record moved on to match. */
  async #check(record: DepositRecord, { expired, cancel }: { expired: boolean; cancel: boolean }): Promise<void> {
    let invoice = await this.#lnd.getInvoice(record.paymentHash);
    if (cancel && invoice?.state === 'open') {
      let cancelled = true;
      try {
        await this.#lnd.cancelInvoice(record.paymentHash);
      } catch (err) {
        // Settled first, most likely: the look-up says.
        cancelled = false;
        this.#log.warn({ deposit: record.id, err }, 'an open invoice could not be cancelled; looked up again');
      }
      invoice = await this.#lnd.getInvoice(record.paymentHash);
      // LND may forget a cancelled invoice at once (gc-canceled-invoices-on-the-fly).
      if (cancelled && invoice === undefined) return this.#close(record.id, 'cancelled');
    }
    if (invoice?.state === 'settled' && invoice.settled) return this.credit(invoice.settled);
    // LND cancels an invoice itself once it has expired: that is an expiry; before, someone cancelled it.
    if (invoice?.state === 'canceled') return this.#close(record.id, expired ? 'expired' : 'cancelled');
    // Cut off between LND's invoice and its record: finished from LND's invoice.
    if (invoice?.state === 'open' && record.state === 'creating' && !expired) return void (await this.#finishCreating(record));
    if (!invoice && record.state === 'creating' && Date.now() - Date.parse(record.createdAt) > this.#creatingGraceMs)
      return this.#close(record.id, 'failed', ['creating']);
    // Past its expiry LND cannot settle it any more (nor an invoice LND has dropped): it leaves the index for good.
    if (expired && (invoice !== undefined || record.state === 'open')) return this.#close(record.id, 'expired');
  }

  stop(): void {
    this.#watch?.stop();
    this.#sweep?.stop();
  }

  /**
   * Ends a deposit nobody can pay, unless it has moved on from the states `from`: `failed` when LND
   * never made its invoice (tipd stopped in between), `expired` after its time, `cancelled` in LND
   * before (by the wind-down, or by hand).
   */
  #close(id: string, to: 'failed' | 'expired' | 'cancelled', from: DepositState[] = ['open', 'creating']): Promise<void> {
    return this.#ledger.run(async (tx) => {
      const record = await depositIn(tx, id);
      if (!record || !from.includes(record.state)) return;
      tx.put(keys.deposit(id), { ...record, state: to });
      tx.del(keys.openDeposit(id));
    });
  }
}

/** A deposit's record as an operation sees it. */
async function depositIn(tx: Tx, id: string): Promise<DepositRecord | undefined> {
  return depositRecord(id, await tx.get(keys.deposit(id)));
}

/** LND's settle index kept as the cursor (`cursor:settle`): a whole number, or absent. */
function settleIndexOf(value: unknown): number | undefined {
  if (value !== undefined && !Number.isSafeInteger(value)) throw notAsStored(keys.settleCursor, 'a settle index');
  return value as number | undefined;
}
