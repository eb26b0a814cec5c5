// What one pass over a store's entries adds up to, in key order: how many, a SHA-256 of them all,
// and the ledger's figures (balances by kind of account, the last transfer id and event number, the
// format mark, the settle cursor). The backup tallies what it copies; the check tallies the copy,
// and the two must agree to the byte.
import { createHash } from 'node:crypto';
import { keys, prefixes } from '../ledger/keys.ts';
import { addToTotals, noTotals, type AccountKind } from '../ledger/queries.ts';
import { storedInteger } from '../ledger/stored.ts';

export interface Tallied {
  keys: number;
  /** Keys and values as stored (UTF-8 JSON), in bytes. */
  bytes: number;
  /** SHA-256 (hex) of every key and value in key order, each length-prefixed. */
  sha256: string;
  totals: Record<AccountKind, bigint>;
  lastTransferId: bigint;
  lastEventSeq: bigint;
  /** `meta:format` as stored (absent: undefined). */
  storeFormat: unknown;
  /** `cursor:settle`: LND's settle index of the last settled invoice handled (absent: null). */
  settleCursor: unknown;
}

export class Tally {
  #keys = 0;
  #bytes = 0;
  readonly #hash = createHash('sha256');
  readonly #totals = noTotals();
  #lastTransferId = 0n;
  #lastEventSeq = 0n;
  #storeFormat: unknown = undefined;
  #settleCursor: unknown = null;

  /** Adds one entry, as stored: `value` is its JSON text. Entries come in key order. */
  add(key: string, value: string): void {
    this.#keys += 1;
    this.#bytes += Buffer.byteLength(key) + Buffer.byteLength(value);
    // Length-prefixed, so that no two different stores hash alike.
    this.#hash.update(`${key.length}:${key}${value.length}:${value}`);
    if (key.startsWith(prefixes.balances)) addToTotals(this.#totals, key.slice(prefixes.balances.length), JSON.parse(value));
    else if (key === keys.sequence('xfer')) this.#lastTransferId = storedInteger(JSON.parse(value), 'the last xfer number');
    else if (key === keys.sequence('event')) this.#lastEventSeq = storedInteger(JSON.parse(value), 'the last event number');
    else if (key === keys.format) this.#storeFormat = JSON.parse(value);
    else if (key === keys.settleCursor) this.#settleCursor = JSON.parse(value);
  }

  get keys(): number {
    return this.#keys;
  }

  /** What was added; the digest is final (call once). */
  result(): Tallied {
    return {
      keys: this.#keys,
      bytes: this.#bytes,
      sha256: this.#hash.digest('hex'),
      totals: { ...this.#totals },
      lastTransferId: this.#lastTransferId,
      lastEventSeq: this.#lastEventSeq,
      storeFormat: this.#storeFormat,
      settleCursor: this.#settleCursor,
    };
  }
}
