// Restoring a backup: its LevelDB is copied next to the data folder's `ledger/`, examined there as
// the check examines a backup, marked as restored (a tipd started on it holds payments until its
// operator resumes them: restored.ts), then renamed into place, so that a data folder has either no
// ledger or a whole, checked one. A data folder that has a ledger already (or that a tipd holds) is
// refused: a restore never overwrites anything.
import fs from 'node:fs';
import path from 'node:path';
import { openStore, StoreLockedError } from '../ledger/store.ts';
import { examine, type Examined } from './check.ts';
import { copyLevelDb, syncPath, syncTree } from './files.ts';
import { markRestored } from './restored.ts';
import { BackupError, ledgerFolder, type Manifest, readManifest } from './manifest.ts';

export interface Restored extends Examined {
  manifest: Manifest;
  /** The restored store: `<dataDir>/ledger`. */
  ledgerDir: string;
}

/** Refuses a data folder whose ledger a tipd holds, or that has a ledger at all. */
async function refuseUnlessEmpty(ledgerDir: string): Promise<void> {
  if (!fs.existsSync(ledgerDir)) return;
  if (fs.readdirSync(ledgerDir).length === 0) return fs.rmdirSync(ledgerDir);
  try {
    const store = await openStore(ledgerDir);
    await store.close();
  } catch (err) {
    if (err instanceof StoreLockedError)
      throw new BackupError(`a running tipd holds ${ledgerDir}: stop it, and move that folder aside, before restoring into it`);
  }
  throw new BackupError(
    `${ledgerDir} exists and is not empty: a restore never overwrites a ledger; move it aside (keep it: it may hold what the backup lacks), then restore`,
  );
}

/** Restores the backup in `backupDir` into `dataDir` (TIPD_DATA_DIR): `<dataDir>/ledger`. */
export async function restoreBackup(backupDir: string, dataDir: string, onProgress?: (keys: number) => void): Promise<Restored> {
  const manifest = readManifest(backupDir);
  const ledgerDir = path.resolve(dataDir, ledgerFolder);
  await refuseUnlessEmpty(ledgerDir);
  fs.mkdirSync(dataDir, { recursive: true });
  const restoring = path.resolve(dataDir, `.${ledgerFolder}.restoring`);
  fs.rmSync(restoring, { recursive: true, force: true });
  try {
    copyLevelDb(path.join(backupDir, ledgerFolder), restoring);
    const examined = await examine(restoring, manifest, onProgress);
    if (examined.problems.length > 0) throw new BackupError(`the backup does not check, nothing was restored:\n  ${examined.problems.join('\n  ')}`);
    const store = await openStore(restoring);
    try {
      await markRestored(store, manifest.takenAt);
    } finally {
      await store.close();
    }
    syncTree(restoring);
    // Checked again at the last moment: a tipd started meanwhile would have made the folder.
    await refuseUnlessEmpty(ledgerDir);
    fs.renameSync(restoring, ledgerDir);
    syncPath(path.resolve(dataDir));
    return { manifest, ledgerDir, ...examined };
  } finally {
    fs.rmSync(restoring, { recursive: true, force: true });
  }
}
