// The close of a flattr period: each supporter's monthly budget, or the balance if smaller, split
// equally over the things the supporter flattred, exact to the millisatoshi, and moved into the
// handles' escrow. It ends the period and opens the next (periods.ts), then streams the period's
// flattrs in key order, a page at a time (grouped by supporter, so memory stays bounded), and
// allocates each supporter in one ledger operation (allocation.ts) that leaves a marker and moves
// the close's cursor: a close cut short by a crash resumes and allocates nobody twice.
import { z } from 'zod';
import { allocateSupporter } from './allocation.ts';
import type { FlattrRecord } from './flattrs.ts';
import type { Period, Periods } from './periods.ts';
import { announceClose } from '../escrow/escrow.ts';
import { accounts, type Ledger } from '../ledger/ledger.ts';
import { keys, prefixEnd, prefixes, under } from '../ledger/keys.ts';
import { parseStored } from '../ledger/records.ts';
import { crashPoint } from '../process/crash.ts';
import type { Logger } from '../process/log.ts';

/** Where a period's close stands (`close:<period>`), and its sums. */
export interface CloseRecord {
  periodId: number;
  state: 'closing' | 'closed';
  /** The last supporter allocated, in key order: progress, for the logs. */
  cursor: string | null;
  supporters: number;
  allocatedMsat: string;
  startedAt: string;
  closedAt: string | null;
}

const closeRecordSchema = z.object({
  periodId: z.number().int().positive(),
  state: z.enum(['closing', 'closed']),
  cursor: z.string().nullable(),
  supporters: z.number().int().nonnegative(),
  allocatedMsat: z.string().regex(/^\d+$/),
  startedAt: z.string(),
  closedAt: z.string().nullable(),
});

/** A close's record as read back from the store, outside the per-supporter path (checked: never misread). */
const closeRecord = (key: string, value: unknown): CloseRecord => parseStored(closeRecordSchema, key, value);

export interface CloseSummary {
  periodId: number;
  supporters: number;
  allocatedMsat: string;
  closedAt: string;
}

/** Most allocations waiting in the ledger's queue during a close: bounds memory, keeps batches full. */
const closeWindow = 1_000;
/** Flattrs read at once by a close, and the most bytes of them. */
const closePageSize = 2_000;
const closePageBytesMax = 1 << 20;
/** Most records one range read of a page's supporters returns; past that it is not used. */
const supporterReadMax = 20_000;

/**
 * What a close reads of a page's supporters (from `first` to `last`) in three range reads instead
 * of a point read per supporter and thing: their records, balances and `given:` marks. (Point
 * reads of absent keys are LevelDB's costliest: each is charged to the tables it looks in, and
 * tables charged often are compacted again.)
 */
export interface SupporterReads {
  first: string;
  last: string;
  generation: number;
  records: Map<string, unknown> | undefined;
  balances: Map<string, unknown> | undefined;
  given: Set<string> | undefined;
}

/** One run of a close over a period: its record's key (one string for every operation), and whether it has just begun. */
export interface CloseRun {
  periodId: number;
  key: string;
  /** A close that has just begun: nobody has a marker yet, so none is read. */
  fresh: boolean;
}

export class PeriodCloses {
  readonly #ledger: Ledger;
  readonly #log: Logger;
  readonly #periods: Periods;
  readonly #progressEveryMs: number;
  /** Closes and resumes run one after another. */
  #serial: Promise<unknown> = Promise.resolve();

  /** `progressEveryMs`: how often a close under way logs how far it has got. */
  constructor(ledger: Ledger, log: Logger, periods: Periods, options: { progressEveryMs: number }) {
    this.#ledger = ledger;
    this.#log = log;
    this.#periods = periods;
    this.#progressEveryMs = options.progressEveryMs;
  }

