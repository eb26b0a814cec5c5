// The LevelDB store of one tipd: opened once, exclusively (LevelDB's own lock file), with JSON
// values. Only the ledger's writer (writer.ts) writes to it; everything else reads.
//
// LevelDB maps the table files it has open into memory, and what it has read of them counts in
// tipd's resident memory: a bounded table cache (`maxOpenFiles`) bounds that too.
import { Level } from 'level';

export type Store = Level<string, unknown>;

/** Table files LevelDB keeps open (and mapped), each of up to 2 MiB. */
const openFilesMax = 50;
// LevelDB's write buffer (memtable) stays at its default of 4 MiB. 8 MiB makes a million-flattr
// close compact less (3–5 s less CPU in LevelDB's threads), but it ends no sooner, as its main
// thread is the longer, and it peaks 15–25 MiB higher (bench/close.ts).

export class StoreLockedError extends Error {}

export async function openStore(path: string): Promise<Store> {
  const db = new Level<string, unknown>(path, { valueEncoding: 'json', maxOpenFiles: openFilesMax });
  try {
    await db.open();
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause;
    if (cause?.code === 'LEVEL_LOCKED') {
      throw new StoreLockedError(`the data folder ${path} is in use by another tipd (LevelDB lock held); stop that one first`);
    }
    throw err;
  }
  return db;
}
