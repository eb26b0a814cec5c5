// The layout of the store (`meta:format`): what the stored keys mean changes with tipd's versions,
// so a store says which layout it has, and a tipd opens only a store it reads right.
import { keys } from './keys.ts';
import type { Store } from './store.ts';

/**
 * A new store gets the current format; a store of format 2, 3 or 4 is marked 5 at once (3 added
 * history runs, 4 runs of escrow lots, 5 events stored once for a supporter and a handle's
 * followers; what the older formats wrote is read as it is, so there is nothing to rewrite, but a
 * tipd that reads only an older one must no longer open it); a store of another layout is refused
 * rather than read wrong.
 */
export const storeFormat = 5;
/** Formats this tipd opens as they are (and marks with `storeFormat`). */
const upgradableFormats: unknown[] = [2, 3, 4];

export class StoreFormatError extends Error {}

/** Marks a new store, or one of an older format read as it is; refuses any other. */
export async function checkFormat(db: Store): Promise<void> {
  const format = await db.get(keys.format);
  if (format === storeFormat) return;
  if (upgradableFormats.includes(format)) return db.put(keys.format, storeFormat, { sync: true });
  if (format === undefined) {
    const [anyKey] = await db.keys({ limit: 1 }).all();
    if (anyKey === undefined) return db.put(keys.format, storeFormat, { sync: true });
  }
  const written =
    format === undefined
      ? 'a tipd older than 0.2 (format 1)'
      : typeof format === 'number' && Number.isSafeInteger(format)
        ? `another tipd version (format ${format})`
        : `something other than tipd (its format mark, ${keys.format}, is ${JSON.stringify(format)?.slice(0, 40)})`;
  throw new StoreFormatError(
    `the data folder was written by ${written}; this tipd reads format ${storeFormat} and has no migration for it: keep that folder for the tipd that wrote it, or start this one on a new TIPD_DATA_DIR`,
  );
}
