// The ledger: the one place that writes tipd's store. Every change is an operation run by a single
// writer, in order; operations queued while a batch is written are run together and committed in
// one LevelDB batch (group commit), so throughput holds up under load and readers never see half
// an operation. Money moves only as double-entry transfers between accounts: all balances sum to
// zero, and no supporter, escrow or pending account ever goes below zero. An operation may carry
// an idempotency key: the same key again returns the first result and changes nothing.
import { Generations } from './generations.ts';
import { type Account, accounts, mayGoNegative } from './accounts.ts';
import { pad, prefixEnd } from './keys.ts';
import type { Store } from './store.ts';

export { type Account, accounts };

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

/** A transfer as stored (`hist:<supporter>:<id>` or `xfer:<id>`): a JSON array, the id being in the key. */
type StoredTransfer = [kind: string, debit: Account, credit: Account, amountMsat: string, at: string, meta?: Record<string, string>];
/**
 * Transfers of one operation with consecutive ids that touch one supporter (a close's allocation
 * shares), stored in that supporter's history as one value under the first one's id.
 */
type StoredRun = StoredTransfer[];
/** Most transfers in a run: a page of history reads at most this many more than it returns. */
const historyRunMax = 100;
/** Most records in a batch's run under one prefix (`Tx.appendToRun`). */
export const recordRunMax = 100;
const isRun = (stored: StoredTransfer | StoredRun): stored is StoredRun => Array.isArray(stored[0]);

const encodeTransfer = (t: Transfer): StoredTransfer =>
  t.meta === undefined ? [t.kind, t.debit, t.credit, t.amountMsat.toString(), t.at] : [t.kind, t.debit, t.credit, t.amountMsat.toString(), t.at, t.meta];

const decodeTransfer = (id: string, [kind, debit, credit, amountMsat, at, meta]: StoredTransfer): Transfer => ({
  id,
  kind,
  debit,
  credit,
  amountMsat: BigInt(amountMsat),
  at,
  meta,
});

export interface LedgerEvent {
  seq: number;
  type: string;
  at: string;
  /** Who may see it: `account:<id>` for a supporter, `handle:<key>` for anyone following a handle. */
  topics: string[];
  data: Record<string, unknown>;
}

const deleted = Symbol('deleted');
/**
 * What a batch changes that reads go through: values by key (or `deleted`), balances by account.
 * (Records written once, `Tx.append`, go straight into the batch's LevelDB batch.)
 */
interface Staged {
  values: Map<string, unknown>;
  balances: Map<string, bigint>;
}
const newStaged = (): Staged => ({ values: new Map(), balances: new Map() });
const isEmpty = ({ values, balances }: Staged) => values.size === 0 && balances.size === 0;
/**
 * Committed values and balances that a batch's callers read themselves (`RunOptions.known`): for
 * that batch only, rather than in the ledger's caches, as they are mostly read once.
 */
interface BatchReads {
  values: Map<string, unknown>;
  balances: Map<string, bigint>;
}
/**
 * A value and a balance are read ahead alike: a value by its key, a balance by its account (so
 * that the same account string is used throughout, its hash computed once).
 */
type Side = 'values' | 'balances';
const sides: readonly Side[] = ['values', 'balances'];
/** What reads find for what the store holds (undefined: absent) on each side. */
const fromStore: Record<Side, (stored: unknown) => unknown> = {
  values: (stored) => (stored === undefined ? deleted : stored),
  balances: (stored) => (stored === undefined ? 0n : BigInt(stored as string)),
};
/** Keys, and accounts whose balances, to read. */
type Wanted = Record<Side, Set<string>>;
const nothingWanted = (): Wanted => ({ values: new Set(), balances: new Set() });
/** A key neither staged nor cached: it must be read from the store. */
export const unread = Symbol('unread');
/** Undo entries of a key that was not staged before. */
const absent = Symbol('absent');

/**
 * What an operation sees and does. It writes into its batch's staged values, keeping what it
 * replaced so that an operation that fails leaves no trace; it reads through those, then through
 * the batch still being written (pipelined: see `Ledger.#drain`), then what is committed.
 */
export class Tx {
  readonly #ledger: Ledger;
  readonly #staged: Staged;
  readonly #writing: Staged | undefined;
  readonly #reads: BatchReads;
  /** Pairs of (key, what the batch had staged for it before), newest last. */
  readonly #undo: unknown[] = [];
  readonly #balanceUndo: unknown[] = [];
  /** Records this operation writes once (`append`), as key, value, …: into the batch if it succeeds. */
  readonly appends: unknown[] = [];
  /** Records this operation adds to its batch's runs (`appendToRun`), as prefix, id, record, …. */
  runItems: unknown[] | undefined;
  /**
   * The history entry this operation wrote last: its supporter, where it is in the appends, and the
   * id of its last transfer. Only a transfer that follows it can join it, so one is enough while a
   * transfer touches one supporter (a transfer between two supporters starts a new entry for the
   * debited one's next transfer: more keys, the same history).
   */
  #lastHistory: { account: Account; at: number; id: bigint } | undefined;
  /** Events emitted, numbered once the operation succeeds. */
  events: Omit<LedgerEvent, 'seq' | 'at'>[] | undefined;
  readonly now: Date;
  /** `now` as stored (ISO 8601), made once per batch. */
  readonly nowIso: string;

