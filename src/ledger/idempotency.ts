// Idempotency keys: an operation run with one returns, to the same key again, its first result and
// changes nothing; the same key with another request (another fingerprint) is refused. The result
// is stored under the key (`keys.idempotency`) in the operation's own batch, with an entry by time
// (`keys.idempotencyWritten`): keys are remembered for a while (a day by default, as payment APIs
// do), then forgotten by `IdempotencyKeys`, so that they do not pile up for good.
import { Refusal } from '../errors.ts';
import type { Logger } from '../process/log.ts';
import { repeat } from '../process/repeat.ts';
import { InvariantViolation } from './invariants.ts';
import { keys, prefixes, under } from './keys.ts';
import type { Ledger } from './ledger.ts';
import { type Idempotency, type Tx, unread } from './tx.ts';

interface StoredIdempotency {
  fingerprint: string;
  result: unknown;
  at: string;
}

const isStoredIdempotency = (stored: unknown): stored is StoredIdempotency =>
  typeof stored === 'object' && stored !== null && typeof (stored as StoredIdempotency).fingerprint === 'string';

export const idempotencyKey = (idem: Idempotency): string => keys.idempotency(idem.scope, idem.key);

/** Runs `run` unless its key was seen: its result, or a promise of it if it had to wait (for a read). */
export function runOnce(tx: Tx, run: (tx: Tx) => unknown, idem: Idempotency): unknown {
  const idemKey = idempotencyKey(idem);
  const seen = tx.known(idemKey);
  if (seen === unread) return tx.get(idemKey).then((read) => runUnlessSeen(tx, run, idem, idemKey, read));
  return runUnlessSeen(tx, run, idem, idemKey, seen);
}

function runUnlessSeen(tx: Tx, run: (tx: Tx) => unknown, idem: Idempotency, idemKey: string, seen: unknown): unknown {
  if (seen !== undefined) {
    if (!isStoredIdempotency(seen)) throw new InvariantViolation(`the store holds ${JSON.stringify(seen)} under ${idemKey}: not an idempotency record`);
    if (seen.fingerprint !== idem.fingerprint) throw new Refusal('idempotency_key_reused', 'this Idempotency-Key was used with another request');
    return seen.result;
  }
  const keepResult = (value: unknown) => {
    tx.put(idemKey, { fingerprint: idem.fingerprint, result: value, at: tx.nowIso } satisfies StoredIdempotency);
    tx.put(keys.idempotencyWritten(tx.nowIso, idemKey), 0);
    return value;
  };
  const value = run(tx);
  return value instanceof Promise ? value.then(keepResult) : keepResult(value);
}

/** Most records forgotten in one operation, and operations in one sweep (the next sweep goes on). */
const forgetBatchMax = 1_000;
const forgetBatchesPerSweepMax = 100;
const sweepIntervalMs = 10 * 60_000;
/** An ISO time is this long: what follows it (and a colon) in an `idemat:` key is the record's key. */
const isoLength = '2026-01-01T00:00:00.000Z'.length;

/** Forgets idempotency keys `keepMs` after they were first used: a retry after that runs again. */
export class IdempotencyKeys {
  readonly #ledger: Ledger;
  readonly #log: Logger;
  readonly #keepMs: number;
  readonly #now: () => Date;
  #loop: { stop(): void } | undefined;

  constructor(ledger: Ledger, log: Logger, options: { keepMs: number; now?: () => Date }) {
    this.#ledger = ledger;
    this.#log = log;
    this.#keepMs = options.keepMs;
    this.#now = options.now ?? (() => new Date());
  }

  /** Forgets the keys used before the time kept, a batch at a time, up to a bound a sweep; how many. */
  async forgetOld(): Promise<number> {
    const before = new Date(this.#now().getTime() - this.#keepMs).toISOString();
    let forgotten = 0;
    for (let batch = 0; batch < forgetBatchesPerSweepMax; batch += 1) {
      const written = await this.#ledger.db
        .keys({ gt: prefixes.idempotencyWritten, lt: `${prefixes.idempotencyWritten}${before}`, limit: forgetBatchMax })
        .all();
      if (written.length === 0) break;
      await this.#ledger.run(
        async (tx) => {
          for (const key of written) {
            tx.del(key);
            // The record this entry was written with, unless the key was used again since (a sweep
            // of before, cut short, may have left the entry).
            const at = key.slice(prefixes.idempotencyWritten.length, prefixes.idempotencyWritten.length + isoLength);
            const idemKey = key.slice(prefixes.idempotencyWritten.length + isoLength + 1);
            if (!idemKey.startsWith(prefixes.idempotency)) continue;
            const stored = await tx.get(idemKey);
            if (isStoredIdempotency(stored) && stored.at === at) tx.del(idemKey);
          }
        },
        { sync: true },
      );
      forgotten += written.length;
      if (written.length < forgetBatchMax) break;
    }
    return forgotten;
  }

  /**
   * Gives each record written before there were `idemat:` entries its entry (once: a mark says it
   * is done; cut short, it is done again, to the same entries), so that it is forgotten too.
   */
  async indexEarlier(): Promise<number> {
    if ((await this.#ledger.read(keys.idempotencyIndexed)) !== undefined) return 0;
    let indexed = 0;
    let chunk: [string, string][] = [];
    const write = async () => {
      const entries = chunk;
      chunk = [];
      await this.#ledger.run((tx) => {
        for (const [idemKey, at] of entries) tx.put(keys.idempotencyWritten(at, idemKey), 0);
      });
      indexed += entries.length;
    };
    for await (const [key, value] of this.#ledger.db.iterator(under(prefixes.idempotency))) {
      const at = isStoredIdempotency(value) && typeof value.at === 'string' && value.at.length === isoLength ? value.at : this.#now().toISOString();
      chunk.push([key, at]);
      if (chunk.length >= forgetBatchMax) await write();
    }
    if (chunk.length > 0) await write();
    await this.#ledger.run((tx) => tx.put(keys.idempotencyIndexed, this.#now().toISOString()), { sync: true });
    if (indexed > 0) this.#log.info({ indexed }, 'idempotency keys written before their expiry was kept: now forgotten in time too');
    return indexed;
  }

  start(): void {
    this.stop();
    let indexed = false;
    this.#loop = repeat(
      'forgetting old idempotency keys',
      sweepIntervalMs,
      async () => {
        if (!indexed) {
          await this.indexEarlier();
          indexed = true;
        }
        const forgotten = await this.forgetOld();
        if (forgotten > 0) this.#log.debug({ forgotten }, 'old idempotency keys forgotten');
      },
      this.#log,
    );
  }

  stop(): void {
    this.#loop?.stop();
  }
}
