// Escrow: sats held for an X handle until its creator claims them. Every movement into escrow (a
// tip, or a period close's allocation) is booked here, with the handle's record and counts and, for
// an unclaimed handle, a lot that remembers which supporter each sat came from and when, so that
// unclaimed sats can go back exactly (refunds.ts). A close's allocations are announced here too.
import type { Handle } from './handles.ts';
import type { TipView } from './tips.ts';
import type { EventData, Topic } from '../events/types.ts';
import { topics } from '../events/types.ts';
import { Generations } from '../ledger/generations.ts';
import { type Account, accounts, unread, type Ledger, type Transfer, type Tx } from '../ledger/ledger.ts';
import { after, keys, prefixes, under } from '../ledger/keys.ts';
import { notAsStored } from '../ledger/records.ts';
import { formatMsat } from '../ledger/money.ts';

/** A handle as first seen, with its counts (`handle:<handle>`). */
export interface HandleRecord {
  key: string;
  display: string;
  firstSeenAt: string;
  tips: number;
  supporters: number;
  claimed: boolean;
  /** What the close of `periodId` has allocated to the handle so far, until it is announced. */
  closing?: { periodId: number; amountMsat: string; allocations: number };
}

/** One supporter's contribution to an escrow, until it is paid out or refunded. */
export interface Lot {
  /** The tip's or allocation's transfer. */
  transferId: string;
  supporterId: string;
  amountMsat: string;
}

/**
 * A handle's lots of one batch, as stored under `lot:<handle>:<first one's transfer id>` (see
 * `Tx.appendToRun`): the batch's time, then each lot as [transfer id, supporter, amount].
 */
type StoredLots = [at: string, ...lots: [transferId: string, supporterId: string, amountMsat: string][]];
/** A lot as formats 2 and 3 stored it: alone, under its transfer's id (format 2 repeated the id here). */
interface StoredLot {
  supporterId: string;
  amountMsat: string;
  at: string;
}

/** What is stored under `lot:<handle>:<id>`. */
export type StoredLotEntry = StoredLots | StoredLot;

const isString = (value: unknown): value is string => typeof value === 'string';

/** Whether `stored` is a lot entry of either form (read outside the hot path: by the sweep). */
function isStoredLotEntry(stored: unknown): stored is StoredLotEntry {
  if (Array.isArray(stored)) {
    const [at, ...lots] = stored as unknown[];
    return isString(at) && lots.every((lot) => Array.isArray(lot) && lot.length === 3 && lot.every(isString));
  }
  const lot = stored as Partial<StoredLot> | null;
  return typeof lot === 'object' && lot !== null && isString(lot.supporterId) && isString(lot.amountMsat) && isString(lot.at);
}

/** The lots stored under `lot:<handle>:<id>`, oldest first, and when they came; a value of another shape is refused. */
export function lotsOf(id: string, stored: StoredLotEntry): { at: string; lots: Lot[] } {
  if (!isStoredLotEntry(stored)) throw notAsStored(`lots ${id}`, 'lots');
  if (!Array.isArray(stored)) return { at: stored.at, lots: [{ transferId: id, supporterId: stored.supporterId, amountMsat: stored.amountMsat }] };
  const [at, ...lots] = stored;
  return { at, lots: lots.map(([transferId, supporterId, amountMsat]) => ({ transferId, supporterId, amountMsat })) };
}

/** A tip as its supporter sees it: the HTTP answer, and (with the handle's pending sum) its event. */
export const tipView = (transfer: Transfer, display: string): TipView => ({
  id: transfer.id,
  handle: display,
  amountMsat: formatMsat(transfer.amountMsat),
  tweetId: transfer.meta?.tweetId ?? null,
  createdAt: transfer.at,
});

/**
 * What a movement into escrow reads and writes, built once for its operation: named to the ledger
 * to be read ahead, then used to read and write. (A string's hash is worked out once per string,
 * and these are looked up several times each.)
 */