  constructor(ledger: Ledger, staged: Staged, writing: Staged | undefined, reads: BatchReads, now: Date, nowIso: string) {
    this.#ledger = ledger;
    this.#staged = staged;
    this.#writing = writing;
    this.#reads = reads;
    this.now = now;
    this.nowIso = nowIso;
  }

  async get<T>(key: string): Promise<T | undefined> {
    const known = this.known<T>(key);
    return known === unread ? this.#ledger.read<T>(key) : known;
  }

  /** The value of `key` if it is staged or cached, without waiting; `unread` if it must be read. */
  known<T>(key: string): T | undefined | typeof unread {
    let value = this.#staged.values.get(key);
    if (value === undefined && this.#writing) value = this.#writing.values.get(key);
    if (value === undefined) value = this.#reads.values.get(key);
    if (value !== undefined) return value === deleted ? undefined : (value as T);
    return this.#ledger.cached<T>(key);
  }

  put(key: string, value: unknown): void {
    if (value === undefined) throw new Error(`put of ${key}: undefined is not a value; use del`);
    this.#stage(key, value);
  }

  del(key: string): void {
    this.#stage(key, deleted);
  }

  /**
   * Writes a record under a key that is new and written once, and that nothing reads back
   * through the ledger in the meantime nor names to be read ahead (a transfer; it may be deleted
   * later): cheaper than `put`, and not cached: once the operation has succeeded it goes into
   * LevelDB's batch at once, so that it is not kept in memory until the batch is written. Written
   * before the batch's other changes.
   */
  append(key: string, value: unknown): void {
    this.appends.push(key, value);
  }

  /**
   * Adds `record` to the run of records this batch writes under `prefix`: the records of one batch
   * under one prefix (say, a handle's escrow lots) are stored as one value, `[the batch's time,
   * ...records]`, under `prefix` + the `id` of the first, at most `recordRunMax` to a run. Ids
   * must be new and grow (as strings) within the batch: a batch where they do not fails whole.
   * Otherwise like `append`: new keys, not read back through the ledger in the meantime, taken
   * into the batch only once the operation has succeeded.
   */
  appendToRun(prefix: string, id: string, record: unknown): void {
    (this.runItems ??= []).push(prefix, id, record);
  }

  #stage(key: string, value: unknown): void {
    const values = this.#staged.values;
    const before = values.get(key);
    this.#undo.push(key, before === undefined ? absent : before);
    values.set(key, value);
  }

  async balance(account: Account): Promise<bigint> {
    return this.knownBalance(account) ?? this.#ledger.balance(account);
  }

  /** The balance of `account` as this operation sees it, if it is in memory (read ahead). */
  knownBalance(account: Account): bigint | undefined {
    return (
      this.#staged.balances.get(account) ?? this.#writing?.balances.get(account) ?? this.#reads.balances.get(account) ?? this.#ledger.cachedBalance(account)
    );
  }

