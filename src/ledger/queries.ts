// Reads of what is committed that go to the store in ranges, past the writer and its caches: a
// supporter's history page by page, balances summed by kind of account, and the stored events for
// the websocket to replay and to prune. What they read is checked for its shape (stored.ts).
import type { StoredEvent } from '../events/types.ts';
import type { Account } from './accounts.ts';
import { InvariantViolation } from './invariants.ts';
import { after, keys, prefixes, prefixEnd, under } from './keys.ts';
import type { Store } from './store.ts';
import { storedBalance, storedInteger, storedEvents, storedHistoryEntry, type Transfer, transfersOf } from './stored.ts';

/** A supporter's transfers, newest first, `limit` at a time; `before` is the last id seen. */
export async function history(db: Store, account: Account, limit: number, before?: string): Promise<Transfer[]> {
  const prefix = prefixes.history(account);
  const transfers: Transfer[] = [];
  // A run is keyed by its first id: every run with a transfer before `before` is in the range,
  // and at most `limit` keys hold `limit` transfers.
  const entries = await db.iterator({ gt: prefix, lt: before ? keys.history(account, before) : prefixEnd(prefix), reverse: true, limit }).all();
  for (const [key, value] of entries) {
    for (const transfer of transfersOf(after(prefix, key), storedHistoryEntry(value, key))) {
      if (before === undefined || transfer.id < before) transfers.push(transfer);
    }
    if (transfers.length >= limit) break;
  }
  return transfers.slice(0, limit);
}

export type AccountKind = 'supporter' | 'escrow' | 'pending' | 'system';

/** A point in time of the store, shared by several reads (LevelDB's explicit snapshot). */
type Snapshot = ReturnType<Store['snapshot']>;

export const noTotals = (): Record<AccountKind, bigint> => ({ supporter: 0n, escrow: 0n, pending: 0n, system: 0n });

/** Adds the stored balance of `account` to its kind's total; a balance of no account of tipd is a broken store. */
export function addToTotals(totals: Record<AccountKind, bigint>, account: string, stored: unknown): void {
  const kind = account.slice(0, account.indexOf(':'));
  if (!Object.hasOwn(totals, kind)) throw new InvariantViolation(`the store holds a balance of ${account}: not an account of tipd`);
  totals[kind as AccountKind] += storedBalance(stored, account);
}

/** Committed balances summed by kind of account (supporter, escrow, pending, system). */
export async function totalsByKind(db: Store, snapshot?: Snapshot): Promise<Record<AccountKind, bigint>> {
  const totals = noTotals();
  for await (const [key, value] of db.iterator({ ...under(prefixes.balances), ...(snapshot && { snapshot }) }))
    addToTotals(totals, after(prefixes.balances, key), value);
  return totals;
}

/** The ledger's figures at one point in time: balances summed by kind, the last transfer id and event number. */
export interface LedgerFigures {
  totals: Record<AccountKind, bigint>;
  lastTransferId: bigint;
  lastEventSeq: bigint;
}

/**
 * The figures read from one snapshot, so that they belong together: with no transfer numbered
 * since (`lastTransferId`), no balance has changed. (A LevelDB batch is atomic: a snapshot holds
 * all of a committed batch or none of it.)
 */
export async function figures(db: Store): Promise<LedgerFigures> {
  const snapshot = db.snapshot();
  try {
    const [totals, lastTransfer, lastEvent] = await Promise.all([
      totalsByKind(db, snapshot),
      db.get(keys.sequence('xfer'), { snapshot }),
      db.get(keys.sequence('event'), { snapshot }),
    ]);
    return { totals, lastTransferId: storedInteger(lastTransfer, 'the last xfer number'), lastEventSeq: storedInteger(lastEvent, 'the last event number') };
  } finally {
    await snapshot.close();
  }
}

/**
 * The accounts under `prefix` (`bal:escrow:`…) with a positive balance, in one pass over one
 * snapshot: how many, their sum, and the `limit` largest (largest first, each with what follows the
 * prefix). Memory is bounded by `limit`, whatever the number of accounts.
 */
export async function largestBalances(
  db: Store,
  prefix: string,
  limit: number,
): Promise<{ count: number; totalMsat: bigint; largest: { id: string; balanceMsat: bigint }[] }> {
  let count = 0;
  let totalMsat = 0n;
  // Largest first; a new one goes in its place, the smallest out past `limit`.
  const largest: { id: string; balanceMsat: bigint }[] = [];
  for await (const [key, value] of db.iterator(under(prefix))) {
    const balanceMsat = storedBalance(value, after(prefixes.balances, key));
    if (balanceMsat <= 0n) continue;
    count += 1;
    totalMsat += balanceMsat;
    if (largest.length === limit && balanceMsat <= largest.at(-1)!.balanceMsat) continue;
    let at = largest.length;
    while (at > 0 && largest[at - 1]!.balanceMsat < balanceMsat) at -= 1;
    largest.splice(at, 0, { id: after(prefix, key), balanceMsat });
    if (largest.length > limit) largest.pop();
  }
  return { count, totalMsat, largest };
}

export async function sumOfBalances(db: Store): Promise<bigint> {
  return Object.values(await totalsByKind(db)).reduce((a, b) => a + b, 0n);
}

/**
 * Events with seq > `afterSeq`, oldest first, at most `limit`. They are stored in runs of a
 * batch's events (`evt:<seq of the last one>`: an array of at most `eventsPerKeyMax`), so the
 * first run read may start before `afterSeq`.
 */
export async function eventsAfter(db: Store, afterSeq: number, limit: number): Promise<StoredEvent[]> {
  const events: StoredEvent[] = [];
  for await (const [key, run] of db.iterator({ gt: keys.events(afterSeq), lt: prefixEnd(prefixes.events) })) {
    for (const event of storedEvents(run, key)) {
      if (event.seq <= afterSeq) continue;
      if (events.length >= limit) return events;
      events.push(event);
    }
    if (events.length >= limit) return events;
  }
  return events;
}

/** Keys of stored events all older than `before` (oldest first, at most `limit` keys): for pruning. */
export async function eventKeysBefore(db: Store, before: Date, limit: number): Promise<string[]> {
  const found: string[] = [];
  for await (const [key, run] of db.iterator({ ...under(prefixes.events), limit })) {
    // The events of a run are of one batch: one time.
    if (Date.parse(storedEvents(run, key)[0]!.at) >= before.getTime()) break;
    found.push(key);
  }
  return found;
}