  /**
   * Closes the current period (after finishing any close a stop cut short). With `onlyPeriodId`,
   * only if that period is still the current one: a timer that saw period N due must not close
   * N+1 because an operator closed N meanwhile.
   */
  close(onlyPeriodId?: number): Promise<CloseSummary | undefined> {
    return this.#serially(async () => {
      await this.#resumeCloses();
      return this.#closeCurrent(onlyPeriodId);
    });
  }

  /** Finishes every close a stop cut short. */
  resume(): Promise<void> {
    return this.#serially(() => this.#resumeCloses());
  }

  #serially<T>(work: () => Promise<T>): Promise<T> {
    const result = this.#serial.then(work);
    this.#serial = result.catch(() => {});
    return result;
  }

  async #closeCurrent(onlyPeriodId: number | undefined): Promise<CloseSummary | undefined> {
    await this.#periods.current();
    const periodId = await this.#ledger.run(
      async (tx) => {
        const current: Period = (await this.#periods.currentIn(tx))!;
        if (onlyPeriodId !== undefined && current.id !== onlyPeriodId) return undefined;
        this.#periods.startNext(tx, current);
        const close: CloseRecord = {
          periodId: current.id,
          state: 'closing',
          cursor: null,
          supporters: 0,
          allocatedMsat: '0',
          startedAt: tx.now.toISOString(),
          closedAt: null,
        };
        tx.put(keys.close(current.id), close);
        return current.id;
      },
      { sync: true },
    );
    if (periodId === undefined) return undefined;
    this.#log.info({ periodId }, 'closing period');
    // Nobody of a period closed just now has a marker: the close need not look for them.
    return this.#allocate(periodId, true);
  }

  async #resumeCloses(): Promise<void> {
    const open: number[] = [];
    for await (const [key, value] of this.#ledger.db.iterator(under(prefixes.closes))) {
      const close = closeRecord(key, value);
      if (close.state === 'closing') open.push(close.periodId);
    }
    for (const periodId of open) {
      this.#log.info({ periodId }, 'resuming an interrupted period close');
      await this.#allocate(periodId, false);
    }
  }

  /**
   * Allocates every supporter of the period that has no marker yet, announces what each handle
   * got, and marks the close `closed`. Always from the period's start: a supporter whose allocation
   * failed is behind the cursor of later ones, and the markers (read ahead in batches) make going
   * over allocated ones cheap. A close that has just begun (`fresh`) has no markers yet and does
   * not read them.
   */
  async #allocate(periodId: number, fresh: boolean): Promise<CloseSummary> {
    const started = Date.now();
    await this.#allocateEveryone({ periodId, key: keys.close(periodId), fresh }, started);
    const handles = await announceClose(this.#ledger, periodId);
    const summary = await this.#ledger.run(
      async (tx) => {
        const key = keys.close(periodId);
        const done = closeRecord(key, await tx.get(key));
        const closed: CloseRecord = { ...done, state: 'closed', closedAt: done.closedAt ?? tx.now.toISOString() };
        tx.put(key, closed);
        return { periodId, supporters: closed.supporters, allocatedMsat: closed.allocatedMsat, closedAt: closed.closedAt! };
      },
      { sync: true },
    );
    this.#log.info({ ...summary, handles, durationMs: Date.now() - started }, 'period closed');
    return summary;
  }

  /** Streams the period's flattrs a page at a time and allocates each supporter's, a window of them waiting in the ledger. */
  async #allocateEveryone(close: CloseRun, started: number): Promise<void> {
    const { periodId } = close;
    const window = new AllocationWindow(closeWindow);
    let supporterId: string | undefined;
    let things: FlattrRecord[] = [];
    // Of this page's supporters and of the last page's (whose last supporter may go on here).
    let reads: SupporterReads | undefined;
    let readsBefore: SupporterReads | undefined;
    const submit = async () => {
      if (supporterId === undefined) return;
      const id = supporterId;
      const read = [reads, readsBefore].find((r) => r && r.first <= id && id <= r.last);
      await window.add(allocateSupporter(this.#ledger, close, id, things, read));
    };
    // Read in pages: the writer then finds many allocations queued at once, for big batches.
    const flattrs = this.#ledger.db.values({ ...under(prefixes.flattrs(periodId)), highWaterMarkBytes: closePageBytesMax });
    let flattrsRead = 0;
    let loggedAt = started;
    try {
      for (;;) {
        const page = (await flattrs.nextv(closePageSize)) as FlattrRecord[];
        if (page.length === 0) break;
        readsBefore = reads;
        reads = await this.#readSupporters(page[0]!.supporterId, page.at(-1)!.supporterId);
        for (const flattr of page) {
          if (flattr.supporterId !== supporterId) {
            await submit();
            supporterId = flattr.supporterId;
            things = [];
          }
          things.push(flattr);
        }
        flattrsRead += page.length;
        if (Date.now() - loggedAt >= this.#progressEveryMs) {
          loggedAt = Date.now();
          this.#log.info({ periodId, supportersDone: window.settled, flattrsRead, elapsedMs: loggedAt - started }, 'period close under way');
        }
      }
      await submit();
    } finally {
      await flattrs.close();
      // Whatever stopped the loop, nothing is left running behind the close's back.
      await window.drain();
    }
    window.throwIfFailed();
  }

  async #readSupporters(first: string, last: string): Promise<SupporterReads> {
    const db = this.#ledger.db;
    const generation = this.#ledger.generation;
    const whole = <T>(entries: T[]) => (entries.length < supporterReadMax ? entries : undefined);
    const [records, balances, given] = await Promise.all([
      db.iterator({ gte: keys.supporter(first), lte: keys.supporter(last), limit: supporterReadMax }).all(),
      db.iterator({ gte: keys.balance(accounts.supporter(first)), lte: keys.balance(accounts.supporter(last)), limit: supporterReadMax }).all(),
      db.keys({ gte: prefixes.given(first), lt: prefixEnd(prefixes.given(last)), limit: supporterReadMax }).all(),
    ]);
    return {
      first,
      last,
      generation,
      records: whole(records) && new Map(records),
      balances: whole(balances) && new Map(balances),
      given: whole(given) && new Set(given),
    };
  }
}

/**
 * A sliding window: up to `size` allocations wait in the ledger at any time, so that one batch is
 * run while the one before it is written. Each is observed at once: a failure stops the close (to
 * be resumed), never an unhandled rejection.
 */
class AllocationWindow {
  readonly #size: number;
  #inFlight = 0;
  /** Allocations done (or failed) so far. */
  settled = 0;
  #wake: (() => void) | undefined;
  /** The first allocation that failed, and why (boxed: any value may be thrown). */
  #failure: { err: unknown } | undefined;

  constructor(size: number) {
    this.#size = size;
  }

  /** Adds an allocation under way; returns once there is room for the next; throws if one failed. */
  async add(allocation: Promise<void>): Promise<void> {
    this.#inFlight += 1;
    allocation.then(
      () => this.#done(),
      (err: unknown) => {
        this.#failure ??= { err };
        this.#done();
      },
    );
    await this.#waitBelow(this.#size - 1);
    this.throwIfFailed();
  }

  /** Waits until every allocation added is done. */
  drain(): Promise<void> {
    return this.#waitBelow(0);
  }

  throwIfFailed(): void {
    if (this.#failure) throw this.#failure.err;
  }

  #done(): void {
    this.#inFlight -= 1;
    this.settled += 1;
    if (this.settled === this.#size) crashPoint('close.after-first-window');
    this.#wake?.();
    this.#wake = undefined;
  }

  async #waitBelow(count: number): Promise<void> {
    while (this.#inFlight > count) await new Promise<void>((resolve) => (this.#wake = resolve));
  }
}
