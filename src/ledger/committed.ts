// What is committed, as the writer and every reader see it: bounded caches of values and balances
// that the one writer keeps fresh at each commit; the count of commits (the generation) with what
// the last few wrote, to tell whether something read earlier is still valid; and the reads, in one
// round trip, of what a group of operations names, started while the group before it runs.
import type { Account } from './accounts.ts';
import { Generations } from './generations.ts';
import { idempotencyKey } from './idempotency.ts';
import { keys } from './keys.ts';
import type { Store } from './store.ts';
import { storedBalance } from './stored.ts';
import { type BatchReads, type CommittedReads, deleted, type RunOptions, type Staged, unread } from './tx.ts';

/**
 * A value and a balance are read ahead alike: a value by its key, a balance by its account (so
 * that the same account string is used throughout, its hash computed once).
 */
type Side = 'values' | 'balances';
const sides: readonly Side[] = ['values', 'balances'];
/** What reads find for what the store holds (undefined: absent) on each side; a malformed balance throws. */
const fromStore: Record<Side, (stored: unknown, key: string) => unknown> = {
  values: (stored) => (stored === undefined ? deleted : stored),
  balances: (stored, account) => storedBalance(stored, account),
};
/** Keys, and accounts whose balances, to read. */
type Wanted = Record<Side, Set<string>>;
const nothingWanted = (): Wanted => ({ values: new Set(), balances: new Set() });

/** Committed batches remembered to check values read ahead against. */
const recentMax = 8;

/** An operation as reads ahead see it: what it names to be read. */
interface Naming {
  options: RunOptions;
}

/** A read, started early, of what a group of operations will read. */
export interface ReadAhead {
  /** The first operation of the group. */
  first: Naming;
  /** When the read began. */
  generation: number;
  /** What the store holds (undefined: absent) by key and by account, or undefined if the read failed. */
  read: Promise<Record<Side, Map<string, unknown>> | undefined>;
}

/** Keys (or accounts) an operation names to be read ahead. */
function keysOf({ options }: Naming, side: Side): readonly string[] {
  if (side === 'balances') return options.balances ?? [];
  if (!options.idempotency) return options.prefetch ?? [];
  return [...(options.prefetch ?? []), idempotencyKey(options.idempotency)];
}

export class Committed implements CommittedReads {
  readonly #db: Store;
  /**
   * Committed balances (by account) and values (by key; `deleted` if known to be absent) read or
   * written before, a bounded number of each: the writer is the only one that writes, so it keeps
   * them fresh at every commit.
   */
  readonly #balances: Generations<bigint>;
  readonly #values: Generations<unknown>;
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

  /** Keeps at most `cacheMax` values, and as many balances. */
  constructor(db: Store, cacheMax: number) {
    this.#db = db;
    this.#balances = new Generations(cacheMax);
    this.#values = new Generations(cacheMax);
    this.#caches = { values: this.#values, balances: this.#balances };
  }

  /** Counts committed batches: what is read from the store at one is valid until the next. */
  get generation(): number {
    return this.#generation;
  }

  async read<T>(key: string): Promise<T | undefined> {
    const cached = this.cached<T>(key);
    if (cached !== unread) return cached;
    const generation = this.#generation;
    const value = await this.#db.get(key);
    // A key found absent may have been appended since (appends are not tracked by #current).
    if (value === undefined ? generation === this.#generation : this.#current('values', key, generation))
      this.#values.set(key, value === undefined ? deleted : value);
    return value as T | undefined;
  }

  /** The committed value of `key` if it is in memory; `unread` if not. */
  cached<T>(key: string): T | undefined | typeof unread {
    const cached = this.#values.get(key);
    if (cached === undefined) return unread;
    return cached === deleted ? undefined : (cached as T);
  }

  /** Balance as committed (never half an operation). */
  async balance(account: Account): Promise<bigint> {
    const cached = this.#balances.get(account);
    if (cached !== undefined) return cached;
    const generation = this.#generation;
    const value = storedBalance(await this.#db.get(keys.balance(account)), account);
    if (this.#current('balances', account, generation)) this.#balances.set(account, value);
    return value;
  }

  /** The committed balance of `account` if it is in memory. */
  cachedBalance(account: Account): bigint | undefined {
    return this.#balances.get(account);
  }

  /**
   * A batch is on disk: the caches learn its values, and the generation moves on (in the same
   * synchronous step as its callers learn their results).
   */
  commit(staged: Staged): void {
    this.#generation += 1;
    this.#recent.push({ generation: this.#generation, staged });
    if (this.#recent.length > recentMax) this.#recent.shift();
    staged.balances.forEach((value, account) => this.#balances.set(account, value));
    staged.values.forEach((value, key) => this.#values.update(key, value));
  }

  /**
   * Brings the committed values of what a group reads into memory in one read. Keys the batch
   * being written stages are skipped: they are read through it. Any other key is not changed by
   * that write, so what is read is what is on disk, whenever the write lands. Values read before
   * (ahead, or by the caller) are taken if no batch committed since has changed them.
   */
  async prefetch(group: readonly Naming[], writing: Staged | undefined, ahead: ReadAhead | undefined, reads: BatchReads): Promise<void> {
    const read = ahead && (await ahead.read);
    const missing = nothingWanted();
    for (const side of sides) {
      const into: Map<string, unknown> = reads[side];
      const cache: Generations<unknown> = this.#caches[side];
      const parse = fromStore[side];
      for (const op of group) {
        const { known } = op.options;
        const knownValues = known?.[side];
        for (const key of keysOf(op, side)) {
          // What the caller read is kept for this batch only, and is what the store holds unless
          // the batch being written changes it (reads look there first); what the ledger read
          // ahead goes to its caches, if they do not have it already.
          if (knownValues && this.#stillValid(side, key, knownValues, known.generation)) into.set(key, parse(knownValues.get(key), key));
          else if (this.#inMemory(side, key, writing)) continue;
          else if (read && this.#stillValid(side, key, read[side], ahead.generation)) cache.set(key, parse(read[side].get(key), key));
          else missing[side].add(key);
        }
      }
    }
    if (missing.values.size + missing.balances.size === 0) return;
    const found = await this.#readStored(missing);
    for (const side of sides) {
      const cache: Generations<unknown> = this.#caches[side];
      const parse = fromStore[side];
      for (const [key, stored] of found[side]) cache.set(key, parse(stored, key));
    }
  }

  /**
   * Starts reading what `ops` will read, while the writer runs the group before them. A value read
   * so is used only if no batch committed since the read began has changed it (see prefetch).
   */
  readAhead(ops: readonly Naming[], writing: Staged | undefined): ReadAhead | undefined {
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

  /** What the store holds (undefined: absent) for `wanted`, in one read. */
  async #readStored(wanted: Wanted): Promise<Record<Side, Map<string, unknown>>> {
    const values = [...wanted.values];
    const accounts = [...wanted.balances];
    const stored = await this.#db.getMany([...values, ...accounts.map((account) => keys.balance(account as Account))]);
    return {
      values: new Map(values.map((key, i) => [key, stored[i]])),
      balances: new Map(accounts.map((account, i) => [account, stored[values.length + i]])),
    };
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

  /** Whether no batch committed after `generation` wrote `key` (a value's key, or an account's balance). */
  #unchangedSince(side: Side, key: string, generation: number): boolean {
    // Newest first: only the commits after `generation`.
    for (let i = this.#recent.length - 1; i >= 0 && this.#recent[i]!.generation > generation; i--) {
      if (this.#recent[i]!.staged[side].has(key)) return false;
    }
    return true;
  }
}
