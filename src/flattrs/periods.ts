// Flattr periods: a sequence kept in the store (`period:current`), calendar months (UTC) or a fixed
// length (for tests). A close ends the current period and opens the next in one batch (close.ts);
// the scheduler here closes each period when its end has passed, and at start finishes any close a
// stop cut short.
import { z } from 'zod';
import { InvariantViolation, type Ledger, type Tx } from '../ledger/ledger.ts';
import { keys } from '../ledger/keys.ts';
import { parseStoredIfAny } from '../ledger/records.ts';
import type { Logger } from '../process/log.ts';

export interface Period {
  id: number;
  startedAt: string;
  endsAt: string;
}

export const periodSchema = z.object({ id: z.number().int().positive(), startedAt: z.string(), endsAt: z.string() });

/** The current period as read back from the store (checked: never misread; absent: undefined). */
const periodRecord = (value: unknown): Period | undefined => parseStoredIfAny(periodSchema, keys.currentPeriod, value);

/** Where a period that starts at `start` ends: the next first of a month (UTC), or start + length. */
export function periodEnd(start: Date, lengthMs?: number): Date {
  if (lengthMs !== undefined) return new Date(start.getTime() + lengthMs);
  return new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 1));
}

export class Periods {
  readonly #ledger: Ledger;
  readonly #periodMs: number | undefined;

  /** `periodMs`: the length of a period; calendar months (UTC) if undefined. */
  constructor(ledger: Ledger, periodMs: number | undefined) {
    this.#ledger = ledger;
    this.#periodMs = periodMs;
  }

  /** The period flattrs go to now (the first one starts when first asked for). */
  async current(): Promise<Period> {
    const current = periodRecord(await this.#ledger.read(keys.currentPeriod));
    if (current) return current;
    return this.#ledger.run(async (tx) => {
      const existing = await this.currentIn(tx);
      if (existing) return existing;
      const first: Period = { id: 1, startedAt: tx.now.toISOString(), endsAt: periodEnd(tx.now, this.#periodMs).toISOString() };
      tx.put(keys.currentPeriod, first);
      return first;
    });
  }

  /** The current period as an operation sees it; undefined before the first one started (see `current`). */
  async currentIn(tx: Tx): Promise<Period | undefined> {
    return periodRecord(await tx.get(keys.currentPeriod));
  }

  /** Ends the current period in this operation: the next one starts now. */
  startNext(tx: Tx, current: Period): Period {
    const next: Period = { id: current.id + 1, startedAt: tx.now.toISOString(), endsAt: periodEnd(tx.now, this.#periodMs).toISOString() };
    tx.put(keys.currentPeriod, next);
    return next;
  }
}

/** What the scheduler asks of the period close (close.ts). */
export interface Closer {
  /** Finishes every close a stop cut short. */
  resume(): Promise<void>;
  /** Closes the current period if it is still `onlyPeriodId`. */
  close(onlyPeriodId: number): Promise<unknown>;
}

/** Closes each period when its end has passed: at start (after finishing closes cut short), then by a timer. */
export class PeriodScheduler {
  readonly #periods: Periods;
  readonly #closer: Closer;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(periods: Periods, closer: Closer, log: Logger) {
    this.#periods = periods;
    this.#closer = closer;
    this.#log = log;
  }

  /** Finishes closes a stop cut short, closes the current period if its end has passed, then each one as it ends. */
  async start(): Promise<void> {
    this.#stopped = false;
    await this.#closer.resume().catch((err: unknown) => {
      // A broken money invariant is no failure to try again: it goes on, unhandled, to stop tipd (main.ts).
      if (err instanceof InvariantViolation) throw err;
      if (!this.#stopped) this.#log.error({ err }, 'resuming a period close failed');
    });
    await this.#closeIfDue();
    this.#schedule();
  }

  #schedule(): void {
    clearTimeout(this.#timer);
    if (this.#stopped) return;
    this.#periods.current().then(
      (period) => {
        if (this.#stopped) return;
        const waitMs = Math.max(0, Math.min(Date.parse(period.endsAt) - Date.now(), 2 ** 31 - 1));
        this.#timer = setTimeout(() => void this.#closeIfDue().finally(() => this.#schedule()), waitMs);
      },
      (err: unknown) => {
        if (!this.#stopped) this.#log.error({ err }, 'reading the current period failed');
      },
    );
  }

  async #closeIfDue(): Promise<void> {
    if (this.#stopped) return;
    try {
      const period = await this.#periods.current();
      if (Date.parse(period.endsAt) <= Date.now()) await this.#closer.close(period.id);
    } catch (err) {
      if (err instanceof InvariantViolation) throw err;
      // A close cut short by a stop is finished at the next start.
      if (!this.#stopped) this.#log.error({ err }, 'period close failed');
    }
  }

  /** Stops closing periods by itself; a close under way is finished at the next start if cut short. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }
}
