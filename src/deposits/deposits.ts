// Deposits: a supporter asks for a BOLT11 invoice from the hub and pays it from any wallet; when
// LND settles it, exactly what was received is credited, once. tipd picks the preimage itself and
// records the deposit before LND knows the invoice, so every invoice tipd made has a record. It
// credits only invoices it recorded (keysends and other apps' invoices are not deposits), follows
// settlements live from LND's settle index (kept with each credit), and at start looks up every
// deposit still open, which catches invoices paid while tipd was down.
import { hash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { EventData } from '../events/types.ts';
import { topics } from '../events/types.ts';
import { accounts, type Ledger, type Tx } from '../ledger/ledger.ts';
import { after, keys, prefixes, under } from '../ledger/keys.ts';
import { notAsStored, parseStoredIfAny } from '../ledger/records.ts';
import type { Lnd, SettledInvoice } from '../ln/lnd.ts';
import type { Logger } from '../process/log.ts';
import { formatMsat } from '../ledger/money.ts';
import { crashPoint } from '../process/crash.ts';

type DepositState = 'creating' | 'open' | 'settled' | 'failed' | 'expired';

/** A deposit as stored (`dep:<id>`). */
interface DepositRecord {
  id: string;
  supporterId: string;
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
const depositRecordSchema = z.object({
  id: z.string(),
  supporterId: z.string(),
  paymentHash: z.string().regex(/^[0-9a-f]{64}$/),
  preimage: z.string().regex(/^[0-9a-f]{64}$/),
  amountMsat: msat,
  paymentRequest: z.string().nullable(),
  createdAt: z.string(),
  expiresAt: z.string(),
  state: z.enum(['creating', 'open', 'settled', 'failed', 'expired']),
  receivedMsat: msat.nullable(),
  settledAt: z.string().nullable(),
});

/** A deposit's record as read back from the store (checked: never misread; absent: undefined). */
const depositRecord = (id: string, value: unknown): DepositRecord | undefined => parseStoredIfAny(depositRecordSchema, keys.deposit(id), value);

export interface DepositView {
  id: string;
  paymentRequest: string | null;
  paymentHash: string;
  amountMsat: string;
  expiresAt: string;
  state: 'open' | 'settled' | 'expired' | 'failed';
  receivedMsat: string | null;
  settledAt: string | null;
}

/** A deposit still without an invoice this long after it was recorded was cut off by a stop. */
const creatingGraceMs = 60_000;

export class Deposits {
  readonly #ledger: Ledger;
  readonly #lnd: Lnd;
  readonly #log: Logger;
  readonly #expiryMs: number;
  #watch: { stop(): void } | undefined;

  constructor(ledger: Ledger, lnd: Lnd, log: Logger, options: { expiryMs: number }) {
    this.#ledger = ledger;
    this.#lnd = lnd;
    this.#log = log;
    this.#expiryMs = options.expiryMs;
  }

  #view(record: DepositRecord, now = new Date()): DepositView {
    const expired = record.state === 'open' && new Date(record.expiresAt) <= now;
    return {
      id: record.id,
      paymentRequest: record.paymentRequest,
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

  async create(supporterId: string, amountMsat: bigint, idempotency?: { key: string; fingerprint: string }): Promise<DepositView> {
    const preimage = randomBytes(32);
    const fresh: DepositRecord = {
      id: randomBytes(12).toString('base64url'),
      supporterId,
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
    // A retry with the same Idempotency-Key gets the deposit of the first request.
    const id = await this.#ledger.run(
      (tx) => {
        tx.put(keys.deposit(fresh.id), fresh);
        tx.put(keys.openDeposit(fresh.id), 0);
        tx.put(keys.depositByHash(fresh.paymentHash), fresh.id);
        return fresh.id;
      },
      { sync: true, ...(idempotency ? { idempotency: { scope: supporterId, ...idempotency } } : {}) },
    );
    const record = id === fresh.id ? fresh : (await this.#read(id))!;
    return this.#view(await this.#finishCreating(record));
  }

  /** Gives a deposit in `creating` its invoice (made now, or found if LND made it before a crash). */
  async #finishCreating(record: DepositRecord): Promise<DepositRecord> {
    if (record.state !== 'creating') return record;
    const existing = async () => (await this.#lnd.getInvoice(record.paymentHash))?.request;
    let paymentRequest = await existing();
    if (!paymentRequest) {
      try {
        const invoice = await this.#lnd.createInvoice({
          amountMsat: BigInt(record.amountMsat),
          description: `tipd deposit ${record.id}`,
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
        const transfer = await tx.transfer('deposit', accounts.deposits, accounts.supporter(record.supporterId), settled.receivedMsat, {
          deposit: id,
          paymentHash: settled.paymentHash,
        });
        const updated: DepositRecord = {
          ...record,
          state: 'settled',
          receivedMsat: settled.receivedMsat.toString(),
          settledAt: settled.settledAt.toISOString(),
        };
        tx.put(keys.deposit(id), updated);
        tx.del(keys.openDeposit(id));
        tx.emit('deposit.settled', [topics.supporter(record.supporterId)], {
          ...this.#view(updated),
          transferId: transfer.id,
          receivedMsat: formatMsat(settled.receivedMsat),
        } satisfies EventData['deposit.settled']);
        return id;
      },
      { sync: true },
    );
    // Logged once it is on disk.
    if (credited) this.#log.info({ deposit: credited, receivedMsat: formatMsat(settled.receivedMsat), settleIndex: settled.settleIndex }, 'deposit credited');
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
    let checked = 0;
    // Only deposits still open are indexed (`depopen:`), so this reads none of the others.
    for await (const key of this.#ledger.db.keys(under(prefixes.openDeposits))) {
      const record = await this.#read(after(prefixes.openDeposits, key));
      if (!record || (record.state !== 'open' && record.state !== 'creating')) continue;
      checked += 1;
      const invoice = await this.#lnd.getInvoice(record.paymentHash);
      if (invoice?.state === 'settled' && invoice.settled) await this.credit(invoice.settled);
      else if (!invoice && record.state === 'creating' && Date.now() - Date.parse(record.createdAt) > creatingGraceMs)
        await this.#close(record.id, 'creating', 'failed');
      // Past its expiry LND cannot settle it any more: it leaves this scan for good.
      else if (invoice && invoice.state !== 'settled' && Date.parse(record.expiresAt) < Date.now()) await this.#close(record.id, record.state, 'expired');
    }
    this.#log.info({ settleCursor: cursor, openDepositsChecked: checked }, 'following deposits');
  }

  stop(): void {
    this.#watch?.stop();
  }

  /** Ends a deposit nobody can pay: `failed` when LND never made its invoice (tipd stopped in between), `expired` after its time. */
  #close(id: string, from: DepositState, to: 'failed' | 'expired'): Promise<void> {
    return this.#ledger.run(async (tx) => {
      const record = await depositIn(tx, id);
      if (record?.state !== from) return;
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
