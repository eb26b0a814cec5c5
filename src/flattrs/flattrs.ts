// Flattr-style budgets. In each period a supporter marks things as liked (a handle, or one tweet
// of it: two different things; the same thing twice counts once). At the close of the period the
// supporter's monthly budget, or the balance if smaller, is split equally over those things,
// exact to the millisatoshi, and moved into the handles' escrow.
//
// Periods are a sequence kept in the store: a close ends the current one and opens the next,
// whether periods are calendar months (UTC) or a fixed length (for tests). A close streams the
// period's flattrs in key order (grouped by supporter, so memory stays bounded), allocates each
// supporter in one ledger operation that leaves a marker, and keeps a cursor: a close cut short
// by a crash resumes where it was and allocates nobody twice.
import { randomBytes } from 'node:crypto';
import { Refusal } from '../errors.ts';
import { crashPoint } from '../process/crash.ts';
import type { Handle } from '../escrow/handles.ts';
import { type Account, accounts, unread, type Known, type Ledger, type Tx } from '../ledger/ledger.ts';
import { pad, prefixEnd } from '../ledger/keys.ts';
import type { Logger } from '../process/log.ts';
import { formatMsat, satToMsat } from '../ledger/money.ts';
import type { Supporter } from '../supporters/supporters.ts';
import { announceClose, type EscrowKeys, escrowKeys, givenKey, intoEscrow, supporterAccount } from '../escrow/tips.ts';

export interface Period {
  id: number;
  startedAt: string;
  endsAt: string;
}

interface FlattrRecord {
  id: string;
  supporterId: string;
  periodId: number;
  handleKey: string;
  handle: string;
  tweetId: string | null;
  at: string;
}

interface CloseRecord {
  periodId: number;
  state: 'closing' | 'closed';
  /** The last supporter allocated, in key order: progress, for the logs. */
  cursor: string | null;
  supporters: number;
  allocatedMsat: string;
  startedAt: string;
  closedAt: string | null;
}

export interface FlattrView {
  id: string;
  handle: string;
  tweetId: string | null;
  periodId: number;
  createdAt: string;
}

export interface CloseSummary {
  periodId: number;
  supporters: number;
  allocatedMsat: string;
  closedAt: string;
}

/**
 * `totalMsat` split into `parts` shares that differ by at most 1 msat and sum to it exactly; the
 * first `totalMsat % parts` shares get the extra millisatoshi.
 */
export function splitEvenly(totalMsat: bigint, parts: number): bigint[] {
  if (parts <= 0) throw new Error('splitEvenly: no parts');
  const n = BigInt(parts);
  const share = totalMsat / n;
  const extra = Number(totalMsat % n);
  return Array.from({ length: parts }, (_, i) => (i < extra ? share + 1n : share));
}

/** Where a period that starts at `start` ends: the next first of a month (UTC), or start + length. */
export function periodEnd(start: Date, lengthMs?: number): Date {
  if (lengthMs !== undefined) return new Date(start.getTime() + lengthMs);
  return new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 1));
}

const thingOf = (handleKey: string, tweetId: string | null) => (tweetId ? `${handleKey}/${tweetId}` : handleKey);
const flattrKey = (periodId: number, supporterId: string, thing: string) => `fl:${pad(periodId)}:${supporterId}:${thing}`;
const closeKey = (periodId: number) => `close:${pad(periodId)}`;
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
interface SupporterReads {
  first: string;
  last: string;
  generation: number;
  records: Map<string, unknown> | undefined;
  balances: Map<string, unknown> | undefined;
  given: Set<string> | undefined;
}
/** Most things one supporter may flattr in a period. */
export const flattrsPerPeriodMax = 10_000;

export class Flattrs {
  readonly #ledger: Ledger;
  readonly #log: Logger;
  readonly #periodMs: number | undefined;
  readonly #progressEveryMs: number;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  /** Closes and resumes run one after another. */
  #serial: Promise<unknown> = Promise.resolve();

  /** `progressEveryMs`: how often a close under way logs how far it has got (10 s). */
  constructor(ledger: Ledger, log: Logger, options: { periodMs?: number | undefined; progressEveryMs?: number }) {
    this.#ledger = ledger;
    this.#log = log;
    this.#periodMs = options.periodMs;
    this.#progressEveryMs = options.progressEveryMs ?? 10_000;
  }

  /** The period flattrs go to now (the first one starts when first asked for). */
  async currentPeriod(): Promise<Period> {
    const current = await this.#ledger.read<Period>('period:current');
    if (current) return current;
    return this.#ledger.run(async (tx) => {
      const existing = await tx.get<Period>('period:current');
      if (existing) return existing;
      const first: Period = { id: 1, startedAt: tx.now.toISOString(), endsAt: periodEnd(tx.now, this.#periodMs).toISOString() };
      tx.put('period:current', first);
      return first;
    });
  }

