// How the ledger's records look in the store, and the cheap checks that what is read back has that
// shape: balances and sequence numbers (decimal strings), transfers (compact JSON arrays, the id in
// the key) and runs of them, runs of events. A record of another shape is a broken store, never
// misread: an `InvariantViolation`. (Checks are typeof and a regex, as some are on the writer's path.)
import type { StoredEvent } from '../events/types.ts';
import type { Account } from './accounts.ts';
import { InvariantViolation } from './invariants.ts';
import { pad } from './keys.ts';

export interface Transfer {
  id: string;
  kind: string;
  debit: Account;
  credit: Account;
  amountMsat: bigint;
  at: string;
  meta: Record<string, string> | undefined;
}

/** A transfer as stored (`hist:<supporter>:<id>` or `xfer:<id>`): a JSON array, the id being in the key. */
export type StoredTransfer = [kind: string, debit: Account, credit: Account, amountMsat: string, at: string, meta?: Record<string, string>];
/**
 * Transfers of one operation with consecutive ids that touch one supporter (a close's allocation
 * shares), stored in that supporter's history as one value under the first one's id.
 */
export type StoredRun = StoredTransfer[];
/** Most transfers in a run: a page of history reads at most this many more than it returns. */
export const historyRunMax = 100;
/** Most records in a batch's run under one prefix (`Tx.appendToRun`). */
export const recordRunMax = 100;
/** Most events stored under one key. */
export const eventsPerKeyMax = 256;

export const isRun = (stored: StoredTransfer | StoredRun): stored is StoredRun => Array.isArray(stored[0]);

export const encodeTransfer = (t: Transfer): StoredTransfer =>
  t.meta === undefined ? [t.kind, t.debit, t.credit, t.amountMsat.toString(), t.at] : [t.kind, t.debit, t.credit, t.amountMsat.toString(), t.at, t.meta];

const decodeTransfer = (id: string, [kind, debit, credit, amountMsat, at, meta]: StoredTransfer): Transfer => ({
  id,
  kind,
  debit,
  credit,
  amountMsat: BigInt(amountMsat),
  at,
  meta,
});

/** A whole number as `BigInt` reads it, written as `bigint.toString()` writes it. */
const decimal = /^-?(0|[1-9]\d*)$/;

/** Names what was found by its type only: a stored value may hold a secret, and logs never do. */
const malformed = (what: string, stored: unknown) => new InvariantViolation(`the store holds ${kindOf(stored)} as ${what}: not what tipd writes there`);

const kindOf = (value: unknown): string => {
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  return typeof value === 'object' || typeof value === 'undefined' ? `an ${typeof value}` : `a ${typeof value}`;
};

/** A decimal string as stored (a balance, a sequence number; absent: 0). */
export function storedInteger(stored: unknown, what: string): bigint {
  if (stored === undefined) return 0n;
  if (typeof stored !== 'string' || !decimal.test(stored)) throw malformed(what, stored);
  return BigInt(stored);
}

/** The balance of `account` as stored (absent: 0). */
export const storedBalance = (stored: unknown, account: string): bigint => storedInteger(stored, `the balance of ${account}`);

const isStoredTransfer = (stored: unknown): stored is StoredTransfer =>
  Array.isArray(stored) &&
  (stored.length === 5 || (stored.length === 6 && typeof stored[5] === 'object' && stored[5] !== null)) &&
  typeof stored[0] === 'string' &&
  typeof stored[1] === 'string' &&
  typeof stored[2] === 'string' &&
  typeof stored[3] === 'string' &&
  decimal.test(stored[3]) &&
  typeof stored[4] === 'string';

/** A stored transfer or run of transfers (of a history), checked. */
export function storedHistoryEntry(stored: unknown, key: string): StoredTransfer | StoredRun {
  if (isStoredTransfer(stored)) return stored;
  if (Array.isArray(stored) && stored.length > 0 && stored.every(isStoredTransfer)) return stored;
  throw malformed(`the transfer ${key}`, stored);
}

/** The transfers of a history entry stored under `id` (a run: under its first one's), newest first. */
export function transfersOf(id: string, stored: StoredTransfer | StoredRun): Transfer[] {
  if (!isRun(stored)) return [decodeTransfer(id, stored)];
  const first = BigInt(id);
  const transfers: Transfer[] = [];
  for (let i = stored.length - 1; i >= 0; i--) transfers.push(decodeTransfer(pad(first + BigInt(i)), stored[i]!));
  return transfers;
}

const isStoredEvent = (event: unknown): boolean => {
  if (typeof event !== 'object' || event === null) return false;
  const { seq, type, at, topics, data } = event as Record<string, unknown>;
  return Number.isSafeInteger(seq) && typeof type === 'string' && typeof at === 'string' && Array.isArray(topics) && typeof data === 'object' && data !== null;
};

/** A run of a batch's events (`evt:<seq of the last one>`), checked. */
export function storedEvents(stored: unknown, key: string): StoredEvent[] {
  if (Array.isArray(stored) && stored.length > 0 && stored.every(isStoredEvent)) return stored as StoredEvent[];
  throw malformed(`the events ${key}`, stored);
}
