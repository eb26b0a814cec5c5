// What one operation sees and does (`Tx`), and what it may ask of the writer (`RunOptions`). It
// writes into its batch's staged changes, keeping what it replaced so that an operation that fails
// leaves no trace; it reads through those, then through the batch still being written (pipelined:
// see writer.ts), then what is committed (committed.ts).
import type { EventData, EventType, TipdEvent, Topic } from '../events/types.ts';
import { type Account, refuseOverdraft, transferViolation } from './accounts.ts';
import { InvariantViolation } from './invariants.ts';
import { keys, pad } from './keys.ts';
import { encodeTransfer, historyRunMax, isRun, type StoredRun, type StoredTransfer, type Transfer } from './stored.ts';

/** A key known to be absent (staged as deleted, or cached so). */
export const deleted = Symbol('deleted');
/** A key neither staged nor cached: it must be read from the store. */
export const unread = Symbol('unread');
/** Undo entries of a key that was not staged before. */
const absent = Symbol('absent');

/**
 * What a batch changes that reads go through: values by key (or `deleted`), balances by account;
 * and the balance each account had before the batch first changed it, to check the batch's sum.
 * (Records written once, `Tx.append`, go straight into the batch's LevelDB batch.)
 */
export interface Staged {
  values: Map<string, unknown>;
  balances: Map<string, bigint>;
  balancesBefore: Map<string, bigint>;
}
export const newStaged = (): Staged => ({ values: new Map(), balances: new Map(), balancesBefore: new Map() });
export const isEmpty = ({ values, balances }: Staged) => values.size === 0 && balances.size === 0;

/**
 * Committed values and balances that a batch's callers read themselves (`RunOptions.known`): for
 * that batch only, rather than in the ledger's caches, as they are mostly read once.
 */
export interface BatchReads {
  values: Map<string, unknown>;
  balances: Map<string, bigint>;
}

/** What is committed, as an operation reads it beneath its batch (committed.ts). */
export interface CommittedReads {
  read<T>(key: string): Promise<T | undefined>;
  cached<T>(key: string): T | undefined | typeof unread;
  balance(account: Account): Promise<bigint>;
  cachedBalance(account: Account): bigint | undefined;
}

export type SequenceName = 'xfer' | 'event';

/** What the operations of one batch share. */
export interface BatchContext {
  committed: CommittedReads;
  sequences: { next(name: SequenceName): bigint };
  staged: Staged;
  /** The batch being written meanwhile, if any. */
  writing: Staged | undefined;
  reads: BatchReads;
  now: Date;
  /** `now` as stored (ISO 8601), made once per batch. */
  nowIso: string;
}

export interface Idempotency {
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

/** An event as an operation emits it: numbered and timed once the operation succeeds. */
export type EmittedEvent = TipdEvent & { topics: Topic[] };

export class Tx {
  readonly #committed: CommittedReads;
  readonly #sequences: BatchContext['sequences'];
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
  events: EmittedEvent[] | undefined;
  /** A money rule this operation broke, even if it caught the error: its batch is not written. */
  violation: InvariantViolation | undefined;
  readonly now: Date;
  /** `now` as stored (ISO 8601), made once per batch. */
  readonly nowIso: string;

  constructor(batch: BatchContext) {
    this.#committed = batch.committed;
    this.#sequences = batch.sequences;
    this.#staged = batch.staged;
    this.#writing = batch.writing;
    this.#reads = batch.reads;
    this.now = batch.now;
    this.nowIso = batch.nowIso;
  }

  async get<T>(key: string): Promise<T | undefined> {
    const known = this.known<T>(key);
    return known === unread ? this.#committed.read<T>(key) : known;
  }

  /** The value of `key` if it is staged or cached, without waiting; `unread` if it must be read. */
  known<T>(key: string): T | undefined | typeof unread {
    let value = this.#staged.values.get(key);
    if (value === undefined && this.#writing) value = this.#writing.values.get(key);
    if (value === undefined) value = this.#reads.values.get(key);
    if (value !== undefined) return value === deleted ? undefined : (value as T);
    return this.#committed.cached<T>(key);
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
    return this.knownBalance(account) ?? this.#committed.balance(account);
  }

  /** The balance of `account` as this operation sees it, if it is in memory (read ahead). */
  knownBalance(account: Account): bigint | undefined {
    return this.#staged.balances.get(account) ?? this.#beneathBatch(account);
  }

  /** The balance of `account` before this batch, if it is in memory. */
  #beneathBatch(account: Account): bigint | undefined {
    return this.#writing?.balances.get(account) ?? this.#reads.balances.get(account) ?? this.#committed.cachedBalance(account);
  }

  /** Stages `account` at `value`, `previous` being what this operation took it to hold. */
  #setBalance(account: Account, value: bigint, previous: bigint): void {
    const { balances, balancesBefore } = this.#staged;
    const before = balances.get(account);
    // First changed in this batch: what it held before, as the ledger knows it (a caller's stale
    // balance passed to `transferKnown` shows then as changes that do not sum to zero).
    if (before === undefined && !balancesBefore.has(account)) balancesBefore.set(account, this.#beneathBatch(account) ?? previous);
    this.#balanceUndo.push(account, before === undefined ? absent : before);
    balances.set(account, value);
  }

  /** Moves `amountMsat` from `debit` to `credit`; refuses to take a guarded account below zero. */
  async transfer(kind: string, debit: Account, credit: Account, amountMsat: bigint, meta?: Record<string, string>): Promise<Transfer> {
    const from = this.knownBalance(debit) ?? (await this.#committed.balance(debit));
    const to = this.knownBalance(credit) ?? (await this.#committed.balance(credit));
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
    const violation = transferViolation(debit, credit, amountMsat);
    if (violation !== undefined) throw this.#violated(violation);
    if (from === undefined || to === undefined) throw new Error(`transferKnown: the balances of ${debit} and ${credit} were not read ahead`);
    refuseOverdraft(debit, from, amountMsat);
    this.#setBalance(debit, from - amountMsat, from);
    this.#setBalance(credit, to + amountMsat, to);
    const seq = this.#sequences.next('xfer');
    const transfer: Transfer = { id: pad(seq), kind, debit, credit, amountMsat, at: this.nowIso, meta };
    // A transfer is stored in the history of each supporter it touches (read newest first); one
    // between other accounts only (system, pending) under its id.
    const stored = encodeTransfer(transfer);
    const debitIsSupporter = debit.startsWith('supporter:');
    const creditIsSupporter = credit.startsWith('supporter:');
    if (debitIsSupporter) this.#appendHistory(debit, seq, transfer.id, stored);
    if (creditIsSupporter) this.#appendHistory(credit, seq, transfer.id, stored);
    if (!debitIsSupporter && !creditIsSupporter) this.append(keys.transfer(transfer.id), stored);
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
    this.append(keys.history(account, id), stored);
  }

  /** An invariant this operation broke: its batch will not be written, and the ledger stops. */
  #violated(message: string): InvariantViolation {
    const violation = new InvariantViolation(message);
    this.violation ??= violation;
    return violation;
  }

  emit<T extends EventType>(type: T, topics: Topic[], data: EventData[T]): void {
    (this.events ??= []).push({ type, topics, data } as EmittedEvent);
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