  async setBudget(supporterId: string, monthlyBudgetSat: number): Promise<void> {
    await this.#ledger.run(
      async (tx) => {
        const supporter = (await tx.get<Supporter>(`acct:${supporterId}`))!;
        tx.put(`acct:${supporterId}`, { ...supporter, monthlyBudgetSat });
      },
      { sync: true },
    );
  }

  /** Marks a thing as liked in the current period; the same thing again returns the first flattr. */
  async flattr(supporterId: string, handle: Handle, tweetId: string | null): Promise<{ flattr: FlattrView; created: boolean }> {
    await this.currentPeriod();
    return this.#ledger.run(
      async (tx) => {
        const period = (await tx.get<Period>('period:current'))!;
        const key = flattrKey(period.id, supporterId, thingOf(handle.key, tweetId));
        const existing = await tx.get<FlattrRecord>(key);
        if (existing) return { flattr: view(existing), created: false };
        const countKey = `flcount:${pad(period.id)}:${supporterId}`;
        const count = (await tx.get<number>(countKey)) ?? 0;
        if (count >= flattrsPerPeriodMax) throw new FlattrLimit();
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
        tx.put(`flid:${record.id}`, key);
        tx.put(countKey, count + 1);
        return { flattr: view(record), created: true };
      },
      { sync: true },
    );
  }

  /** Takes a flattr back while its period is open. */
  async unflattr(supporterId: string, id: string): Promise<'removed' | 'not_found' | 'period_closed'> {
    return this.#ledger.run(async (tx) => {
      const key = await tx.get<string>(`flid:${id}`);
      const record = key ? await tx.get<FlattrRecord>(key) : undefined;
      if (!key || !record || record.supporterId !== supporterId) return 'not_found';
      const period = (await tx.get<Period>('period:current'))!;
      if (record.periodId !== period.id) return 'period_closed';
      tx.del(key);
      tx.del(`flid:${id}`);
      const countKey = `flcount:${pad(period.id)}:${supporterId}`;
      tx.put(countKey, ((await tx.get<number>(countKey)) ?? 1) - 1);
      return 'removed';
    });
  }

  /** The supporter's flattrs in the current period. */
  async list(supporterId: string): Promise<FlattrView[]> {
    const period = await this.currentPeriod();
    const prefix = `fl:${pad(period.id)}:${supporterId}:`;
    return ((await this.#ledger.db.values({ gt: prefix, lt: prefixEnd(prefix) }).all()) as FlattrRecord[]).map(view);
  }

  #serially<T>(work: () => Promise<T>): Promise<T> {
    const result = this.#serial.then(work);
    this.#serial = result.catch(() => {});
    return result;
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

  async #closeCurrent(onlyPeriodId: number | undefined): Promise<CloseSummary | undefined> {
    await this.currentPeriod();
    const periodId = await this.#ledger.run(
      async (tx) => {
        const current = (await tx.get<Period>('period:current'))!;
        if (onlyPeriodId !== undefined && current.id !== onlyPeriodId) return undefined;
        const next: Period = { id: current.id + 1, startedAt: tx.now.toISOString(), endsAt: periodEnd(tx.now, this.#periodMs).toISOString() };
        tx.put('period:current', next);
        const close: CloseRecord = {
          periodId: current.id,
          state: 'closing',
          cursor: null,
          supporters: 0,
          allocatedMsat: '0',
          startedAt: tx.now.toISOString(),
          closedAt: null,
        };
        tx.put(closeKey(current.id), close);
        return current.id;
      },
      { sync: true },
    );
    if (periodId === undefined) return undefined;
    this.#log.info({ periodId }, 'closing period');
    // Nobody of a period closed just now has a marker: the close need not look for them.
    return this.#allocate(periodId, true);
  }

  /** Finishes every close a stop cut short. */
  async #resumeCloses(): Promise<void> {
    const open: number[] = [];
    for await (const value of this.#ledger.db.values({ gt: 'close:', lt: prefixEnd('close:') })) {
      const close = value as CloseRecord;
      if (close.state === 'closing') open.push(close.periodId);
    }
    for (const periodId of open) {
      this.#log.info({ periodId }, 'resuming an interrupted period close');
      await this.#allocate(periodId, false);
    }
  }

  /**
   * Allocates every supporter of the period that has no marker yet. Always from the period's
   * start: a supporter whose allocation failed is behind the cursor of later ones, and the
   * markers (read ahead in batches) make going over allocated ones cheap. A close that has just
   * begun (`fresh`) has no markers yet and does not read them.
   */
  async #allocate(periodId: number, fresh: boolean): Promise<CloseSummary> {
    const started = Date.now();
    const prefix = `fl:${pad(periodId)}:`;
    // A sliding window: up to `closeWindow` allocations wait in the ledger at any time, so that
    // one batch is run while the one before it is written.
    let inFlight = 0;
    let settled = 0;
    let wake: (() => void) | undefined;
    let failure: unknown;
    const done = () => {
      inFlight -= 1;
      settled += 1;
      if (settled === closeWindow) crashPoint('close.after-first-window');
      wake?.();
      wake = undefined;
    };
    const waitBelow = async (count: number) => {
      while (inFlight > count) await new Promise<void>((resolve) => (wake = resolve));
    };
    let supporterId: string | undefined;
    let things: FlattrRecord[] = [];
    // Of this page's supporters and of the last page's (whose last supporter may go on here).
    let reads: SupporterReads | undefined;
    let readsBefore: SupporterReads | undefined;
    const submit = async () => {
      if (supporterId === undefined) return;
      inFlight += 1;
      const read = [reads, readsBefore].find((r) => r && r.first <= supporterId! && supporterId! <= r.last);
      // Observed at once: a failure stops the close (to be resumed), never an unhandled rejection.
      this.#allocateOne(periodId, supporterId, things, fresh, read).then(done, (err: unknown) => {
        failure ??= err;
        done();
      });
      await waitBelow(closeWindow - 1);
      if (failure) throw failure;
    };
    // Read in pages: the writer then finds many allocations queued at once, for big batches.
    const flattrs = this.#ledger.db.values({ gt: prefix, lt: prefixEnd(prefix), highWaterMarkBytes: closePageBytesMax });
    let flattrsRead = 0;
    let loggedAt = started;
    try {
      for (;;) {
        const page = (await flattrs.nextv(closePageSize)) as FlattrRecord[];
        if (page.length === 0) break;
        readsBefore = reads;
        reads = await this.#readSupporters(page[0]!.supporterId, page.at(-1)!.supporterId);
        for (const value of page) {
          const flattr = value as FlattrRecord;
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
          this.#log.info({ periodId, supportersDone: settled, flattrsRead, elapsedMs: loggedAt - started }, 'period close under way');
        }
      }
      await submit();
    } finally {
      await flattrs.close();
      // Whatever stopped the loop, nothing is left running behind the close's back.
      await waitBelow(0);
    }
    if (failure) throw failure;
    const handles = await announceClose(this.#ledger, periodId);
    const summary = await this.#ledger.run(
      async (tx) => {
        const done = (await tx.get<CloseRecord>(closeKey(periodId)))!;
        const closed: CloseRecord = { ...done, state: 'closed', closedAt: done.closedAt ?? tx.now.toISOString() };
        tx.put(closeKey(periodId), closed);
        return { periodId, supporters: closed.supporters, allocatedMsat: closed.allocatedMsat, closedAt: closed.closedAt! };
      },
      { sync: true },
    );
    this.#log.info({ ...summary, handles, durationMs: Date.now() - started }, 'period closed');
    return summary;
  }

  async #readSupporters(first: string, last: string): Promise<SupporterReads> {
    const db = this.#ledger.db;
    const generation = this.#ledger.generation;
    const whole = <T>(entries: T[]) => (entries.length < supporterReadMax ? entries : undefined);
    const [records, balances, given] = await Promise.all([
      db.iterator({ gte: `acct:${first}`, lte: `acct:${last}`, limit: supporterReadMax }).all(),
      db.iterator({ gte: `bal:${accounts.supporter(first)}`, lte: `bal:${accounts.supporter(last)}`, limit: supporterReadMax }).all(),
      db.keys({ gte: givenKey(first, ''), lt: prefixEnd(givenKey(last, '')), limit: supporterReadMax }).all(),
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

  /** One supporter's allocation for a period, with its marker and the close's cursor: all or nothing. */
  #allocateOne(periodId: number, supporterId: string, things: FlattrRecord[], fresh: boolean, read: SupporterReads | undefined): Promise<void> {
    const marker = `alloc:${pad(periodId)}:${supporterId}`;
    const recordKey = `acct:${supporterId}`;
    const account = supporterAccount(supporterId);
    const keys = things.map((f) => escrowKeys(supporterId, f.handleKey));
    const prefetch = [recordKey, closeKey(periodId)];
    const balances = [account];
    for (const k of keys) {
      prefetch.push(k.handle, k.given);
      balances.push(k.escrow);
    }
    if (!fresh) prefetch.push(marker);
    const known = read && knownOf(read, recordKey, account, keys);
    const allocate = (tx: Tx, supporter: Supporter | undefined, balanceMsat: bigint, close: CloseRecord): void | Promise<void> => {
      const budgetMsat = supporter?.monthlyBudgetSat ? satToMsat(supporter.monthlyBudgetSat) : 0n;
      const allocationMsat = budgetMsat < balanceMsat ? budgetMsat : balanceMsat;
      const shares = allocationMsat > 0n ? splitEvenly(allocationMsat, things.length) : [];
      const finish = () => {
        if (allocationMsat > 0n)
          tx.emit('allocation', [`account:${supporterId}`], { periodId, allocatedMsat: formatMsat(allocationMsat), things: things.length });
        tx.put(marker, { allocationMsat: allocationMsat.toString(), things: things.length });
        tx.put(closeKey(periodId), {
          ...close,
          cursor: supporterId,
          supporters: close.supporters + 1,
          allocatedMsat: (BigInt(close.allocatedMsat) + allocationMsat).toString(),
        });
      };
      return inOrder(
        shares.length,
        (i) => {
          const flattr = things[i]!;
          if (shares[i]! === 0n) return;
          return intoEscrow(tx, {
            kind: 'allocation',
            supporterId,
            handle: { key: flattr.handleKey, display: flattr.handle },
            amountMsat: shares[i]!,
            keys: keys[i]!,
            meta: flattr.tweetId ? { period: String(periodId), tweetId: flattr.tweetId } : { period: String(periodId) },
            periodId,
          });
        },
        finish,
      );
    };
    return this.#ledger.run(
      (tx) => {
        // Read ahead, an allocation is booked without waiting.
        const seen = fresh ? undefined : tx.known(marker);
        const supporter = tx.known<Supporter>(recordKey);
        const balanceMsat = tx.knownBalance(account);
        const close = tx.known<CloseRecord>(closeKey(periodId));
        if (seen !== unread && supporter !== unread && balanceMsat !== undefined && close !== unread) {
          return seen === undefined ? allocate(tx, supporter, balanceMsat, close!) : undefined;
        }
        return (async () => {
          if (!fresh && (await tx.get(marker)) !== undefined) return;
          await allocate(tx, await tx.get<Supporter>(recordKey), await tx.balance(account), (await tx.get<CloseRecord>(closeKey(periodId)))!);
        })();
      },
      { prefetch, balances, ...(known ? { known } : {}) },
    );
  }

  /** Finishes closes a stop cut short, closes the current period if its end has passed, then each one as it ends. */
  async start(): Promise<void> {
    this.#stopped = false;
    await this.#serially(() => this.#resumeCloses()).catch((err: unknown) => {
      if (!this.#stopped) this.#log.error({ err }, 'resuming a period close failed');
    });
    await this.#closeIfDue();
    this.#schedule();
  }

  #schedule(): void {
    clearTimeout(this.#timer);
    if (this.#stopped) return;
    this.currentPeriod().then(
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
      const period = await this.currentPeriod();
      if (Date.parse(period.endsAt) <= Date.now()) await this.close(period.id);
    } catch (err) {
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

export class FlattrLimit extends Refusal<'too_many_flattrs'> {
  constructor() {
    super('too_many_flattrs', `at most ${flattrsPerPeriodMax} flattrs per period`);
  }
}

/** What `reads` tells of the keys a supporter's allocation reads (absent ones: undefined). */
function knownOf(reads: SupporterReads, recordKey: string, supporter: Account, keys: EscrowKeys[]): Known {
  const values = new Map<string, unknown>();
  if (reads.records) values.set(recordKey, reads.records.get(recordKey));
  if (reads.given) {
    for (const { given } of keys) values.set(given, reads.given.has(given) ? 0 : undefined);
  }
  const balances = reads.balances && new Map([[supporter, reads.balances.get(`bal:${supporter}`)]]);
  return { generation: reads.generation, values, ...(balances ? { balances } : {}) };
}

/**
 * Runs `step(0)` … `step(n - 1)` in order, then `done`: without waiting as long as each step
 * returns at once, awaiting those that return a promise.
 */
function inOrder(n: number, step: (i: number) => unknown, done: () => void): void | Promise<void> {
  for (let i = 0; i < n; i++) {
    const result = step(i);
    if (result instanceof Promise) {
      return (async () => {
        await result;
        for (let j = i + 1; j < n; j++) await step(j);
        done();
      })();
    }
  }
  done();
}

function view(record: FlattrRecord): FlattrView {
  return { id: record.id, handle: record.handle, tweetId: record.tweetId, periodId: record.periodId, createdAt: record.at };
}
