// Checking a backup: a copy of it is opened as tipd opens its store at start (the format mark, the
// sequence numbers, balances that sum to zero), and read whole: every entry hashed and counted as
// the backup counted them, every balance and transfer of the shape tipd writes, no supporter,
// escrow or pending account below zero, and every balance what its stored transfers add up to.
// What it finds must be what the backup's manifest says the live store held.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mayGoNegative, type Account } from '../ledger/accounts.ts';
import { after, lastPart, prefixes } from '../ledger/keys.ts';
import { Ledger } from '../ledger/ledger.ts';
import { openStore } from '../ledger/store.ts';
import { storedBalance, storedEvents, storedHistoryEntry, transfersOf } from '../ledger/stored.ts';
import { copyLevelDb } from './files.ts';
import { figuresOf, ledgerFolder, type Manifest, readManifest } from './manifest.ts';
import { Tally, type Tallied } from './tally.ts';

/** Entries read at a time. */
const chunkEntriesMax = 2_000;
/** Accounts named one by one among the problems; past that, counted. */
const namedProblemsMax = 10;

export interface Examined {
  tallied: Tallied;
  /** What is wrong; empty: nothing. */
  problems: string[];
}

export interface CheckReport extends Examined {
  backup: string;
  manifest: Manifest;
}

const transferPrefix = 'xfer:';
const historyPrefix = 'hist:';

/**
 * Opens the LevelDB at `ledgerDir` (which nothing else has open) and examines it against
 * `manifest`; tipd's own start-up checks (`Ledger.open`) run last, as they may mark an older
 * format. The folder is left as tipd would leave it at start.
 */
export async function examine(ledgerDir: string, manifest: Manifest, onProgress?: (keys: number) => void): Promise<Examined> {
  const problems: string[] = [];
  const store = await openStore(ledgerDir);
  try {
    const tally = new Tally();
    const stored = new Map<string, bigint>();
    const replayed = new Map<string, bigint>();
    const add = (account: string, amountMsat: bigint) => replayed.set(account, (replayed.get(account) ?? 0n) + amountMsat);
    const entries = store.iterator<string, string>({ keyEncoding: 'utf8', valueEncoding: 'utf8' });
    try {
      for (;;) {
        const chunk = await entries.nextv(chunkEntriesMax);
        if (chunk.length === 0) break;
        for (const [key, text] of chunk) {
          tally.add(key, text);
          if (key.startsWith(prefixes.balances)) {
            const account = after(prefixes.balances, key);
            stored.set(account, storedBalance(JSON.parse(text), account));
          } else if (key.startsWith(historyPrefix)) {
            // hist:<supporter account>:<transfer id>: this account's side, and the other side unless it is a supporter (whose own history has it).
            const account = key.slice(historyPrefix.length, key.lastIndexOf(':'));
            for (const transfer of transfersOf(lastPart(key), storedHistoryEntry(JSON.parse(text), key))) {
              if (transfer.debit !== account && transfer.credit !== account)
                problems.push(`${key} holds transfer ${transfer.id}, which does not touch ${account}`);
              for (const [side, sign] of [[transfer.debit, -1n] as const, [transfer.credit, 1n] as const])
                if (side === account || !side.startsWith('supporter:')) add(side, sign * transfer.amountMsat);
            }
          } else if (key.startsWith(transferPrefix)) {
            for (const transfer of transfersOf(after(transferPrefix, key), storedHistoryEntry(JSON.parse(text), key))) {
              add(transfer.debit, -transfer.amountMsat);
              add(transfer.credit, transfer.amountMsat);
            }
          } else if (key.startsWith(prefixes.events)) storedEvents(JSON.parse(text), key);
        }
        onProgress?.(tally.keys);
      }
    } finally {
      await entries.close();
    }
    const tallied = tally.result();
    problems.push(...balanceProblems(stored, replayed), ...manifestProblems(tallied, manifest));
    // What tipd checks when it opens a store: it must open this one.
    const ledger = await Ledger.open(store).catch((err: unknown) => {
      problems.push(`tipd would not start on it: ${(err as Error).message}`);
      return undefined;
    });
    await ledger?.close();
    return { tallied, problems };
  } catch (err) {
    // A record not of the shape tipd writes (an InvariantViolation), JSON that does not parse.
    problems.push(`the store cannot be read as tipd reads it: ${(err as Error).message}`);
    return { tallied: new Tally().result(), problems };
  } finally {
    await store.close();
  }
}

