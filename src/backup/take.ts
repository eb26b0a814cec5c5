// Taking a backup while tipd runs: one pass of a LevelDB iterator over the whole store, copied into
// a new LevelDB folder that a tipd can open as its own, with its manifest; written under a temporary
// name, fsynced, then renamed into place, so that a backup that exists is whole.
//
// Consistency: an iterator reads from the snapshot LevelDB takes when it is made, so the copy is
// the store at one instant, however long it takes and whatever the writer commits meanwhile. The
// writer commits each group of operations as one LevelDB batch, which is atomic: a snapshot holds
// all of a committed batch or none of it (never half an operation, never a batch staged but not
// yet written: the pipelined writer stages batch N+1 in memory only). The figures in the manifest
// are tallied from the same entries as they are copied, so they are those of that instant.
import fs from 'node:fs';
import path from 'node:path';
import { Level } from 'level';
import { Refusal } from '../errors.ts';
import { InvariantViolation } from '../ledger/invariants.ts';
import type { Store } from '../ledger/store.ts';
import type { Logger } from '../process/log.ts';
import { syncPath, syncTree } from './files.ts';
import { ledgerFolder, type Manifest, manifestFile, manifestOf } from './manifest.ts';
import { Tally } from './tally.ts';

/** Entries read, and written, at a time: the copy reads the next chunk while the last one is written. */
const chunkEntriesMax = 2_000;
/** Backups are folders named by the time they were taken, so that they sort. */
export const backupPrefix = 'tipd-backup-';

export interface BackupTaken extends Manifest {
  /** The backup's folder name, and its full path on tipd's machine. */
  name: string;
  path: string;
}

/** Copies what `db` holds at this instant into the new LevelDB at `to`; tallies it on the way. */
export async function copySnapshot(db: Store, to: string, onProgress?: (keys: number) => void): Promise<Tally> {
  const tally = new Tally();
  const target = new Level<string, string>(to, { keyEncoding: 'utf8', valueEncoding: 'utf8', createIfMissing: true, errorIfExists: true });
  await target.open();
  // Values are copied as their JSON text: byte for byte what tipd wrote.
  const entries = db.iterator<string, string>({ keyEncoding: 'utf8', valueEncoding: 'utf8' });
  let writing: Promise<void> | undefined;
  try {
    for (;;) {
      const chunk = await entries.nextv(chunkEntriesMax);
      if (chunk.length === 0) break;
      for (const [key, value] of chunk) tally.add(key, value);
      await writing;
      writing = target.batch(chunk.map(([key, value]) => ({ type: 'put' as const, key, value })));
      onProgress?.(tally.keys);
    }
    await writing;
  } finally {
    // A write that failed after a read failed is the read's error's business.
    await writing?.catch(() => {});
    await entries.close();
    await target.close();
  }
  return tally;
}

/** Takes a backup of `db` into a new folder of `dir`: its LevelDB (`ledger/`) and `backup.json`. */
export async function takeBackup(db: Store, dir: string, now: Date, log?: Logger): Promise<BackupTaken> {
  const started = performance.now();
  const name = `${backupPrefix}${now.toISOString().replaceAll(':', '-')}`;
  const final = path.resolve(dir, name);
  const partial = path.resolve(dir, `.${name}.partial`);
  fs.mkdirSync(dir, { recursive: true });
  if (fs.existsSync(final)) throw new Refusal('backup_in_progress', `${name} exists already; take the next one a moment later`);
  try {
    fs.mkdirSync(partial);
    const tally = await copySnapshot(db, path.join(partial, ledgerFolder), (keys) => log?.debug({ backup: name, keys }, 'backup under way'));
    const manifest = manifestOf(tally.result(), now, Math.round(performance.now() - started));
    fs.writeFileSync(path.join(partial, manifestFile), `${JSON.stringify(manifest, null, 2)}\n`, { flag: 'wx' });
    syncTree(partial);
    fs.renameSync(partial, final);
    syncPath(dir);
    return { name, path: final, ...manifest, tookMs: Math.round(performance.now() - started) };
  } catch (err) {
    fs.rmSync(partial, { recursive: true, force: true });
    // A store that holds something tipd never writes stops tipd, as the audit's reading it would.
    if (err instanceof InvariantViolation || err instanceof Refusal) throw err;
    throw new Refusal('backup_failed', `the backup could not be written, and nothing of it is left: ${(err as Error).message}`);
  }
}

/** The operator's backups: one at a time, into one folder (TIPD_BACKUP_DIR), never anywhere a request names. */
export class Backups {
  readonly #db: Store;
  readonly #dir: string;
  readonly #log: Logger;
  readonly #now: () => Date;
  #taking = false;

  constructor(db: Store, dir: string, log: Logger, now: () => Date = () => new Date()) {
    this.#db = db;
    this.#dir = dir;
    this.#log = log;
    this.#now = now;
  }

  async take(): Promise<BackupTaken> {
    if (this.#taking) throw new Refusal('backup_in_progress');
    this.#taking = true;
    try {
      const taken = await takeBackup(this.#db, this.#dir, this.#now(), this.#log);
      const { name, path: where, keys, bytes, tookMs, lastTransferId, lastEventSeq } = taken;
      this.#log.info({ name, path: where, keys, bytes, tookMs, lastTransferId, lastEventSeq }, 'backup taken');
      return taken;
    } finally {
      this.#taking = false;
    }
  }
}