  #setBalance(account: Account, value: bigint): void {
    const balances = this.#staged.balances;
    const before = balances.get(account);
    this.#balanceUndo.push(account, before === undefined ? absent : before);
    balances.set(account, value);
  }

  /** Moves `amountMsat` from `debit` to `credit`; refuses to take a guarded account below zero. */
  async transfer(kind: string, debit: Account, credit: Account, amountMsat: bigint, meta?: Record<string, string>): Promise<Transfer> {
    const from = this.knownBalance(debit) ?? (await this.#ledger.balance(debit));
    const to = this.knownBalance(credit) ?? (await this.#ledger.balance(credit));
    return this.transferKnown(kind, debit, credit, amountMsat, meta, from, to);
  }

  /** `transfer` when both balances are in memory (read ahead): no waiting. */
  transferKnown(
    kind: string,
    debit: Account,
    credit: Account,
    amountMsat: bigint,
    meta: Record<string, string> | undefined,
    from = this.knownBalance(debit),
    to = this.knownBalance(credit),
  ): Transfer {
    if (amountMsat <= 0n) throw new Error(`transfer of ${amountMsat} msat: amounts must be positive`);
    if (debit === credit) throw new Error(`transfer from ${debit} to itself`);
    if (from === undefined || to === undefined) throw new Error(`transferKnown: the balances of ${debit} and ${credit} were not read ahead`);
    if (from < amountMsat && !mayGoNegative(debit)) {
      throw new LedgerError('insufficient_balance', `${debit} holds ${from} msat, ${amountMsat} msat needed`);
    }
    this.#setBalance(debit, from - amountMsat);
    this.#setBalance(credit, to + amountMsat);
    const seq = this.#ledger.nextSeq('xfer');
    const transfer: Transfer = { id: pad(seq), kind, debit, credit, amountMsat, at: this.nowIso, meta };
    // A transfer is stored in the history of each supporter it touches (read newest first); one
    // between other accounts only (system, pending) under its id.
    const stored = encodeTransfer(transfer);
    const debitIsSupporter = debit.startsWith('supporter:');
    const creditIsSupporter = credit.startsWith('supporter:');
    if (debitIsSupporter) this.#appendHistory(debit, seq, transfer.id, stored);
    if (creditIsSupporter) this.#appendHistory(credit, seq, transfer.id, stored);
    if (!debitIsSupporter && !creditIsSupporter) this.append(`xfer:${transfer.id}`, stored);
    return transfer;
  }

  /**
   * Adds a transfer to a supporter's history: to the run this operation wrote just before it for
   * that supporter (`StoredRun`) if it follows it, else under its own id. Runs stay within one
   * operation: a rollback drops them with the rest of its appends.
   */
  #appendHistory(account: Account, seq: bigint, id: string, stored: StoredTransfer): void {
    const appends = this.appends;
    const last = this.#lastHistory;
    if (last && last.account === account && last.id === seq - 1n) {
      const value = appends[last.at + 1] as StoredTransfer | StoredRun;
      if (!isRun(value) || value.length < historyRunMax) {
        if (isRun(value)) value.push(stored);
        else appends[last.at + 1] = [value, stored];
        last.id = seq;
        return;
      }
    }
    this.#lastHistory = { account, at: appends.length, id: seq };
    this.append(`hist:${account}:${id}`, stored);
  }

  emit(type: string, topics: string[], data: Record<string, unknown>): void {
    (this.events ??= []).push({ type, topics, data });
  }

  /** Takes back everything this operation staged (it failed). */
  rollback(): void {
    const { values, balances } = this.#staged;
    this.appends.length = 0;
    this.runItems = undefined;
    for (let i = this.#undo.length - 2; i >= 0; i -= 2) {
      const before = this.#undo[i + 1];
      if (before === absent) values.delete(this.#undo[i] as string);
      else values.set(this.#undo[i] as string, before);
    }
    for (let i = this.#balanceUndo.length - 2; i >= 0; i -= 2) {
      const before = this.#balanceUndo[i + 1];
      if (before === absent) balances.delete(this.#balanceUndo[i] as string);
      else balances.set(this.#balanceUndo[i] as string, before as bigint);
    }
    this.events = undefined;
  }
}

interface Idempotency {
  /** The key's namespace, e.g. the account that sent it. */
  scope: string;
  key: string;
  /** What the request was; the same key with another fingerprint is refused. */
  fingerprint: string;
}

const idempotencyKey = (idem: Idempotency) => `idem:${idem.scope}:${idem.key}`;

interface StoredIdempotency {
  fingerprint: string;
  result: unknown;
  at: string;
}

export interface RunOptions {
  /** Written with fsync before the result is returned: for anything that acknowledges money. */
  sync?: boolean;
  idempotency?: Idempotency;
  /**
   * Keys the operation will read: the writer fetches those of a whole batch in one round trip
   * before running it, instead of one awaited read at a time.
   */
  prefetch?: string[];
  /** Accounts whose balances the operation will read: fetched as `prefetch` is. */
  balances?: Account[];
  /**
   * Values of some of those keys and balances that the caller read from the store itself (see
   * `Known`): used instead of reading them again, unless a batch committed since may have changed
   * them.
   */
  known?: Known;
}

/**
 * Values read from the store (undefined: absent) while the ledger was at `generation`, e.g. by
 * one range read for many operations: by key, and balances (as stored) by account.
 */
export interface Known {
  generation: number;
  values: Map<string, unknown>;
  balances?: Map<string, unknown>;
}

interface Queued {
  run: (tx: Tx) => Promise<unknown> | unknown;
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
  /** Most committed values, and most balances, kept in memory for reads. */
  cacheMax?: number;
}

/** Committed batches remembered to check values read ahead against. */
const recentMax = 8;

/** A read, started early, of what a group of operations will read. */
interface ReadAhead {
  /** The first operation of the group. */
  first: Queued;
  /** When the read began. */
  generation: number;
  /** What the store holds (undefined: absent) by key and by account, or undefined if the read failed. */
  read: Promise<Record<Side, Map<string, unknown>> | undefined>;
}

/** Keys one operation may name to be read ahead (a close names a supporter's flattrs: at most a few thousand). */
const prefetchKeysMax = 50_000;

/** Keys (or accounts) an operation names to be read ahead. */
function keysOf({ options }: Queued, side: Side): readonly string[] {
  if (side === 'balances') return options.balances ?? [];
  if (!options.idempotency) return options.prefetch ?? [];
  return [...(options.prefetch ?? []), idempotencyKey(options.idempotency)];
}

/** Most events stored under one key. */
const eventsPerKeyMax = 256;

/** A batch run and staged, being written or about to be. */
interface Prepared {
  group: Queued[];
  staged: Staged;
  outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[];
  events: LedgerEvent[];
  sync: boolean;
  /** The sequence numbers once this batch is on disk. */
  seqs: Map<string, bigint>;
  /** LevelDB's batch, once an operation appended to it (see `Tx.append`). */
  batch?: Batch;
  /** The run being filled under each prefix (`Tx.appendToRun`), written with the batch. */
  runs?: Map<string, { key: string; lastId: string; records: unknown[] }>;
  /** Why the batch cannot be written (an append that could not be encoded): all of it fails. */
  failure?: unknown;
}

type Batch = ReturnType<Store['batch']>;

/** A batch whose write has started: `written` settles with its outcome, and never rejects. */
interface Writing extends Prepared {
  written: Promise<{ ok: true } | { ok: false; error: unknown }>;
}

export class Ledger {
  readonly #db: Store;
  readonly #batchSizeMax: number;
  readonly #queueMax: number;
  readonly #now: () => Date;
  /**
   * Committed balances (by account) and values (by key; `deleted` if known to be absent) read or
   * written before, a bounded number of each: the writer is the only one that writes, so it keeps
   * them fresh at every commit.
   */
  readonly #balances: Generations<bigint>;
  readonly #cache: Generations<unknown>;
  /** Both, by side. */
  readonly #caches: { values: Generations<unknown>; balances: Generations<bigint> };
  /**
   * Counts committed batches. A read that started before a commit may return what that commit
   * replaced: it is then not cached (see #current), so the caches only ever hold what is on disk
   * now.
   */
  #generation = 0;
  /** What the last few committed batches wrote, by generation: to check values read ahead. */
  readonly #recent: { generation: number; staged: Staged }[] = [];
  /** Sequence numbers handed out (`#seqs`) and those of the last batch on disk. */
  #seqs = new Map<string, bigint>();
  #committedSeqs = new Map<string, bigint>();
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
    this.#balances = new Generations(options.cacheMax ?? 100_000);
    this.#cache = new Generations(options.cacheMax ?? 100_000);
    this.#caches = { values: this.#cache, balances: this.#balances };
  }

  /** Opens the ledger on a store, checking that its balances sum to zero. */
  static async open(db: Store, options: LedgerOptions = {}): Promise<Ledger> {
    await checkFormat(db);
    const ledger = new Ledger(db, options);
    for (const name of ['xfer', 'event']) {
      const last = await db.get(`seq:${name}`);
      ledger.#seqs.set(name, last === undefined ? 0n : BigInt(last as string));
    }
    ledger.#committedSeqs = new Map(ledger.#seqs);
    const sum = await ledger.sumOfBalances();
    if (sum !== 0n) throw new Error(`ledger balances sum to ${sum} msat, not zero: refusing to start`);
    return ledger;
  }

  get db(): Store {
    return this.#db;
  }

  /** Counts committed batches: what is read from the store at one is valid until the next. */
  get generation(): number {
    return this.#generation;
  }

  /** Runs `run` inside the writer; resolves once its batch is on disk. */
  run<T>(run: (tx: Tx) => Promise<T> | T, options: RunOptions = {}): Promise<T> {
    if (this.#closed) return Promise.reject(new Error('ledger is closed'));
    if ((options.prefetch?.length ?? 0) + (options.balances?.length ?? 0) > prefetchKeysMax)
      return Promise.reject(new Error(`an operation may name at most ${prefetchKeysMax} keys and balances to read ahead`));
    // Read ahead as a value, a balance would be kept where balance writes never update it.
    if (options.prefetch?.some((key) => key.startsWith('bal:')))
      return Promise.reject(new Error('name balances to read ahead by account (RunOptions.balances), not as bal: keys'));
    if (this.#queue.length >= this.#queueMax) return Promise.reject(new LedgerError('overloaded', 'too many operations waiting; try again shortly'));
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ run, options, resolve: resolve as (v: unknown) => void, reject });
      this.#draining ??= this.#drain();
    });
  }

  async read<T>(key: string): Promise<T | undefined> {
    const cached = this.cached<T>(key);
    if (cached !== unread) return cached;
    const generation = this.#generation;
    const value = await this.#db.get(key);
    // A key found absent may have been appended since (appends are not tracked by #current).
    if (value === undefined ? generation === this.#generation : this.#current('values', key, generation))
      this.#cache.set(key, value === undefined ? deleted : value);
    return value as T | undefined;
  }

  /** The committed value of `key` if it is in memory; `unread` if not. */
  cached<T>(key: string): T | undefined | typeof unread {
    const cached = this.#cache.get(key);
    if (cached === undefined) return unread;
    return cached === deleted ? undefined : (cached as T);
  }

  /** Balance as committed (never half an operation). */
  async balance(account: Account): Promise<bigint> {
    const cached = this.#balances.get(account);
    if (cached !== undefined) return cached;
    const generation = this.#generation;
    const stored = await this.#db.get(`bal:${account}`);
    const value = stored === undefined ? 0n : BigInt(stored as string);
    if (this.#current('balances', account, generation)) this.#balances.set(account, value);
    return value;
  }

  /** The committed balance of `account` if it is in memory. */
  cachedBalance(account: Account): bigint | undefined {
    return this.#balances.get(account);
  }

  nextSeq(name: 'xfer' | 'event'): bigint {
    const next = (this.#seqs.get(name) ?? 0n) + 1n;
    this.#seqs.set(name, next);
    return next;
  }

  /** A supporter's transfers, newest first, `limit` at a time; `before` is the last id seen. */
  async history(account: Account, limit: number, before?: string): Promise<Transfer[]> {
    const prefix = `hist:${account}:`;
    const transfers: Transfer[] = [];
    // A run is keyed by its first id: every run with a transfer before `before` is in the range,
    // and at most `limit` keys hold `limit` transfers.
    const entries = await this.#db.iterator({ gt: prefix, lt: before ? `${prefix}${before}` : prefixEnd(prefix), reverse: true, limit }).all();
    for (const [key, value] of entries) {
      const stored = value as StoredTransfer | StoredRun;
      const id = key.slice(prefix.length);
      if (!isRun(stored)) {
        transfers.push(decodeTransfer(id, stored));
      } else {
        const first = BigInt(id);
        for (let i = stored.length - 1; i >= 0; i--) {
          const runId = pad(first + BigInt(i));
          if (before === undefined || runId < before) transfers.push(decodeTransfer(runId, stored[i]!));
        }
      }
      if (transfers.length >= limit) break;
    }
    return transfers.slice(0, limit);
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

  /**
   * Events with seq > `after`, oldest first, at most `limit`. They are stored in runs of a batch's
   * events (`evt:<seq of the last one>`: an array of at most `eventsPerKeyMax`), so the first run
   * read may start before `after`.
   */
  async eventsAfter(after: number, limit: number): Promise<LedgerEvent[]> {
    const events: LedgerEvent[] = [];
    for await (const run of this.#db.values({ gt: `evt:${pad(after)}`, lt: prefixEnd('evt:') })) {
      for (const event of run as LedgerEvent[]) {
        if (event.seq <= after) continue;
        if (events.length >= limit) return events;
        events.push(event);
      }
      if (events.length >= limit) return events;
    }
    return events;
  }

  /** Keys of stored events all older than `before` (oldest first, at most `limit` keys): for pruning. */
  async eventKeysBefore(before: Date, limit: number): Promise<string[]> {
    const keys: string[] = [];
    for await (const [key, run] of this.#db.iterator({ gt: 'evt:', lt: prefixEnd('evt:'), limit })) {
      // The events of a run are of one batch: one time.
      if (Date.parse((run as LedgerEvent[])[0]!.at) >= before.getTime()) break;
      keys.push(key);
    }
    return keys;
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

  /**
   * The writer, pipelined: while batch N is being written (and fsynced), batch N+1 is run,
   * reading through N's staged values. N+1 is written only once N is on disk; if N's write fails,
   * N+1 (which may have read what N staged) fails too, unwritten. Caches and listeners learn of a
   * batch only once it is on disk.
   */
  async #drain(): Promise<void> {
    let writing: Writing | undefined;
    let readAhead: ReadAhead | undefined;
    let group: Queued[] = [];
    let next: Prepared | undefined;
    try {
      while (this.#queue.length > 0 || writing) {
        next = undefined;
        if (this.#queue.length > 0) {
          group = this.#queue.splice(0, this.#batchSizeMax);
          const ahead = readAhead?.first === group[0] ? readAhead : undefined;
          // What the group after this one reads is read meanwhile, by LevelDB's threads.
          readAhead = this.#queue.length > 0 ? this.#readAhead(this.#queue.slice(0, this.#batchSizeMax), writing?.staged) : undefined;
          next = await this.#prepare(group, writing?.staged, ahead);
          group = [];
        }
        if (writing) {
          // A batch on disk was answered at once (see #write); one that failed takes the next down.
          const outcome = await writing.written;
          if (!outcome.ok) {
            this.#failed(writing, outcome.error);
            if (next) this.#failed(next, new Error('an earlier batch this one depends on could not be written', { cause: outcome.error }));
            next = undefined;
          }
          writing = undefined;
        }
        if (next) writing = this.#write(next);
        next = undefined;
      }
    } catch (error) {
      // A bug of the writer itself: every caller it holds gets the error rather than waiting
      // forever, and the error goes on, loudly (an unhandled rejection ends the process).
      const outcome = await writing?.written;
      if (writing && outcome && !outcome.ok) this.#failed(writing, outcome.error);
      if (next) this.#failed(next, error);
      this.#failed({ group: [...group, ...this.#queue.splice(0)] }, error);
      throw error;
    } finally {
      this.#draining = undefined;
    }
  }

  /** Runs one operation: its result, or a promise of it if it had to wait (for a read). */
  #runOne(tx: Tx, op: Queued, nowIso: string): unknown {
    const idem = op.options.idempotency;
    if (!idem) return op.run(tx);
    const idemKey = idempotencyKey(idem);
    const seen = tx.known<StoredIdempotency>(idemKey);
    if (seen === unread) return tx.get<StoredIdempotency>(idemKey).then((read) => this.#runOnce(tx, op, idem, idemKey, read, nowIso));
    return this.#runOnce(tx, op, idem, idemKey, seen, nowIso);
  }

  #runOnce(tx: Tx, op: Queued, idem: Idempotency, idemKey: string, seen: StoredIdempotency | undefined, nowIso: string): unknown {
    if (seen) {
      if (seen.fingerprint !== idem.fingerprint) throw new LedgerError('idempotency_key_reused', 'this Idempotency-Key was used with another request');
      return seen.result;
    }
    const keepResult = (value: unknown) => {
      tx.put(idemKey, { fingerprint: idem.fingerprint, result: value, at: nowIso } satisfies StoredIdempotency);
      return value;
    };
    const value = op.run(tx);
    return value instanceof Promise ? value.then(keepResult) : keepResult(value);
  }

  /**
   * Brings the committed values of what a group reads into memory in one read. Keys the batch
   * being written stages are skipped: they are read through it. Any other key is not changed by
   * that write, so what is read is what is on disk, whenever the write lands. Values read before
   * (ahead, or by the caller) are taken if no batch committed since has changed them.
   */
  async #prefetch(group: Queued[], writing: Staged | undefined, ahead: ReadAhead | undefined, reads: BatchReads): Promise<void> {
    const read = ahead && (await ahead.read);
    const missing = nothingWanted();
    for (const side of sides) {
      const into: Map<string, unknown> = reads[side];
      const cache: Generations<unknown> = this.#caches[side];
      for (const op of group) {
        const { known } = op.options;
        const knownValues = known?.[side];
        for (const key of keysOf(op, side)) {
          // What the caller read is kept for this batch only, and is what the store holds unless
          // the batch being written changes it (reads look there first); what the ledger read
          // ahead goes to its caches, if they do not have it already.
          if (knownValues && this.#stillValid(side, key, knownValues, known!.generation)) into.set(key, fromStore[side](knownValues.get(key)));
          else if (this.#inMemory(side, key, writing)) continue;
          else if (read && this.#stillValid(side, key, read[side], ahead!.generation)) cache.set(key, fromStore[side](read[side].get(key)));
          else missing[side].add(key);
        }
      }
    }
    if (missing.values.size + missing.balances.size === 0) return;
    const found = await this.#readStored(missing);
    for (const side of sides) {
      const cache: Generations<unknown> = this.#caches[side];
      for (const [key, stored] of found[side]) cache.set(key, fromStore[side](stored));
    }
  }

  /** What the store holds (undefined: absent) for `wanted`, in one read. */
  async #readStored(wanted: Wanted): Promise<Record<Side, Map<string, unknown>>> {
    const keys = [...wanted.values];
    const accounts = [...wanted.balances];
    const stored = await this.#db.getMany([...keys, ...accounts.map((account) => `bal:${account}`)]);
    return { values: new Map(keys.map((key, i) => [key, stored[i]])), balances: new Map(accounts.map((account, i) => [account, stored[keys.length + i]])) };
  }

  /** Whether `values`, read at `generation`, has `key` and no batch committed since has changed it. */
  #stillValid(side: Side, key: string, values: Map<string, unknown>, generation: number): boolean {
    return values.has(key) && this.#current(side, key, generation);
  }

  /**
   * Whether what the store held for `key` (a value's key, or an account's balance) at `generation`
   * is still what is committed: no batch committed since changed it, as far as the last few
   * commits tell. Under load batches commit every few milliseconds, so a read rarely ends in the
   * generation it began.
   */
  #current(side: Side, key: string, generation: number): boolean {
    return this.#generation - generation <= this.#recent.length && this.#unchangedSince(side, key, generation);
  }

  /** Whether the committed (or `writing`) value of `key` (or balance of an account) is in memory. */
  #inMemory(side: Side, key: string, writing: Staged | undefined): boolean {
    return this.#caches[side].has(key) || writing?.[side].has(key) === true;
  }

  /**
   * Starts reading what `ops` will read, while the writer runs the group before them. A value read
   * so is used only if no batch committed since the read began has changed it (see #prefetch).
   */
  #readAhead(ops: Queued[], writing: Staged | undefined): ReadAhead | undefined {
    const missing = nothingWanted();
    for (const side of sides) {
      for (const op of ops) {
        const known = op.options.known?.[side];
        for (const key of keysOf(op, side)) if (!known?.has(key) && !this.#inMemory(side, key, writing)) missing[side].add(key);
      }
    }
    if (missing.values.size + missing.balances.size === 0) return undefined;
    // The group reads again for itself, and fails then if the store cannot be read.
    const read = this.#readStored(missing).catch(() => undefined);
    return { first: ops[0]!, generation: this.#generation, read };
  }

  /** Whether no batch committed after `generation` wrote `key` (a value's key, or an account's balance). */
  #unchangedSince(side: Side, key: string, generation: number): boolean {
    // Newest first: only the commits after `generation`.
    for (let i = this.#recent.length - 1; i >= 0 && this.#recent[i]!.generation > generation; i--) {
      if (this.#recent[i]!.staged[side].has(key)) return false;
    }
    return true;
  }

  /** Runs a group of operations against what is committed plus `writing` (a batch on its way to disk). */
  async #prepare(group: Queued[], writing: Staged | undefined, ahead: ReadAhead | undefined): Promise<Prepared> {
    const staged = newStaged();
    const outcomes: Prepared['outcomes'] = [];
    const events: LedgerEvent[] = [];
    const prepared: Prepared = { group, staged, outcomes, events, sync: false, seqs: this.#seqs };
    const reads: BatchReads = { values: new Map(), balances: new Map() };
    try {
      await this.#prefetch(group, writing, ahead, reads);
    } catch (error) {
      // The store could not be read: nothing of this group runs.
      for (const op of group) outcomes.push({ ok: false, error });
      return prepared;
    }
    const now = this.#now();
    const nowIso = now.toISOString();
    for (const op of group) {
      const tx = new Tx(this, staged, writing, reads, now, nowIso);
      try {
        let value = this.#runOne(tx, op, nowIso);
        if (value instanceof Promise) value = await value;
        for (const event of tx.events ?? []) {
          const seq = Number(this.nextSeq('event'));
          events.push({ seq, type: event.type, at: nowIso, topics: event.topics, data: event.data });
        }
        prepared.sync ||= op.options.sync === true;
        outcomes.push({ ok: true, value });
        if (tx.appends.length > 0) this.#appendToBatch(prepared, tx.appends);
        if (tx.runItems) this.#addToRuns(prepared, tx.runItems, nowIso);
      } catch (error) {
        tx.rollback();
        outcomes.push({ ok: false, error });
      }
    }
    prepared.seqs = new Map(this.#seqs);
    return prepared;
  }

  /** Puts a succeeded operation's appends into the batch's LevelDB batch. */
  #appendToBatch(prepared: Prepared, appends: unknown[]): void {
    if (prepared.failure !== undefined) return;
    try {
      const batch = (prepared.batch ??= this.#db.batch());
      for (let i = 0; i < appends.length; i += 2) batch.put(appends[i] as string, appends[i + 1]);
    } catch (error) {
      // E.g. a value that cannot be encoded: nothing of this batch will be written.
      prepared.failure = error;
    }
  }

  /** Adds a succeeded operation's run records to the batch's runs; a full run goes into the batch. */
  #addToRuns(prepared: Prepared, items: unknown[], nowIso: string): void {
    const runs = (prepared.runs ??= new Map());
    for (let i = 0; i < items.length; i += 3) {
      const prefix = items[i] as string;
      const id = items[i + 1] as string;
      let run = runs.get(prefix);
      // A key written twice would lose the first run: a bug, and nothing of the batch is written.
      if (run && id <= run.lastId) prepared.failure ??= new Error(`appendToRun under ${prefix}: id ${id} after ${run.lastId}; ids must grow`);
      if (!run || run.records.length > recordRunMax) {
        if (run) this.#appendToBatch(prepared, [run.key, run.records]);
        run = { key: `${prefix}${id}`, lastId: id, records: [nowIso] };
        runs.set(prefix, run);
      }
      run.lastId = id;
      run.records.push(items[i + 2]);
    }
  }

  /**
   * Starts writing a prepared batch (if it changes anything) in one LevelDB batch; once it is on
   * disk it is committed at once, even while the writer runs the next group, so that its callers
   * are not kept waiting.
   */
  #write(prepared: Prepared): Writing {
    const writing = this.#startWrite(prepared);
    // Registered first: runs before the writer's own wait for this write ends.
    void writing.written.then((outcome) => {
      if (outcome.ok) this.#committed(prepared);
    });
    return writing;
  }

  #startWrite(prepared: Prepared): Writing {
    const { values, balances } = prepared.staged;
    if (prepared.runs) {
      prepared.runs.forEach((run) => this.#appendToBatch(prepared, [run.key, run.records]));
      prepared.runs = undefined;
    }
    if (isEmpty(prepared.staged) && prepared.events.length === 0 && !prepared.batch && prepared.failure === undefined)
      return { ...prepared, written: Promise.resolve({ ok: true }) };
    for (const [name, value] of prepared.seqs) values.set(`seq:${name}`, value.toString());
    let written: Writing['written'];
    try {
      if (prepared.failure !== undefined) throw prepared.failure;
      // What operations appended is in the batch already: first, so that a record appended and
      // deleted in the same batch stays deleted.
      const batch = (prepared.batch ??= this.#db.batch());
      balances.forEach((value, account) => batch.put(`bal:${account}`, value.toString()));
      values.forEach((value, key) => {
        if (value === deleted) batch.del(key);
        else batch.put(key, value);
      });
      const { events } = prepared;
      for (let from = 0; from < events.length; from += eventsPerKeyMax) {
        const run = events.slice(from, from + eventsPerKeyMax);
        batch.put(`evt:${pad(run.at(-1)!.seq)}`, run);
      }
      written = batch.write({ sync: prepared.sync }).then(
        () => ({ ok: true as const }),
        (error: unknown) => ({ ok: false as const, error }),
      );
    } catch (error) {
      // E.g. a value that cannot be encoded, or a store that is not open: nothing of this batch
      // is written.
      prepared.batch?.close().catch(() => {});
      written = Promise.resolve({ ok: false, error });
    }
    return { ...prepared, written };
  }

  /** A batch is on disk: the caches learn its values, its callers their results, listeners its events. */
  #committed(batch: Prepared): void {
    const { values, balances } = batch.staged;
    if (!isEmpty(batch.staged) || batch.events.length > 0 || batch.batch) {
      // In the same synchronous step as the generation moves on: see #generation.
      this.#generation += 1;
      this.#recent.push({ generation: this.#generation, staged: batch.staged });
      if (this.#recent.length > recentMax) this.#recent.shift();
      this.#committedSeqs = batch.seqs;
      balances.forEach((value, account) => this.#balances.set(account, value));
      values.forEach((value, key) => this.#cache.update(key, value));
    }
    this.stats.batches += 1;
    this.stats.operations += batch.group.length;
    batch.group.forEach((op, i) => {
      const outcome = batch.outcomes[i]!;
      if (outcome.ok) op.resolve(outcome.value);
      else op.reject(outcome.error);
    });
    if (batch.events.length > 0) {
      for (const listener of this.#listeners) {
        try {
          listener(batch.events);
        } catch (err) {
          // A listener's failure is its own; the batch is committed and answered.
          queueMicrotask(() => {
            throw err;
          });
        }
      }
    }
  }

  /** A batch is not on disk: every operation of it fails, and numbering goes on from what is. */
  #failed({ group, batch }: { group: Queued[]; batch?: Batch | undefined }, error: unknown): void {
    this.#seqs = new Map(this.#committedSeqs);
    for (const op of group) op.reject(error);
    // A LevelDB batch never written (a write closes its own).
    batch?.close().catch(() => {});
  }
}

/**
 * What the stored keys mean changes with tipd's versions: `meta:format` says which layout a store
 * has. A new store gets the current one; a store of format 2, 3 or 4 is marked 5 at once (3 added
 * history runs, 4 runs of escrow lots, 5 events stored once for a supporter and a handle's
 * followers; what the older formats wrote is read as it is, so there is nothing to rewrite, but a
 * tipd that reads only an older one must no longer open it); a store of another layout is refused
 * rather than read wrong.
 */
export const storeFormat = 5;
/** Formats this tipd opens as they are (and marks with `storeFormat`). */
const upgradableFormats: unknown[] = [2, 3, 4];

export class StoreFormatError extends Error {}

async function checkFormat(db: Store): Promise<void> {
  const format = await db.get('meta:format');
  if (format === storeFormat) return;
  if (upgradableFormats.includes(format)) return db.put('meta:format', storeFormat, { sync: true });
  if (format === undefined) {
    const [anyKey] = await db.keys({ limit: 1 }).all();
    if (anyKey === undefined) return db.put('meta:format', storeFormat, { sync: true });
  }
  throw new StoreFormatError(
    `the data folder was written by ${format === undefined ? 'a tipd older than 0.2 (format 1)' : `another tipd version (format ${String(format)})`}; this tipd reads format ${storeFormat} and has no migration for it: keep that folder for the tipd that wrote it, or start this one on a new TIPD_DATA_DIR`,
  );
}