/** Guarded accounts below zero, and balances that are not what their transfers add up to. */
function balanceProblems(stored: Map<string, bigint>, replayed: Map<string, bigint>): string[] {
  const problems: string[] = [];
  let sumMsat = 0n;
  for (const [account, balanceMsat] of stored) {
    sumMsat += balanceMsat;
    if (balanceMsat < 0n && !mayGoNegative(account as Account)) problems.push(`${account} is at ${balanceMsat} msat: below zero`);
  }
  if (sumMsat !== 0n) problems.push(`the balances sum to ${sumMsat} msat, not zero`);
  const unlike = [...new Set([...stored.keys(), ...replayed.keys()])].filter((account) => (stored.get(account) ?? 0n) !== (replayed.get(account) ?? 0n));
  for (const account of unlike.slice(0, namedProblemsMax))
    problems.push(`${account} holds ${stored.get(account) ?? 0n} msat, but its stored transfers add up to ${replayed.get(account) ?? 0n} msat`);
  if (unlike.length > namedProblemsMax)
    problems.push(`… and ${unlike.length - namedProblemsMax} more accounts whose balance is not what their transfers add up to`);
  return problems;
}

/** Where the copy differs from what the backup recorded of the live store. */
function manifestProblems(tallied: Tallied, manifest: Manifest): string[] {
  const problems: string[] = [];
  if (tallied.keys !== manifest.keys) problems.push(`it holds ${tallied.keys} keys; the backup copied ${manifest.keys}`);
  if (tallied.sha256 !== manifest.sha256) problems.push('its entries are not those the backup copied (SHA-256 differs): the copy is damaged or was changed');
  const figures = figuresOf(tallied);
  for (const [name, now, then] of [
    ['lastTransferId', figures.lastTransferId, manifest.lastTransferId],
    ['lastEventSeq', figures.lastEventSeq, manifest.lastEventSeq],
    ...Object.entries(figures.liabilitiesMsat).map(([kind, value]) => [
      `liabilitiesMsat.${kind}`,
      value,
      manifest.liabilitiesMsat[kind as keyof Manifest['liabilitiesMsat']],
    ]),
    ['ledger.sumMsat', figures.ledger.sumMsat, manifest.ledger.sumMsat],
  ] as const)
    if (now !== then) problems.push(`${name} is ${now}; the live store held ${then} when the backup was taken`);
  return problems;
}

/** Checks the backup in `backupDir` on a copy of it (opening a LevelDB writes to it), removed after. */
export async function checkBackup(backupDir: string, onProgress?: (keys: number) => void): Promise<CheckReport> {
  const manifest = readManifest(backupDir);
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'tipd-backup-check-'));
  try {
    const copy = path.join(scratch, ledgerFolder);
    copyLevelDb(path.join(backupDir, ledgerFolder), copy);
    return { backup: path.resolve(backupDir), manifest, ...(await examine(copy, manifest, onProgress)) };
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

/** The live audit's figures that a backup can be compared with (GET /v1/admin/audit). */
export interface LiveAudit {
  liabilitiesMsat: { supporters: string; escrow: string; inFlight: string; total: string };
  ledger: { sumMsat: string; balanced: boolean; lastTransferId?: string; lastEventSeq?: string };
}

/**
 * A backup next to the live audit of the tipd it was taken from. Every change of a balance is a
 * numbered transfer: at the same last transfer id the liabilities must be equal to the msat; past
 * it, the live tipd has moved on, and what changed since is told, not judged.
 */
export function compareWithLive(manifest: Manifest, live: LiveAudit): { problems: string[]; notes: string[] } {
  const problems: string[] = [];
  const notes: string[] = [];
  if (!live.ledger.balanced) problems.push(`the live ledger sums to ${live.ledger.sumMsat} msat, not zero`);
  if (live.ledger.lastTransferId === undefined) {
    notes.push('the live tipd does not say its last transfer id: figures shown, not compared');
    return { problems, notes };
  }
  const liveLast = BigInt(live.ledger.lastTransferId);
  const backupLast = BigInt(manifest.lastTransferId);
  const kinds = ['supporters', 'escrow', 'inFlight', 'total'] as const;
  if (liveLast === backupLast) {
    for (const kind of kinds)
      if (live.liabilitiesMsat[kind] !== manifest.liabilitiesMsat[kind])
        problems.push(
          `at the same last transfer (${backupLast}), liabilities ${kind} are ${live.liabilitiesMsat[kind]} msat live but ${manifest.liabilitiesMsat[kind]} msat in the backup`,
        );
    if (problems.length === 0) notes.push(`the live tipd is at the backup's last transfer (${backupLast}): its liabilities match the backup's to the msat`);
  } else if (liveLast > backupLast) {
    notes.push(`the live tipd has booked ${liveLast - backupLast} transfers since the backup (${backupLast} → ${liveLast}); liabilities then → now:`);
    for (const kind of kinds) notes.push(`  ${kind}: ${manifest.liabilitiesMsat[kind]} → ${live.liabilitiesMsat[kind]} msat`);
  } else {
    problems.push(
      `the live tipd's last transfer (${liveLast}) is before the backup's (${backupLast}): not the tipd this backup was taken from, or one restored from an older backup`,
    );
  }
  return { problems, notes };
}