export interface EscrowKeys extends HandleKeys {
  supporter: Account;
  /** The supporter's topic of events. */
  supporterTopic: Topic;
  given: string;
}

interface HandleKeys {
  escrow: Account;
  /** The handle's record (`keys.handle`), and its topic of events (`topics.handle`): the same string. */
  handle: Topic;
  /** The prefix of its lot runs. */
  lots: string;
}

/**
 * The keys of the handles and supporters used lately (at most 20,000 of each): the same strings
 * for every operation, so the ledger's maps find them at once (a string built anew is hashed at
 * its first lookup, then compared character by character with the one a map holds).
 */
const handleKeys = new Generations<HandleKeys>(20_000);
const supporterKeys = new Generations<{ account: Account; topic: Topic }>(20_000);

export function escrowKeys(supporterId: string, handleKey: string): EscrowKeys {
  let ofHandle = handleKeys.get(handleKey);
  if (!ofHandle) {
    // One string for the record's key and the topic: `topics.handle` builds the same (events/types.ts).
    ofHandle = { escrow: accounts.escrow(handleKey), handle: keys.handle(handleKey) as Topic, lots: prefixes.lots(handleKey) };
    handleKeys.set(handleKey, ofHandle);
  }
  const ofSupporter = keysOfSupporter(supporterId);
  return { ...ofHandle, supporter: ofSupporter.account, supporterTopic: ofSupporter.topic, given: keys.given(supporterId, handleKey) };
}

function keysOfSupporter(supporterId: string): { account: Account; topic: Topic } {
  let ofSupporter = supporterKeys.get(supporterId);
  if (!ofSupporter) supporterKeys.set(supporterId, (ofSupporter = { account: accounts.supporter(supporterId), topic: topics.supporter(supporterId) }));
  return ofSupporter;
}

/** A supporter's account (`accounts.supporter`), the same string for every operation. */
export const supporterAccount = (supporterId: string): Account => keysOfSupporter(supporterId).account;

/** A movement into escrow: a tip, or a period close's allocation (`periodId`). */
export interface IntoEscrow {
  kind: 'tip' | 'allocation';
  supporterId: string;
  handle: Handle;
  amountMsat: bigint;
  /** Its keys (`escrowKeys`), as named to the ledger to be read ahead. */
  keys: EscrowKeys;
  meta?: Record<string, string>;
  /** For an allocation: the period whose close announces it, in aggregate (see `announceClose`). */
  periodId?: number;
}

/** A movement into escrow: its transfer, and the handle as first seen (as it is shown everywhere). */
export interface Escrowed {
  transfer: Transfer;
  display: string;
}

/**
 * Puts money of a supporter into a handle's escrow, as one lot (stored with the handle's other
 * lots of the batch, `StoredLots`; a handle's lots are stored oldest first). When all it reads is
 * in memory (read ahead) it is booked at once; otherwise it reads as it goes and returns a promise.
 */
export function intoEscrow(tx: Tx, into: IntoEscrow): Escrowed | Promise<Escrowed> {
  const { keys } = into;
  const from = tx.knownBalance(keys.supporter);
  const to = tx.knownBalance(keys.escrow);
  const record = tx.known<HandleRecord>(keys.handle);
  const given = tx.known(keys.given);
  if (from !== undefined && to !== undefined && record !== unread && given !== unread) return book(tx, into, from, to, record, given === undefined);
  return (async () => {
    const stored = await tx.get<HandleRecord>(keys.handle);
    const first = (await tx.get(keys.given)) === undefined;
    return book(tx, into, await tx.balance(keys.supporter), await tx.balance(keys.escrow), stored, first);
  })();
}

/**
 * The transfer, the handle's record and counts, the lot, and for a tip its event: a movement into
 * escrow. A tip is one event for two audiences: its supporter sees `tip.sent`, followers of the
 * handle its public view, `handle.tipped` (see events/hub.ts).
 */
