// The LevelDB store of one tipd: opened once, exclusively (LevelDB's own lock file), with JSON
// values. Only the ledger writer (ledger.ts) writes to it; everything else reads.
import { Level } from 'level';

export type Store = Level<string, unknown>;

export class StoreLockedError extends Error {}

export async function openStore(path: string): Promise<Store> {
  const db = new Level<string, unknown>(path, { valueEncoding: 'json' });
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
