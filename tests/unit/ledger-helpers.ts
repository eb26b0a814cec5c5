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
