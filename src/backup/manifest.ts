// A backup's own description (`backup.json` beside its `ledger/` folder): when it was taken, what
// it holds (keys, bytes, a SHA-256 of every entry), and the ledger's figures in the snapshot it
// copied, laid out as GET /v1/admin/audit lays them out. The check compares a copy with it.
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { formatMsat } from '../ledger/money.ts';
import type { Tallied } from './tally.ts';

export const manifestFile = 'backup.json';
/** The LevelDB folder of a backup: what tipd opens as `<TIPD_DATA_DIR>/ledger`. */
export const ledgerFolder = 'ledger';

const msat = z.string().regex(/^-?(0|[1-9]\d*)$/, 'must be a whole number of msat');
const count = z.string().regex(/^(0|[1-9]\d*)$/, 'must be a whole number');

export const manifestSchema = z.strictObject({
  kind: z.literal('tipd-ledger-backup'),
  version: z.literal(1),
  takenAt: z.iso.datetime(),
  /** How long the copy took, in milliseconds. */
  tookMs: z.number().int().nonnegative(),
  keys: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  storeFormat: z.unknown(),
  settleCursor: z.unknown(),
  lastTransferId: count,
  lastEventSeq: count,
  liabilitiesMsat: z.strictObject({ supporters: msat, escrow: msat, inFlight: msat, total: msat }),
  ledger: z.strictObject({ systemMsat: msat, sumMsat: msat, balanced: z.boolean() }),
});
export type Manifest = z.infer<typeof manifestSchema>;

/** The figures of a tally, as a backup's manifest and the audit show them. */
export function figuresOf(tallied: Tallied): Pick<Manifest, 'lastTransferId' | 'lastEventSeq' | 'liabilitiesMsat' | 'ledger'> {
  const { supporter, escrow, pending, system } = tallied.totals;
  const liabilities = supporter + escrow + pending;
  const sum = liabilities + system;
  return {
    lastTransferId: tallied.lastTransferId.toString(),
    lastEventSeq: tallied.lastEventSeq.toString(),
    liabilitiesMsat: { supporters: formatMsat(supporter), escrow: formatMsat(escrow), inFlight: formatMsat(pending), total: formatMsat(liabilities) },
    ledger: { systemMsat: formatMsat(system), sumMsat: formatMsat(sum), balanced: sum === 0n },
  };
}

export function manifestOf(tallied: Tallied, takenAt: Date, tookMs: number): Manifest {
  return {
    kind: 'tipd-ledger-backup',
    version: 1,
    takenAt: takenAt.toISOString(),
    tookMs,
    keys: tallied.keys,
    bytes: tallied.bytes,
    sha256: tallied.sha256,
    storeFormat: tallied.storeFormat,
    settleCursor: tallied.settleCursor,
    ...figuresOf(tallied),
  };
}

export class BackupError extends Error {}

/** A backup folder's manifest, checked; a folder without one (or with another) is no backup of tipd's. */
export function readManifest(backupDir: string): Manifest {
  const file = path.join(backupDir, manifestFile);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new BackupError(`${backupDir} is not a tipd backup: cannot read ${manifestFile} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  const parsed = manifestSchema.safeParse(JSON.parse(text));
  if (!parsed.success)
    throw new BackupError(`${file} is not a tipd backup's manifest: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  if (!fs.existsSync(path.join(backupDir, ledgerFolder, 'CURRENT'))) throw new BackupError(`${backupDir} has no LevelDB in ${ledgerFolder}/`);
  return parsed.data;
}
