// The ledger: the one place that writes tipd's store. Every change is an operation run by a single
// writer, in order; operations queued while a batch is written are run together and committed in
// one LevelDB batch (group commit), so throughput holds up under load and readers never see half
// an operation. Money moves only as double-entry transfers between accounts: all balances sum to
// zero, and no supporter, escrow or pending account ever goes below zero. An operation may carry
// an idempotency key: the same key again returns the first result and changes nothing.
import { pad, prefixEnd, type Store } from './store.ts';

export type Account = `supporter:${string}` | `escrow:${string}` | `pending:${string}` | `system:${string}`;

export const accounts = {
  supporter: (id: string): Account => `supporter:${id}`,
  escrow: (handleKey: string): Account => `escrow:${handleKey}`,
  pending: (what: string): Account => `pending:${what}`,
  /** Money that came in over Lightning (deposits): goes negative as it is credited out. */
  deposits: 'system:deposits' as Account,
  /** Money that left over Lightning to a supporter's own invoice (withdrawals). */
  withdrawals: 'system:withdrawals' as Account,
  /** Money that left over Lightning to creators' nodes (keysend payouts of escrow). */
  payouts: 'system:payouts' as Account,
  /** Routing fees paid to the Lightning network. */
  fees: 'system:fees' as Account,
};

/** Only system accounts (the outside world) may go negative. */
const mayGoNegative = (account: Account) => account.startsWith('system:');

export type LedgerErrorCode = 'insufficient_balance' | 'idempotency_key_reused' | 'overloaded';

