// The LevelDB store of one tipd: opened once, exclusively (LevelDB's own lock file), with JSON
// values. Only the ledger writer (ledger.ts) writes to it; everything else reads.
//
// LevelDB maps the table files it has open into memory, and what it has read of them counts in
// tipd's resident memory: a bounded table cache (`maxOpenFiles`) bounds that too.
import { Level } from 'level';

export type Store = Level<string, unknown>;

/** Table files LevelDB keeps open (and mapped), each of up to 2 MiB. */
const openFilesMax = 50;
/**
 * LevelDB's memtable: writes are gathered in memory up to this size, then written out as a table
 * file. Twice LevelDB's default of 4 MiB: each table file then carries more of the keys that later
 * merges rewrite, so a million-flattr close writes about 15% less in compaction and spends about
 * 15% less CPU overall, for about 10 MiB more memory (the memtable and the one being written).
 */
const writeBufferBytes = 8 << 20;

export class StoreLockedError extends Error {}

export async function openStore(path: string): Promise<Store> {
  const db = new Level<string, unknown>(path, { valueEncoding: 'json', maxOpenFiles: openFilesMax, writeBufferSize: writeBufferBytes });
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

/** Keys sort as strings: numbers in keys are zero-padded to this width. */
export const pad = (n: number | bigint): string => n.toString().padStart(16, '0');

/** The smallest string above every key that starts with `prefix` (for range reads). */
export const prefixEnd = (prefix: string): string => `${prefix}\xff`;
