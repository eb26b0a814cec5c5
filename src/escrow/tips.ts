// Tips: a supporter's money moved at once into the escrow of an X handle. Escrow remembers, lot by
// lot, which supporter each sat came from and when, so that unclaimed sats can go back exactly.
// Handles are recorded as first seen, with counts of tips and distinct supporters.
import type { Handle } from './handles.ts';
import { Generations } from '../ledger/generations.ts';
import { type Account, accounts, unread, type Ledger, type Transfer, type Tx } from '../ledger/ledger.ts';
import { pad, prefixEnd } from '../ledger/keys.ts';
import { formatMsat } from '../ledger/money.ts';
import type { Topic } from '../events/types.ts';

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

/** The lots stored under `lot:<handle>:<id>`, oldest first, and when they came. */
export function lotsOf(id: string, stored: StoredLotEntry): { at: string; lots: Lot[] } {
  if (!Array.isArray(stored)) return { at: stored.at, lots: [{ transferId: id, supporterId: stored.supporterId, amountMsat: stored.amountMsat }] };
  const [at, ...lots] = stored;
  return { at, lots: lots.map(([transferId, supporterId, amountMsat]) => ({ transferId, supporterId, amountMsat })) };
}

export interface TipView {
  id: string;
  handle: string;
  amountMsat: string;
  tweetId: string | null;
  createdAt: string;
}

/** A tip as its supporter sees it: the HTTP answer, and (with the handle's pending sum) its event. */
const tipView = (transfer: Transfer, display: string): TipView => ({
  id: transfer.id,
  handle: display,
  amountMsat: formatMsat(transfer.amountMsat),
  tweetId: transfer.meta?.tweetId ?? null,
  createdAt: transfer.at,
});

/** Marks that a supporter has given to a handle (supporter first: a close reads them in ranges). */
export const givenKey = (supporterId: string, handleKey: string) => `given:${supporterId}:${handleKey}`;

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
  /** The handle's record, and its topic of events (the same string). */
  handle: `handle:${string}`;
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
  if (!ofHandle) handleKeys.set(handleKey, (ofHandle = { escrow: accounts.escrow(handleKey), handle: `handle:${handleKey}`, lots: `lot:${handleKey}:` }));
  const ofSupporter = keysOfSupporter(supporterId);
  return { ...ofHandle, supporter: ofSupporter.account, supporterTopic: ofSupporter.topic, given: givenKey(supporterId, handleKey) };
}

function keysOfSupporter(supporterId: string): { account: Account; topic: Topic } {
  let keys = supporterKeys.get(supporterId);
  if (!keys) supporterKeys.set(supporterId, (keys = { account: accounts.supporter(supporterId), topic: `account:${supporterId}` }));
  return keys;
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
  const { supporterId, handle, amountMsat, periodId, keys } = into;
  const transfer = tx.transferKnown(into.kind, keys.supporter, keys.escrow, amountMsat, { handle: handle.key, ...into.meta }, fromMsat, toMsat);
  const record: HandleRecord = { ...(stored ?? { key: handle.key, display: handle.display, firstSeenAt: tx.nowIso, tips: 0, supporters: 0, claimed: false }) };
  record.tips += 1;
  if (firstFromThisSupporter) {
    record.supporters += 1;
    tx.put(keys.given, 0);
  }
  if (periodId === undefined) {
    tx.emit('tip.sent', [keys.supporterTopic, keys.handle], { ...tipView(transfer, record.display), pendingMsat: formatMsat(toMsat + amountMsat) });
  } else {
    // A close's allocations are announced once per handle at its end, not one by one.
    const sum = record.closing?.periodId === periodId ? record.closing : undefined;
    if (!sum) tx.put(announceKey(periodId, handle.key), 0);
    record.closing = { periodId, amountMsat: (BigInt(sum?.amountMsat ?? 0) + amountMsat).toString(), allocations: (sum?.allocations ?? 0) + 1 };
  }
  tx.put(keys.handle, record);
  // A claimed handle's escrow belongs to its creator (paid out by keysend): no lots to return.
  if (!record.claimed) {
    tx.appendToRun(keys.lots, transfer.id, [transfer.id, supporterId, amountMsat.toString()]);
  }
  return { transfer, display: record.display };
}

