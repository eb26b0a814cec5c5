// Flattr-style budgets. In each period a supporter marks things as liked (a handle, or one tweet
// of it: two different things; the same thing twice counts once) and may take them back until the
// period closes. At the close (close.ts, allocation.ts) the supporter's monthly budget, or the
// balance if smaller, is split equally over those things and moved into the handles' escrow.
// Periods and the scheduler that closes each when due are in periods.ts; `Flattrs` is what the API
// and main.ts use of them all.
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { type CloseSummary, PeriodCloses } from './close.ts';
import { type Period, PeriodScheduler, Periods } from './periods.ts';
import type { Handle } from '../escrow/handles.ts';
import { Refusal } from '../errors.ts';
import type { Ledger } from '../ledger/ledger.ts';
import { keys, prefixes, under } from '../ledger/keys.ts';
import { notAsStored, parseStoredIfAny } from '../ledger/records.ts';
import type { Logger } from '../process/log.ts';

/** A flattr as stored (`fl:<period>:<supporter>:<thing>`). */
export interface FlattrRecord {
  id: string;
  supporterId: string;
  periodId: number;
  handleKey: string;
  handle: string;
  tweetId: string | null;
  at: string;
}

const flattrRecordSchema = z.object({
  id: z.string(),
  supporterId: z.string(),
  periodId: z.number().int().positive(),
  handleKey: z.string(),
  handle: z.string(),
  tweetId: z.string().nullable(),
  at: z.string(),
});

/** A flattr as read back from the store, outside the close (checked: never misread; absent: undefined). */
const flattrRecord = (key: string, value: unknown): FlattrRecord | undefined => parseStoredIfAny(flattrRecordSchema, key, value);

export interface FlattrView {
  id: string;
  handle: string;
  tweetId: string | null;
  periodId: number;
  createdAt: string;
}

/** Most things one supporter may flattr in a period. */
export const flattrsPerPeriodMax = 10_000;

/** What a supporter flattrs: a handle, or `handle/tweet` for one tweet of it. */
const thingOf = (handleKey: string, tweetId: string | null) => (tweetId ? `${handleKey}/${tweetId}` : handleKey);

/** A count of flattrs (`flcount:`) as read back: a number, or absent. */
function countOf(key: string, value: unknown): number | undefined {
  if (value !== undefined && typeof value !== 'number') throw notAsStored(key, 'a count');
  return value;
}

export class Flattrs {
  readonly #ledger: Ledger;
  readonly #periods: Periods;
  readonly #closes: PeriodCloses;
  readonly #scheduler: PeriodScheduler;

  /** `periodMs`: the length of a period (calendar months if undefined); `progressEveryMs`: how often a close under way logs how far it has got (10 s). */
  constructor(ledger: Ledger, log: Logger, options: { periodMs?: number | undefined; progressEveryMs?: number }) {
    this.#ledger = ledger;
    this.#periods = new Periods(ledger, options.periodMs);
    this.#closes = new PeriodCloses(ledger, log, this.#periods, { progressEveryMs: options.progressEveryMs ?? 10_000 });
    this.#scheduler = new PeriodScheduler(this.#periods, this.#closes, log);
  }

  /** The period flattrs go to now (the first one starts when first asked for). */
  currentPeriod(): Promise<Period> {
    return this.#periods.current();
  }

  /** Marks a thing as liked in the current period; the same thing again returns the first flattr. */
  async flattr(supporterId: string, handle: Handle, tweetId: string | null): Promise<{ flattr: FlattrView; created: boolean }> {
    await this.#periods.current();
    return this.#ledger.run(
      async (tx) => {
        const period = (await this.#periods.currentIn(tx))!;
        const key = keys.flattr(period.id, supporterId, thingOf(handle.key, tweetId));
        const existing = flattrRecord(key, await tx.get(key));
        if (existing) return { flattr: view(existing), created: false };
        const countKey = keys.flattrCount(period.id, supporterId);
        const count = countOf(countKey, await tx.get(countKey)) ?? 0;
        if (count >= flattrsPerPeriodMax) throw new Refusal('too_many_flattrs', `at most ${flattrsPerPeriodMax} flattrs per period`);
        const record: FlattrRecord = {
          id: randomBytes(12).toString('base64url'),
          supporterId,
          periodId: period.id,
          handleKey: handle.key,
          handle: handle.display,
          tweetId,
          at: tx.now.toISOString(),
        };
        tx.put(key, record);
        tx.put(keys.flattrById(record.id), key);
        tx.put(countKey, count + 1);
        return { flattr: view(record), created: true };
      },
      { sync: true },
    );
  }

  /** Takes a flattr back while its period is open. */
  async unflattr(supporterId: string, id: string): Promise<'removed' | 'not_found' | 'period_closed'> {
    return this.#ledger.run(async (tx) => {
      const byId = keys.flattrById(id);
      const key = await tx.get(byId);
      if (key !== undefined && typeof key !== 'string') throw notAsStored(byId, "a flattr's key");
      const record = key ? flattrRecord(key, await tx.get(key)) : undefined;
      if (!key || !record || record.supporterId !== supporterId) return 'not_found';
      const period = (await this.#periods.currentIn(tx))!;
      if (record.periodId !== period.id) return 'period_closed';
      tx.del(key);
      tx.del(byId);
      const countKey = keys.flattrCount(period.id, supporterId);
      tx.put(countKey, (countOf(countKey, await tx.get(countKey)) ?? 1) - 1);
      return 'removed';
    });
  }

  /** The supporter's flattrs in the current period. */
  async list(supporterId: string): Promise<FlattrView[]> {
    const period = await this.#periods.current();
    const flattrs = await this.#ledger.db.iterator(under(prefixes.supporterFlattrs(period.id, supporterId))).all();
    return flattrs.map(([key, value]) => view(flattrRecord(key, value)!));
  }

  /**
   * Closes the current period (after finishing any close a stop cut short). With `onlyPeriodId`,
   * only if that period is still the current one (see `PeriodCloses.close`).
   */
  close(onlyPeriodId?: number): Promise<CloseSummary | undefined> {
    return this.#closes.close(onlyPeriodId);
  }

  /** Finishes closes a stop cut short, closes the current period if its end has passed, then each one as it ends. */
  start(): Promise<void> {
    return this.#scheduler.start();
  }

  /** Stops closing periods by itself; a close under way is finished at the next start if cut short. */
  stop(): void {
    this.#scheduler.stop();
  }

  /** Finishes the closes a stop cut short, and no more (tipd winding down closes no new period). */
  finishCloses(): Promise<void> {
    return this.#closes.resume();
  }
}

function view(record: FlattrRecord): FlattrView {
  return { id: record.id, handle: record.handle, tweetId: record.tweetId, periodId: record.periodId, createdAt: record.at };
}