function book(tx: Tx, into: IntoEscrow, fromMsat: bigint, toMsat: bigint, stored: HandleRecord | undefined, firstFromThisSupporter: boolean): Escrowed {
  const { supporterId, handle, amountMsat, periodId, keys: its } = into;
  const transfer = tx.transferKnown(into.kind, its.supporter, its.escrow, amountMsat, { handle: handle.key, ...into.meta }, fromMsat, toMsat);
  const record: HandleRecord = { ...(stored ?? { key: handle.key, display: handle.display, firstSeenAt: tx.nowIso, tips: 0, supporters: 0, claimed: false }) };
  record.tips += 1;
  if (firstFromThisSupporter) {
    record.supporters += 1;
    tx.put(its.given, 0);
  }
  if (periodId === undefined) {
    tx.emit('tip.sent', [its.supporterTopic, its.handle], {
      ...tipView(transfer, record.display),
      pendingMsat: formatMsat(toMsat + amountMsat),
    } satisfies EventData['tip.sent']);
  } else {
    // A close's allocations are announced once per handle at its end, not one by one.
    const sum = record.closing?.periodId === periodId ? record.closing : undefined;
    if (!sum) tx.put(keys.announce(periodId, handle.key), 0);
    record.closing = { periodId, amountMsat: (BigInt(sum?.amountMsat ?? 0) + amountMsat).toString(), allocations: (sum?.allocations ?? 0) + 1 };
  }
  tx.put(its.handle, record);
  // A claimed handle's escrow belongs to its creator (paid out by keysend): no lots to return.
  if (!record.claimed) {
    tx.appendToRun(its.lots, transfer.id, [transfer.id, supporterId, amountMsat.toString()]);
  }
  return { transfer, display: record.display };
}

/**
 * Announces a close's allocations: for each handle it allocated to, one `handle.allocated` event
 * with the sum, in the same operation that clears the sum. Pages of handles, so memory stays
 * bounded; a close cut short by a crash announces at its resumed end what it had not.
 */
export async function announceClose(ledger: Ledger, periodId: number): Promise<number> {
  const prefix = prefixes.announce(periodId);
  let announced = 0;
  for (;;) {
    const marks = await ledger.db.keys({ ...under(prefix), limit: announcePage }).all();
    if (marks.length === 0) return announced;
    const handlesMarked = marks.map((mark) => after(prefix, mark));
    announced += await ledger.run((tx) => announceHandles(tx, periodId, marks, handlesMarked), {
      prefetch: handlesMarked.map((handleKey) => keys.handle(handleKey)),
      balances: handlesMarked.map((handleKey) => accounts.escrow(handleKey)),
    });
  }
}

/** Handles announced per ledger operation. */
const announcePage = 1_000;

/** Clears the `announce:` marks of a page of handles, and announces each handle's sum (once). */
async function announceHandles(tx: Tx, periodId: number, marks: string[], handleKeys: string[]): Promise<number> {
  let count = 0;
  for (let i = 0; i < marks.length; i++) {
    tx.del(marks[i]!);
    const handleKey = handleKeys[i]!;
    const record = await tx.get<HandleRecord>(keys.handle(handleKey));
    const sum = record?.closing;
    if (!record || sum?.periodId !== periodId) continue;
    const { closing: _, ...rest } = record;
    tx.put(keys.handle(handleKey), rest);
    const pendingMsat = await tx.balance(accounts.escrow(handleKey));
    tx.emit('handle.allocated', [topics.handle(handleKey)], {
      handle: record.display,
      periodId,
      amountMsat: formatMsat(BigInt(sum.amountMsat)),
      allocations: sum.allocations,
      pendingMsat: formatMsat(pendingMsat),
    } satisfies EventData['handle.allocated']);
    count += 1;
  }
  return count;
}