/** Marks a handle that a close allocated to, to be announced at its end. */
const announceKey = (periodId: number, handleKey: string) => `announce:${pad(periodId)}:${handleKey}`;

/**
 * Announces a close's allocations: for each handle it allocated to, one `handle.allocated` event
 * with the sum, in the same operation that clears the sum. Pages of handles, so memory stays
 * bounded; a close cut short by a crash announces at its resumed end what it had not.
 */
export async function announceClose(ledger: Ledger, periodId: number): Promise<number> {
  const prefix = `announce:${pad(periodId)}:`;
  let announced = 0;
  for (;;) {
    const keys = await ledger.db.keys({ gt: prefix, lt: prefixEnd(prefix), limit: announcePage }).all();
    if (keys.length === 0) return announced;
    announced += await ledger.run(
      async (tx) => {
        let count = 0;
        for (const key of keys) {
          tx.del(key);
          const handleKey = key.slice(prefix.length);
          const record = await tx.get<HandleRecord>(`handle:${handleKey}`);
          const sum = record?.closing;
          if (!record || sum?.periodId !== periodId) continue;
          const { closing: _, ...rest } = record;
          tx.put(`handle:${handleKey}`, rest);
          const pendingMsat = await tx.balance(accounts.escrow(handleKey));
          tx.emit('handle.allocated', [`handle:${handleKey}`], {
            handle: record.display,
            periodId,
            amountMsat: formatMsat(BigInt(sum.amountMsat)),
            allocations: sum.allocations,
            pendingMsat: formatMsat(pendingMsat),
          });
          count += 1;
        }
        return count;
      },
      { prefetch: keys.map((key) => `handle:${key.slice(prefix.length)}`), balances: keys.map((key) => accounts.escrow(key.slice(prefix.length))) },
    );
  }
}

/** Handles announced per ledger operation. */
const announcePage = 1_000;

export class Tips {
  readonly #ledger: Ledger;
  constructor(ledger: Ledger) {
    this.#ledger = ledger;
  }

  tip(args: {
    supporterId: string;
    handle: Handle;
    amountMsat: bigint;
    tweetId: string | null;
    idempotency?: { key: string; fingerprint: string };
  }): Promise<TipView> {
    const { supporterId, handle, amountMsat, tweetId } = args;
    const sent = ({ transfer, display }: Escrowed): TipView => tipView(transfer, display);
    const keys = escrowKeys(supporterId, handle.key);
    return this.#ledger.run(
      (tx) => {
        const escrowed = intoEscrow(tx, { kind: 'tip', supporterId, handle, amountMsat, keys, ...(tweetId ? { meta: { tweetId } } : {}) });
        return escrowed instanceof Promise ? escrowed.then(sent) : sent(escrowed);
      },
      {
        sync: true,
        prefetch: [keys.handle, keys.given],
        balances: [keys.supporter, keys.escrow],
        ...(args.idempotency ? { idempotency: { scope: supporterId, ...args.idempotency } } : {}),
      },
    );
  }

  async handle(handle: Handle): Promise<{ handle: string; claimed: boolean; pendingMsat: string; supporters: number; tips: number }> {
    const record = await this.#ledger.read<HandleRecord>(`handle:${handle.key}`);
    const pendingMsat = await this.#ledger.balance(accounts.escrow(handle.key));
    return {
      handle: record?.display ?? handle.display,
      claimed: record?.claimed ?? false,
      pendingMsat: formatMsat(pendingMsat),
      supporters: record?.supporters ?? 0,
      tips: record?.tips ?? 0,
    };
  }
}
