// One batch of the writer: a group of queued operations run against what is committed plus the
// batch being written (`prepare`), the money rules checked over all it changes, then put into one
// LevelDB batch with its records, runs, balances, sequence numbers and events (`startWrite`).
import type { StoredEvent } from '../events/types.ts';
import { type Account, balancesViolation } from './accounts.ts';
import type { Committed, ReadAhead } from './committed.ts';
import { runOnce } from './idempotency.ts';
import { InvariantViolation } from './invariants.ts';
import { keys } from './keys.ts';
import type { Store } from './store.ts';
import { eventsPerKeyMax, recordRunMax } from './stored.ts';
import { type BatchContext, type BatchReads, deleted, isEmpty, newStaged, type RunOptions, type SequenceName, type Staged, Tx } from './tx.ts';

/** An operation waiting for the writer. */
export interface Queued {
  /** Its result, or a promise of it. */
  run: (tx: Tx) => unknown;
  options: RunOptions;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

export type Batch = ReturnType<Store['batch']>;

/** A batch run and staged, being written or about to be. */
export interface Prepared {
  group: Queued[];
  staged: Staged;
  outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[];
  events: StoredEvent[];
  sync: boolean;
  /** The sequence numbers once this batch is on disk. */
  seqs: Map<SequenceName, bigint>;
  /** LevelDB's batch, once an operation appended to it (see `Tx.append`). */
  batch?: Batch;
  /** The run being filled under each prefix (`Tx.appendToRun`), written with the batch. */
  runs?: Map<string, RecordRun>;
  /** Why the batch cannot be written (an append that could not be encoded): all of it fails. */
  failure?: unknown;
  /** A money invariant the batch broke: nothing of it is written, and the ledger stops. */
  violation?: InvariantViolation;
}

/** Records of one batch under one prefix, stored as one value under `key`: `[the batch's time, ...records]`. */
interface RecordRun {
  key: string;
  lastId: string;
  records: unknown[];
}

/** A batch whose write has started: `written` settles with its outcome, and never rejects. */
export interface Writing extends Prepared {
  written: Promise<{ ok: true } | { ok: false; error: unknown }>;
}

/** Transfer ids and event numbers: those handed out, and those of the last batch on disk. */
export class Sequences {
  #next: Map<SequenceName, bigint>;
  #committed: Map<SequenceName, bigint>;

  constructor(last: Map<SequenceName, bigint>) {
    this.#next = new Map(last);
    this.#committed = new Map(last);
  }