/** An expected refusal, turned into an HTTP answer by the API. */
export class LedgerError extends Error {
  readonly code: LedgerErrorCode;
  constructor(code: LedgerErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

export interface Transfer {
  id: string;
  kind: string;
  debit: Account;
  credit: Account;
  amountMsat: bigint;
  at: string;
  meta: Record<string, string> | undefined;
}

interface StoredTransfer extends Omit<Transfer, 'amountMsat'> {
  amountMsat: string;
}

export interface LedgerEvent {
  seq: number;
  type: string;
  at: string;
  /** Who may see it: `account:<id>` for a supporter, `handle:<key>` for anyone following a handle. */
  topics: string[];
  data: Record<string, unknown>;
}

const deleted = Symbol('deleted');
type Staged = Map<string, unknown>;

/** What an operation sees and does: reads through what it (and its batch) staged, writes staged. */
export class Tx {
  readonly #ledger: Ledger;
  readonly #group: Staged;
  readonly staged: Staged = new Map();
  readonly events: Omit<LedgerEvent, 'seq' | 'at'>[] = [];
  readonly now: Date;

  constructor(ledger: Ledger, group: Staged, now: Date) {
    this.#ledger = ledger;
    this.#group = group;
    this.now = now;
  }

  async get<T>(key: string): Promise<T | undefined> {
    for (const layer of [this.staged, this.#group]) {
      if (layer.has(key)) {
        const value = layer.get(key);
        return value === deleted ? undefined : (value as T);
      }
    }
    return this.#ledger.read<T>(key);
  }

  put(key: string, value: unknown): void {
    this.staged.set(key, value);
  }

  del(key: string): void {
    this.staged.set(key, deleted);
  }

  async balance(account: Account): Promise<bigint> {
    const key = `bal:${account}`;
    for (const layer of [this.staged, this.#group]) {
      if (layer.has(key)) return BigInt(layer.get(key) as string);
    }
    return this.#ledger.balance(account);
  }

  /** Moves `amountMsat` from `debit` to `credit`; refuses to take a guarded account below zero. */
  async transfer(kind: string, debit: Account, credit: Account, amountMsat: bigint, meta?: Record<string, string>): Promise<Transfer> {
    if (amountMsat <= 0n) throw new Error(`transfer of ${amountMsat} msat: amounts must be positive`);
    if (debit === credit) throw new Error(`transfer from ${debit} to itself`);
    const from = await this.balance(debit);
    if (from < amountMsat && !mayGoNegative(debit)) {
      throw new LedgerError('insufficient_balance', `${debit} holds ${from} msat, ${amountMsat} msat needed`);
    }
    const to = await this.balance(credit);
    this.staged.set(`bal:${debit}`, (from - amountMsat).toString());
    this.staged.set(`bal:${credit}`, (to + amountMsat).toString());
    const transfer: Transfer = { id: pad(this.#ledger.nextSeq('xfer')), kind, debit, credit, amountMsat, at: this.now.toISOString(), meta };
    const stored: StoredTransfer = { ...transfer, amountMsat: amountMsat.toString() };
    this.staged.set(`xfer:${transfer.id}`, stored);
    // A supporter's history is an index of its transfers; other accounts need none.
    for (const account of [debit, credit]) {
      if (account.startsWith('supporter:')) this.staged.set(`hist:${account}:${transfer.id}`, 0);
    }
    return transfer;
  }

  emit(type: string, topics: string[], data: Record<string, unknown>): void {
    this.events.push({ type, topics, data });
  }
}

interface Idempotency {
  /** The key's namespace, e.g. the account that sent it. */
  scope: string;
  key: string;
  /** What the request was; the same key with another fingerprint is refused. */
  fingerprint: string;
}

export interface RunOptions {
  /** Written with fsync before the result is returned: for anything that acknowledges money. */
  sync?: boolean;
  idempotency?: Idempotency;
  /**
   * Keys (and `bal:<account>` balances) the operation will read: the writer fetches those of a
   * whole batch in one round trip before running it, instead of one awaited read at a time.
   */
  prefetch?: string[];
}

interface Queued {
  run: (tx: Tx) => Promise<unknown>;
  options: RunOptions;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

export interface LedgerOptions {
  /** Most operations committed in one batch. */
  batchSizeMax?: number;
  /** Most operations waiting; past that, callers get `overloaded`. */
  queueMax?: number;
  /** The clock, for tests. */
  now?: () => Date;
  /** Most committed values kept in memory for reads. */
  cacheMax?: number;
}

export class Ledger {
  readonly #db: Store;
  readonly #batchSizeMax: number;
  readonly #queueMax: number;
  readonly #now: () => Date;
  readonly #balances = new Map<string, bigint>();
  /**
   * Committed values of keys read before (or known to be absent): the writer is the only one that
   * writes, so it keeps them fresh at every commit. Bounded: the oldest go first.
   */
  readonly #cache = new Map<string, unknown>();
  readonly #cacheMax: number;
  /**
   * Counts committed batches. A read that started before a commit may return what that commit
   * replaced: it is then not cached, so the caches only ever hold what is on disk now.
   */
  #generation = 0;
  readonly #seqs = new Map<string, bigint>();
  readonly #listeners = new Set<(events: LedgerEvent[]) => void>();
  #queue: Queued[] = [];
  #draining: Promise<void> | undefined;
  #closed = false;
  /** Figures for benchmarks and logs. */
  readonly stats = { batches: 0, operations: 0 };

  private constructor(db: Store, options: LedgerOptions) {
    this.#db = db;
    this.#batchSizeMax = options.batchSizeMax ?? 2_000;
    this.#queueMax = options.queueMax ?? 100_000;
    this.#now = options.now ?? (() => new Date());
    this.#cacheMax = options.cacheMax ?? 200_000;
  }

  /** Opens the ledger on a store, checking that its balances sum to zero. */
  static async open(db: Store, options: LedgerOptions = {}): Promise<Ledger> {
    const ledger = new Ledger(db, options);
    for (const name of ['xfer', 'event']) {
      const last = await db.get(`seq:${name}`);
      ledger.#seqs.set(name, last === undefined ? 0n : BigInt(last as string));
    }
    const sum = await ledger.sumOfBalances();
    if (sum !== 0n) throw new Error(`ledger balances sum to ${sum} msat, not zero: refusing to start`);
    return ledger;
  }

  get db(): Store {
    return this.#db;
  }

  /** Runs `run` inside the writer; resolves once its batch is on disk. */
  run<T>(run: (tx: Tx) => Promise<T> | T, options: RunOptions = {}): Promise<T> {
    if (this.#closed) return Promise.reject(new Error('ledger is closed'));
    if (this.#queue.length >= this.#queueMax) return Promise.reject(new LedgerError('overloaded', 'too many operations waiting; try again shortly'));
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ run: async (tx) => run(tx), options, resolve: resolve as (v: unknown) => void, reject });
      this.#draining ??= this.#drain();
    });
  }

  async read<T>(key: string): Promise<T | undefined> {
    if (this.#cache.has(key)) {
      const cached = this.#cache.get(key);
      return cached === deleted ? undefined : (cached as T);
    }
    const generation = this.#generation;
    const value = await this.#db.get(key);
    if (generation === this.#generation) this.#remember(key, value === undefined ? deleted : value);
    return value as T | undefined;
  }

  #remember(key: string, value: unknown): void {
    if (this.#cache.size >= this.#cacheMax) {
      let evict = Math.ceil(this.#cacheMax / 10);
      for (const old of this.#cache.keys()) {
        this.#cache.delete(old);
        if (--evict === 0) break;
      }
    }
    this.#cache.set(key, value);
  }

  /** Balance as committed (never half an operation). */
  async balance(account: Account): Promise<bigint> {
    const cached = this.#balances.get(account);
    if (cached !== undefined) return cached;
    const generation = this.#generation;
    const stored = await this.#db.get(`bal:${account}`);
    const value = stored === undefined ? 0n : BigInt(stored as string);
    if (generation === this.#generation) this.#balances.set(account, value);
    return value;
  }

  nextSeq(name: 'xfer' | 'event'): bigint {
    const next = (this.#seqs.get(name) ?? 0n) + 1n;
    this.#seqs.set(name, next);
    return next;
  }

  /** An account's transfers, newest first, `limit` at a time; `before` is the last id seen. */
  async history(account: Account, limit: number, before?: string): Promise<Transfer[]> {
    const prefix = `hist:${account}:`;
    const keys = await this.#db.keys({ gt: prefix, lt: before ? `${prefix}${before}` : prefixEnd(prefix), reverse: true, limit }).all();
    const stored = await this.#db.getMany(keys.map((k) => `xfer:${k.slice(prefix.length)}`));
    return stored.map((s) => {
      const t = s as StoredTransfer;
      return { ...t, amountMsat: BigInt(t.amountMsat) };
    });
  }

  /** Committed balances summed by kind of account (supporter, escrow, pending, system). */
  async totalsByKind(): Promise<Record<'supporter' | 'escrow' | 'pending' | 'system', bigint>> {
    const totals = { supporter: 0n, escrow: 0n, pending: 0n, system: 0n };
    for await (const [key, value] of this.#db.iterator({ gt: 'bal:', lt: prefixEnd('bal:') })) {
      const kind = key.slice(4, key.indexOf(':', 4)) as keyof typeof totals;
      totals[kind] += BigInt(value as string);
    }
    return totals;
  }

  async sumOfBalances(): Promise<bigint> {
    return Object.values(await this.totalsByKind()).reduce((a, b) => a + b, 0n);
  }

  /** Events with seq > `after`, oldest first. */
  async eventsAfter(after: number, limit: number): Promise<LedgerEvent[]> {
    return (await this.#db.values({ gt: `evt:${pad(after)}`, lt: prefixEnd('evt:'), limit }).all()) as LedgerEvent[];
  }

  /** Called after each committed batch with the events it wrote. */
  onEvents(listener: (events: LedgerEvent[]) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Finishes what is queued, then refuses more. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#draining;
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const group = this.#queue.splice(0, this.#batchSizeMax);
        await this.#commit(group);
      }
    } finally {
      this.#draining = undefined;
    }
  }

  async #runOne(op: Queued, group: Staged, now: Date): Promise<{ tx: Tx; value: unknown }> {
    const tx = new Tx(this, group, now);
    const idem = op.options.idempotency;
    const idemKey = idem && `idem:${idem.scope}:${idem.key}`;
    if (idem && idemKey) {
      const seen = await tx.get<{ fingerprint: string; result: unknown }>(idemKey);
      if (seen) {
        if (seen.fingerprint !== idem.fingerprint) throw new LedgerError('idempotency_key_reused', 'this Idempotency-Key was used with another request');
        return { tx, value: seen.result };
      }
    }
    const value = await op.run(tx);
    if (idemKey) tx.put(idemKey, { fingerprint: idem.fingerprint, result: value, at: now.toISOString() });
    return { tx, value };
  }

  /** Brings the committed values of `keys` into memory in one read (inside the writer: no commit can interleave). */
  async #prefetch(keys: string[]): Promise<void> {
    const missing = [...new Set(keys)].filter((key) => (key.startsWith('bal:') ? !this.#balances.has(key.slice(4)) : !this.#cache.has(key)));
    if (missing.length === 0) return;
    const values = await this.#db.getMany(missing);
    missing.forEach((key, i) => {
      const value = values[i];
      if (key.startsWith('bal:')) this.#balances.set(key.slice(4), value === undefined ? 0n : BigInt(value as string));
      else this.#remember(key, value === undefined ? deleted : value);
    });
  }

  async #commit(group: Queued[]): Promise<void> {
    try {
      await this.#prefetch(group.flatMap((op) => op.options.prefetch ?? []));
    } catch (error) {
      // The store could not be read: nothing of this group ran.
      for (const op of group) op.reject(error);
      return;
    }
    const staged: Staged = new Map();
    const outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
    const pendingEvents: LedgerEvent[] = [];
    let sync = false;
    const now = this.#now();
    for (const op of group) {
      try {
        const { tx, value } = await this.#runOne(op, staged, now);
        for (const [key, value] of tx.staged) staged.set(key, value);
        for (const event of tx.events) {
          const seq = Number(this.nextSeq('event'));
          const full: LedgerEvent = { seq, at: now.toISOString(), ...event };
          staged.set(`evt:${pad(seq)}`, full);
          pendingEvents.push(full);
        }
        sync ||= op.options.sync === true;
        outcomes.push({ ok: true, value });
      } catch (error) {
        outcomes.push({ ok: false, error });
      }
    }
    if (staged.size > 0) {
      for (const [name, value] of this.#seqs) staged.set(`seq:${name}`, value.toString());
      try {
        const batch = this.#db.batch();
        for (const [key, value] of staged) {
          if (value === deleted) batch.del(key);
          else batch.put(key, value);
        }
        await batch.write({ sync });
      } catch (error) {
        // Nothing of this batch is on disk; the balance cache was not touched.
        for (const op of group) op.reject(error);
        return;
      }
      // In the same synchronous step as the generation moves on: see #generation.
      this.#generation += 1;
      for (const [key, value] of staged) {
        if (key.startsWith('bal:')) this.#balances.set(key.slice(4), BigInt(value as string));
        else if (this.#cache.has(key)) this.#cache.set(key, value);
      }
    }
    this.stats.batches += 1;
    this.stats.operations += group.length;
    group.forEach((op, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) op.resolve(outcome.value);
      else op.reject(outcome.error);
    });
    if (pendingEvents.length > 0) {
      for (const listener of this.#listeners) {
        try {
          listener(pendingEvents);
        } catch (err) {
          // A listener's failure is its own; the batch is committed and answered.
          queueMicrotask(() => {
            throw err;
          });
        }
      }
    }
  }
}
