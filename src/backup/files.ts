// Making a folder of files durable: fsync each file, then the folders that name them, so that a
// backup that was answered survives a power cut; and copying a closed LevelDB folder file by file.
import fs from 'node:fs';
import path from 'node:path';

/** fsyncs every file under `dir`, then `dir` and its subfolders themselves. */
export function syncTree(dir: string): void {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) syncTree(full);
    else if (entry.isFile()) syncPath(full);
  }
  syncPath(dir);
}

/** fsyncs one file or folder (a folder's entries: what a rename changed). */
export function syncPath(file: string): void {
  const fd = fs.openSync(file, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Copies the LevelDB folder `from` (closed: no tipd has it open) to the new folder `to`, without its lock file. */
export function copyLevelDb(from: string, to: string): void {
  fs.mkdirSync(to, { recursive: false });
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    if (!entry.isFile() || entry.name === 'LOCK') continue;
    fs.copyFileSync(path.join(from, entry.name), path.join(to, entry.name), fs.constants.COPYFILE_EXCL);
  }
}
