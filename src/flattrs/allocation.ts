// One supporter's allocation at a period close, all or nothing in one ledger operation: the
// monthly budget, or the balance if smaller, split equally over the things flattred, exact to the
// millisatoshi, one `allocation` into escrow per share; then the supporter's event, the marker that
// keeps a resumed close from allocating twice, and the close's sums and cursor. The close (close.ts)
// runs one of these per supporter, a window of them at a time.
import type { CloseRecord, CloseRun, SupporterReads } from './close.ts';
import type { FlattrRecord } from './flattrs.ts';
import { type EscrowKeys, escrowKeys, intoEscrow, supporterAccount } from '../escrow/escrow.ts';
import type { EventData } from '../events/types.ts';
import { topics } from '../events/types.ts';
import { type Account, unread, type Known, type Ledger, type Tx } from '../ledger/ledger.ts';
import { keys } from '../ledger/keys.ts';
import { formatMsat, satToMsat } from '../ledger/money.ts';
import type { Supporter } from '../supporters/supporters.ts';

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

/** One supporter's allocation: the things flattred, in key order, with their escrow keys. */
interface Allocation {
  close: CloseRun;
  supporterId: string;
  things: FlattrRecord[];
  escrow: EscrowKeys[];
  /** `alloc:<period>:<supporter>`: this supporter has been allocated. */
  marker: string;
}

/**
 * Runs one supporter's allocation as a ledger operation. It names what it reads, to be read ahead
 * (with what the range reads of its page found, `read`), and is then booked without waiting.
 */
export function allocateSupporter(
  ledger: Ledger,
  close: CloseRun,
  supporterId: string,
  things: FlattrRecord[],
  read: SupporterReads | undefined,
): Promise<void> {
  const marker = keys.allocated(close.periodId, supporterId);
  const recordKey = keys.supporter(supporterId);
  const account = supporterAccount(supporterId);
  const escrow = things.map((f) => escrowKeys(supporterId, f.handleKey));
  const prefetch = [recordKey, close.key];
  const balances = [account];
  for (const k of escrow) {
    prefetch.push(k.handle, k.given);
    balances.push(k.escrow);
  }
  if (!close.fresh) prefetch.push(marker);
  const known = read && knownOf(read, recordKey, account, escrow);
  const allocation: Allocation = { close, supporterId, things, escrow, marker };
  return ledger.run(
    (tx) => {
      // Read ahead, an allocation is booked without waiting.
      const seen = close.fresh ? undefined : tx.known(marker);
      const supporter = tx.known<Supporter>(recordKey);
      const balanceMsat = tx.knownBalance(account);
      const record = tx.known<CloseRecord>(close.key);
      if (seen !== unread && supporter !== unread && balanceMsat !== undefined && record !== unread) {
        return seen === undefined ? allocate(tx, allocation, supporter, balanceMsat, record!) : undefined;
      }
      return (async () => {
        if (!close.fresh && (await tx.get(marker)) !== undefined) return;
        await allocate(tx, allocation, await tx.get<Supporter>(recordKey), await tx.balance(account), (await tx.get<CloseRecord>(close.key))!);
      })();
    },
    { prefetch, balances, ...(known ? { known } : {}) },
  );
}

/**
 * Books one supporter's allocation: the budget or the balance, whichever is smaller, split over
 * the things in key order, one `allocation` into escrow per share; then the supporter's event, the
 * marker and the close's sums and cursor.
 */
function allocate(tx: Tx, a: Allocation, supporter: Supporter | undefined, balanceMsat: bigint, close: CloseRecord): void | Promise<void> {
  const { periodId } = a.close;
  const { supporterId, things } = a;
  const budgetMsat = supporter?.monthlyBudgetSat ? satToMsat(supporter.monthlyBudgetSat) : 0n;
  const allocationMsat = budgetMsat < balanceMsat ? budgetMsat : balanceMsat;
  const shares = allocationMsat > 0n ? splitEvenly(allocationMsat, things.length) : [];
  const finish = () => {
    if (allocationMsat > 0n) {
      const data = { periodId, allocatedMsat: formatMsat(allocationMsat), things: things.length } satisfies EventData['allocation'];
      tx.emit('allocation', [topics.supporter(supporterId)], data);
    }
    tx.put(a.marker, { allocationMsat: allocationMsat.toString(), things: things.length });
    tx.put(a.close.key, {
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
        keys: a.escrow[i]!,
        meta: flattr.tweetId ? { period: String(periodId), tweetId: flattr.tweetId } : { period: String(periodId) },
        periodId,
      });
    },
    finish,
  );
}

/** What `reads` tells of the keys a supporter's allocation reads (absent ones: undefined). */
function knownOf(reads: SupporterReads, recordKey: string, supporter: Account, escrow: EscrowKeys[]): Known {
  const values = new Map<string, unknown>();
  if (reads.records) values.set(recordKey, reads.records.get(recordKey));
  if (reads.given) {
    for (const { given } of escrow) values.set(given, reads.given.has(given) ? 0 : undefined);
  }
  const balances = reads.balances && new Map([[supporter, reads.balances.get(keys.balance(supporter))]]);
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
