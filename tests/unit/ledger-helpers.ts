import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Ledger, type LedgerOptions } from '../../src/ledger/ledger.ts';
import { openStore, type Store } from '../../src/ledger/store.ts';

/** A ledger on a fresh LevelDB in a temporary folder; `reopen` closes and opens the same store. */
export async function tempLedger(options: LedgerOptions = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tipd-ledger-'));
  let db: Store = await openStore(dir);
  let ledger = await Ledger.open(db, options);
  return {
    dir,
    get ledger() {
      return ledger;
    },
    get db() {
      return db;
    },
    async reopen(reopenOptions: LedgerOptions = options) {
      await ledger.close();
      await db.close();
      db = await openStore(dir);
      ledger = await Ledger.open(db, reopenOptions);
      return ledger;
    },
    async dispose() {
      await ledger.close();
      await db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Starts `start`'s operations while the writer is kept busy, so that they queue up and run as one
 * batch; their outcomes once they have all settled.
 */
export async function inOneBatch<T>(ledger: Ledger, start: () => Promise<T>[]): Promise<PromiseSettledResult<T>[]> {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const busy = ledger.run(() => gate);
  const started = start();
  release();
  await busy;
  return Promise.allSettled(started);
}

/** Waits until what is due now has run: the ledger tells `onBroken` of a breach only then. */
export const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
