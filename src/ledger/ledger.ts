// The ledger: the one place that writes tipd's store, in front of its parts. Every change is an
// operation (tx.ts) run in order by a single writer that commits groups of them in one LevelDB
// batch (writer.ts, batch.ts), reading through a cache of what is committed (committed.ts). Money
// moves only as double-entry transfers under the rules of accounts.ts; a broken one stops tipd.
import type { StoredEvent } from '../events/types.ts';
import type { Account } from './accounts.ts';
import { accounts } from './accounts.ts';
import { Committed } from './committed.ts';
import { checkFormat } from './format.ts';
import { InvariantViolation } from './invariants.ts';
import { keys } from './keys.ts';
import * as queries from './queries.ts';
import type { Store } from './store.ts';
import { storedInteger, type Transfer } from './stored.ts';
import type { RunOptions, SequenceName, Tx, unread } from './tx.ts';
import { type BatchFigures, Writer } from './writer.ts';

// What the rest of tipd imports from here.
export { type Account, accounts } from './accounts.ts';
export { StoreFormatError, storeFormat } from './format.ts';
export { InvariantViolation } from './invariants.ts';
export { recordRunMax, type Transfer } from './stored.ts';
export { type Known, type RunOptions, Tx, unread } from './tx.ts';
export type { BatchFigures } from './writer.ts';
export type { LedgerFigures } from './queries.ts';

export interface LedgerOptions {
  /** Most operations committed in one batch. */
  batchSizeMax?: number;
  /** Most operations waiting; past that, callers get `overloaded`. */
  queueMax?: number;
  /** The clock, for tests. */
  now?: () => Date;
  /** Most committed values, and most balances, kept in memory for reads. */
  cacheMax?: number;
  /**
   * Told when a money invariant is found broken, once the ledger has stopped (it refuses every
   * operation from then on). By default it throws the error, so that the process ends.
   */
  onBroken?: (error: InvariantViolation) => void;
}

const throwIt = (error: InvariantViolation): never => {
  throw error;
};

export class Ledger {
  readonly #db: Store;
  readonly #committed: Committed;
  readonly #writer: Writer;

  private constructor(db: Store, committed: Committed, writer: Writer) {
    this.#db = db;
    this.#committed = committed;
    this.#writer = writer;
  }

  /** Opens the ledger on a store, checking its format and that its balances sum to zero. */
  static async open(db: Store, options: LedgerOptions = {}): Promise<Ledger> {
    await checkFormat(db);
    const lastSeqs = new Map<SequenceName, bigint>();
    for (const name of ['xfer', 'event'] as const) lastSeqs.set(name, storedInteger(await db.get(keys.sequence(name)), `the last ${name} number`));
    const sum = await queries.sumOfBalances(db);
    if (sum !== 0n) throw new InvariantViolation(`ledger balances sum to ${sum} msat, not zero: refusing to start`);
    const committed = new Committed(db, options.cacheMax ?? 100_000);
    const writer = new Writer(db, committed, lastSeqs, {
      batchSizeMax: options.batchSizeMax ?? 2_000,
      queueMax: options.queueMax ?? 100_000,
      now: options.now ?? (() => new Date()),
      onBroken: options.onBroken ?? throwIt,
    });
    return new Ledger(db, committed, writer);
  }

  get db(): Store {
    return this.#db;
  }

  /** Counts committed batches: what is read from the store at one is valid until the next. */
  get generation(): number {
    return this.#committed.generation;
  }

  /** Figures for benchmarks and logs. */
  get stats(): { batches: number; operations: number } {
    return this.#writer.stats;
  }

  /** Runs `run` inside the writer; resolves once its batch is on disk. */
  run<T>(run: (tx: Tx) => Promise<T> | T, options: RunOptions = {}): Promise<T> {
    return this.#writer.run(run, options);
  }

  /** The committed value of `key` (never half an operation). */
  read<T>(key: string): Promise<T | undefined> {
    return this.#committed.read<T>(key);
  }

  /** The committed value of `key` if it is in memory; `unread` if not. */
  cached<T>(key: string): T | undefined | typeof unread {
    return this.#committed.cached<T>(key);
  }

  /** Balance as committed (never half an operation). */
  balance(account: Account): Promise<bigint> {
    return this.#committed.balance(account);
  }

  /** A supporter's transfers, newest first, `limit` at a time; `before` is the last id seen. */
  history(account: Account, limit: number, before?: string): Promise<Transfer[]> {
    return queries.history(this.#db, account, limit, before);
  }

  /** Committed balances summed by kind of account (supporter, escrow, pending, system). */
  totalsByKind(): Promise<Record<queries.AccountKind, bigint>> {
    return queries.totalsByKind(this.#db);
  }

  /**
   * The accounts of a kind that hold something: how many, their sum, and the `limit` largest
   * (largest first, each one's id: a supporter's, a handle's key), from one snapshot.
   */
  holding(kind: 'supporter' | 'escrow', limit: number): ReturnType<typeof queries.largestBalances> {
    return queries.largestBalances(this.#db, keys.balance(accounts[kind]('')), limit);
  }

  /** Balances summed by kind, with the last transfer id and event number, all read at one point in time. */
  figures(): Promise<queries.LedgerFigures> {
    return queries.figures(this.#db);
  }

  sumOfBalances(): Promise<bigint> {
    return queries.sumOfBalances(this.#db);
  }

  /** Events with seq > `after`, oldest first, at most `limit`. */
  eventsAfter(after: number, limit: number): Promise<StoredEvent[]> {
    return queries.eventsAfter(this.#db, after, limit);
  }

  /** Keys of stored events all older than `before` (oldest first, at most `limit` keys): for pruning. */
  eventKeysBefore(before: Date, limit: number): Promise<string[]> {
    return queries.eventKeysBefore(this.#db, before, limit);
  }

  /**
   * Stops the ledger for a money invariant found broken outside it (a pending record read back
   * that is not what tipd wrote, say): as if the writer had found it, `onBroken` is told and every
   * operation from then on is refused.
   */
  halt(violation: InvariantViolation): void {
    this.#writer.halt(violation);
  }

  /** Called after each committed batch with the events it wrote. */
  onEvents(listener: (events: StoredEvent[]) => void): () => void {
    return this.#writer.onEvents(listener);
  }

  /** Called after each committed batch with its size and write time (for metrics). */
  onBatch(listener: (figures: BatchFigures) => void): () => void {
    return this.#writer.onBatch(listener);
  }

  /** Finishes what is queued, then refuses more. */
  close(): Promise<void> {
    return this.#writer.close();
  }
}