  next(name: SequenceName): bigint {
    const next = (this.#next.get(name) ?? 0n) + 1n;
    this.#next.set(name, next);
    return next;
  }

  /** The numbers handed out so far: those on disk once the batch that took them is. */
  taken(): Map<SequenceName, bigint> {
    return new Map(this.#next);
  }

  /** A batch is on disk, with these numbers. */
  committed(seqs: Map<SequenceName, bigint>): void {
    this.#committed = seqs;
  }

  /** A batch is not on disk: numbering goes on from what is. */
  rewind(): void {
    this.#next = new Map(this.#committed);
  }
}

/** What running a batch takes from the writer. */
export interface BatchDeps {
  db: Store;
  committed: Committed;
  sequences: Sequences;
  now: () => Date;
}

/** Runs a group of operations against what is committed plus `writing` (a batch on its way to disk). */
export async function prepare(group: Queued[], writing: Staged | undefined, ahead: ReadAhead | undefined, deps: BatchDeps): Promise<Prepared> {
  const staged = newStaged();
  const outcomes: Prepared['outcomes'] = [];
  const prepared: Prepared = { group, staged, outcomes, events: [], sync: false, seqs: deps.sequences.taken() };
  const reads: BatchReads = { values: new Map(), balances: new Map() };
  try {
    await deps.committed.prefetch(group, writing, ahead, reads);
  } catch (error) {
    // The store could not be read, or holds what tipd never writes: nothing of this group runs.
    if (error instanceof InvariantViolation) prepared.violation = error;
    outcomes.push(...group.map(() => ({ ok: false as const, error })));
    return prepared;
  }
  const now = deps.now();
  const batch: BatchContext = { committed: deps.committed, sequences: deps.sequences, staged, writing, reads, now, nowIso: now.toISOString() };
  for (const op of group) {
    const tx = new Tx(batch);
    let outcome: Prepared['outcomes'][number];
    try {
      const value = op.options.idempotency ? runOnce(tx, op.run, op.options.idempotency) : op.run(tx);
      outcome = { ok: true, value: value instanceof Promise ? await value : value };
    } catch (error) {
      tx.rollback();
      outcome = { ok: false, error };
      if (error instanceof InvariantViolation) tx.violation ??= error;
    }
    // A broken invariant stops the batch, even one its operation caught.
    if (tx.violation) {
      prepared.violation = tx.violation;
      return prepared;
    }
    outcomes.push(outcome);
    if (outcome.ok) succeeded(prepared, tx, op, deps);
  }
  const violation = balancesViolation(staged.balances as Map<Account, bigint>, staged.balancesBefore as Map<Account, bigint>);
  if (violation !== undefined) prepared.violation = new InvariantViolation(violation);
  prepared.seqs = deps.sequences.taken();
  return prepared;
}

/** An operation succeeded: its events are numbered, its records go into the batch. */
function succeeded(prepared: Prepared, tx: Tx, op: Queued, deps: BatchDeps): void {
  for (const event of tx.events ?? []) {
    const seq = Number(deps.sequences.next('event'));
    prepared.events.push({ seq, type: event.type, at: tx.nowIso, topics: event.topics, data: event.data } as StoredEvent);
  }
  prepared.sync ||= op.options.sync === true;
  if (tx.appends.length > 0) appendToBatch(prepared, tx.appends, deps.db);
  if (tx.runItems) addToRuns(prepared, tx.runItems, tx.nowIso, deps.db);
}

/** Puts a succeeded operation's appends into the batch's LevelDB batch. */
function appendToBatch(prepared: Prepared, appends: unknown[], db: Store): void {
  if (prepared.failure !== undefined) return;
  try {
    const batch = (prepared.batch ??= db.batch());
    for (let i = 0; i < appends.length; i += 2) batch.put(appends[i] as string, appends[i + 1]);
  } catch (error) {
    // E.g. a value that cannot be encoded: nothing of this batch will be written.
    prepared.failure = error;
  }
}

/** Adds a succeeded operation's run records to the batch's runs; a full run goes into the batch. */
function addToRuns(prepared: Prepared, items: unknown[], nowIso: string, db: Store): void {
  const runs = (prepared.runs ??= new Map<string, RecordRun>());
  for (let i = 0; i < items.length; i += 3) {
    const prefix = items[i] as string;
    const id = items[i + 1] as string;
    let run = runs.get(prefix);
    // A key written twice would lose the first run: a bug, and nothing of the batch is written.
    if (run && id <= run.lastId) prepared.failure ??= new Error(`appendToRun under ${prefix}: id ${id} after ${run.lastId}; ids must grow`);
    if (!run || run.records.length > recordRunMax) {
      if (run) appendToBatch(prepared, [run.key, run.records], db);
      run = { key: `${prefix}${id}`, lastId: id, records: [nowIso] };
      runs.set(prefix, run);
    }
    run.lastId = id;
    run.records.push(items[i + 2]);
  }
}

/** Whether a prepared batch changes anything on disk. */
export const changesAnything = (prepared: Prepared): boolean => !isEmpty(prepared.staged) || prepared.events.length > 0 || prepared.batch !== undefined;

/** Starts writing a prepared batch (if it changes anything) in one LevelDB batch. */
export function startWrite(prepared: Prepared, db: Store): Writing {
  const { values, balances } = prepared.staged;
  if (prepared.runs) {
    prepared.runs.forEach((run) => appendToBatch(prepared, [run.key, run.records], db));
    prepared.runs = undefined;
  }
  if (!changesAnything(prepared) && prepared.failure === undefined) return { ...prepared, written: Promise.resolve({ ok: true }) };
  for (const [name, value] of prepared.seqs) values.set(keys.sequence(name), value.toString());
  if (prepared.failure !== undefined) return notWritten(prepared, prepared.failure);
  try {
    // What operations appended is in the batch already: first, so that a record appended and
    // deleted in the same batch stays deleted.
    const batch = (prepared.batch ??= db.batch());
    balances.forEach((value, account) => batch.put(keys.balance(account as Account), value.toString()));
    values.forEach((value, key) => {
      if (value === deleted) batch.del(key);
      else batch.put(key, value);
    });
    const { events } = prepared;
    for (let from = 0; from < events.length; from += eventsPerKeyMax) {
      const run = events.slice(from, from + eventsPerKeyMax);
      batch.put(keys.events(run.at(-1)!.seq), run);
    }
    const written = batch.write({ sync: prepared.sync }).then(
      () => ({ ok: true as const }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    return { ...prepared, written };
  } catch (error) {
    // E.g. a value that cannot be encoded, or a store that is not open.
    return notWritten(prepared, error);
  }
}

/** A batch that cannot be written: nothing of it is, and its LevelDB batch is let go. */
function notWritten(prepared: Prepared, error: unknown): Writing {
  prepared.batch?.close().catch(() => {});
  return { ...prepared, written: Promise.resolve({ ok: false, error }) };
}
