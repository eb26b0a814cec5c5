// Idempotency keys: an operation run with one returns, to the same key again, its first result and
// changes nothing; the same key with another request (another fingerprint) is refused. The result
// is stored under the key (`keys.idempotency`) in the operation's own batch.
import { Refusal } from '../errors.ts';
import { InvariantViolation } from './invariants.ts';
import { keys } from './keys.ts';
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
    return value;
  };
  const value = run(tx);
  return value instanceof Promise ? value.then(keepResult) : keepResult(value);
}
