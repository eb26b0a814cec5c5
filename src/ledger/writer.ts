// The one writer of the store, pipelined with group commit: operations queue up, and the writer
// runs all that wait (up to a bound) as one batch (batch.ts) while the batch before it is being
// written; callers, caches and listeners learn of a batch once it is on disk. A broken money
// invariant stops it for good: nothing of that batch is written, and `onBroken` is told.
import type { StoredEvent } from '../events/types.ts';
import { Refusal } from '../errors.ts';
import type { Committed, ReadAhead } from './committed.ts';
import type { InvariantViolation } from './invariants.ts';
import type { Store } from './store.ts';
import { prefixes } from './keys.ts';
import { type BatchDeps, changesAnything, prepare, type Prepared, type Queued, type Batch, Sequences, startWrite, type Writing } from './batch.ts';
import type { RunOptions, SequenceName, Tx } from './tx.ts';

/** Keys one operation may name to be read ahead (a close names a supporter's flattrs: at most a few thousand). */
const prefetchKeysMax = 50_000;

export interface WriterOptions {
  /** Most operations committed in one batch. */
  batchSizeMax: number;
  /** Most operations waiting; past that, callers get `overloaded`. */
  queueMax: number;
  now: () => Date;
  /** Told once, when a money invariant is found broken; the writer has stopped by then. */
  onBroken: (error: InvariantViolation) => void;
}

/** What one committed batch was: its operations, and, when it wrote anything, how long that took. */
export interface BatchFigures {
  operations: number;
  /** From the start of its write until the writer learnt it was on disk; undefined: nothing to write. */
  writeSeconds: number | undefined;
  /** Written with fsync (an operation of it asked for `sync`). */
  fsync: boolean;
}

export class Writer {
  readonly #committed: Committed;
  readonly #sequences: Sequences;
  readonly #deps: BatchDeps;
  readonly #options: WriterOptions;
  readonly #listeners = new Set<(events: StoredEvent[]) => void>();
  readonly #batchListeners = new Set<(figures: BatchFigures) => void>();
  #queue: Queued[] = [];
  #draining: Promise<void> | undefined;
  #closed = false;
  /** The invariant found broken: every operation from then on is refused with it. */
  #broken: InvariantViolation | undefined;
  /** Figures for benchmarks and logs. */
  readonly stats = { batches: 0, operations: 0 };

  /** Writes to `db`, numbering on from `lastSeqs` (those on disk). */
  constructor(db: Store, committed: Committed, lastSeqs: Map<SequenceName, bigint>, options: WriterOptions) {
    this.#committed = committed;
    this.#sequences = new Sequences(lastSeqs);
    this.#deps = { db, committed, sequences: this.#sequences, now: options.now };
    this.#options = options;
  }

  /** Runs `run` inside the writer; resolves once its batch is on disk. */
  run<T>(run: (tx: Tx) => Promise<T> | T, options: RunOptions = {}): Promise<T> {
    if (this.#broken) return Promise.reject(this.#broken);
    if (this.#closed) return Promise.reject(new Error('ledger is closed'));
    if ((options.prefetch?.length ?? 0) + (options.balances?.length ?? 0) > prefetchKeysMax)
      return Promise.reject(new Error(`an operation may name at most ${prefetchKeysMax} keys and balances to read ahead`));
    // Read ahead as a value, a balance would be kept where balance writes never update it.
    if (options.prefetch?.some((key) => key.startsWith(prefixes.balances)))
      return Promise.reject(new Error('name balances to read ahead by account (RunOptions.balances), not as bal: keys'));
    if (this.#queue.length >= this.#options.queueMax) return Promise.reject(new Refusal('overloaded', 'too many operations waiting; try again shortly'));
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ run, options, resolve: resolve as (v: unknown) => void, reject });
      this.#draining ??= this.#drain();
    });
  }

  /** Called after each committed batch with the events it wrote. */
  onEvents(listener: (events: StoredEvent[]) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Called after each committed batch with its figures (for metrics). */
  onBatch(listener: (figures: BatchFigures) => void): () => void {
    this.#batchListeners.add(listener);
    return () => this.#batchListeners.delete(listener);
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
   * batch only once it is on disk. A batch that breaks an invariant is never written: the writer
   * lets N land, then stops.
   */
  async #drain(): Promise<void> {
    let writing: Writing | undefined;
    let readAhead: ReadAhead | undefined;
    let group: Queued[] = [];
    let next: Prepared | undefined;
    const batchSizeMax = this.#options.batchSizeMax;
    try {
      while (this.#queue.length > 0 || writing) {
        next = undefined;
        if (this.#queue.length > 0) {
          group = this.#queue.splice(0, batchSizeMax);
          const ahead = readAhead?.first === group[0] ? readAhead : undefined;
          // What the group after this one reads is read meanwhile, by LevelDB's threads.
          readAhead = this.#queue.length > 0 ? this.#committed.readAhead(this.#queue.slice(0, batchSizeMax), writing?.staged) : undefined;
          next = await prepare(group, writing?.staged, ahead, this.#deps);
          group = [];
        }
        if (writing) {
          // A batch on disk was answered at once (see #write); one that failed takes the next down.
          const outcome = await writing.written;
          if (!outcome.ok) {
            this.#failed(writing, outcome.error);
            // (A batch that broke an invariant stops the writer below, whatever became of this one.)
            if (next && !next.violation) {
              this.#failed(next, new Error('an earlier batch this one depends on could not be written', { cause: outcome.error }));
              next = undefined;
            }
          }
          writing = undefined;
        }
        if (next?.violation) return this.#stop(next, next.violation);
        // Halted from outside (see `halt`) while this batch was run: it is not written.
        if (next && this.#broken) return this.#failed(next, this.#broken);
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

  /**
   * Starts writing a prepared batch (if it changes anything); once it is on disk it is committed
   * at once, even while the writer runs the next group, so that its callers are not kept waiting.
   */
  #write(prepared: Prepared): Writing {
    const started = this.#batchListeners.size > 0 ? performance.now() : undefined;
    const writing = startWrite(prepared, this.#deps.db);
    // Registered first: runs before the writer's own wait for this write ends.
    void writing.written.then((outcome) => {
      if (outcome.ok) this.#committedBatch(prepared, started === undefined ? undefined : (performance.now() - started) / 1000);
    });
    return writing;
  }

  /** A batch is on disk: the caches learn its values, its callers their results, listeners its events. */
  #committedBatch(batch: Prepared, writeSeconds: number | undefined): void {
    const wrote = changesAnything(batch);
    if (wrote) {
      // In the same synchronous step as the generation moves on: see Committed.
      this.#committed.commit(batch.staged);
      this.#sequences.committed(batch.seqs);
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
    const figures: BatchFigures = { operations: batch.group.length, writeSeconds: wrote ? writeSeconds : undefined, fsync: wrote && batch.sync };
    for (const listener of this.#batchListeners) listener(figures);
  }

  /** A batch is not on disk: every operation of it fails, and numbering goes on from what is. */
  #failed({ group, batch }: { group: Queued[]; batch?: Batch | undefined }, error: unknown): void {
    this.#sequences.rewind();
    for (const op of group) op.reject(error);
    // A LevelDB batch never written (a write closes its own).
    batch?.close().catch(() => {});
  }

  /**
   * A money invariant found broken outside the writer (a record read back that is not what tipd
   * wrote, by a reader that acts on it): the writer stops as if it had found it. A batch already
   * on its way to disk lands; nothing else is written.
   */
  halt(violation: InvariantViolation): void {
    if (!this.#broken) this.#stop({ group: [] }, violation);
  }

  /**
   * A batch broke a money invariant: none of it is written, it and every operation queued or yet
   * to come are refused, and `onBroken` is told (by default it throws: the process ends).
   */
  #stop(prepared: Pick<Prepared, 'group' | 'batch'>, violation: InvariantViolation): void {
    // Stopped already (halted from outside while this batch was run): the first reason stands, told once.
    const first = this.#broken === undefined;
    this.#broken ??= violation;
    this.#failed({ group: [...prepared.group, ...this.#queue.splice(0)], batch: prepared.batch }, this.#broken);
    if (!first) return;
    // Told once the batch on its way to disk has landed and its callers have had their answers
    // (the drain ends after that, and their continuations run before the next turn): tipd may end
    // at once when told.
    const drained = this.#draining ?? Promise.resolve();
    void drained.then(() => setImmediate(() => this.#options.onBroken(violation)));
  }
}
