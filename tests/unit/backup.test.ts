// Backups of a real (temporary) LevelDB taken while the ledger writes: one instant of the store,
// checked against what the backup recorded, restored only into an empty data folder, and any
// change to a copy caught.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkBackup, compareWithLive, type LiveAudit } from '../../src/backup/check.ts';
import { ledgerFolder, type Manifest, readManifest } from '../../src/backup/manifest.ts';
import { restoreBackup } from '../../src/backup/restore.ts';
import { Backups, takeBackup } from '../../src/backup/take.ts';
import { Refusal } from '../../src/errors.ts';
import { accounts, Ledger } from '../../src/ledger/ledger.ts';
import { keys } from '../../src/ledger/keys.ts';
import { openStore } from '../../src/ledger/store.ts';
import { tempLedger } from './ledger-helpers.ts';

const supporterCount = 20;
const supporter = (i: number) => accounts.supporter(`s${i}`);
const log = pino({ level: 'silent' });
/** A process that opens a LevelDB (its path the first argument), says so, and keeps it open. */
const holdStore = `import { Level } from 'level'; const db = new Level(process.argv[1]); await db.open(); process.stdout.write('open\\n'); setInterval(() => {}, 1000);`;

let t: Awaited<ReturnType<typeof tempLedger>>;
let scratch: string;
beforeEach(async () => {
  t = await tempLedger();
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'tipd-backup-test-'));
  await Promise.all(
    Array.from({ length: supporterCount }, (_, i) => t.ledger.run((tx) => tx.transfer('deposit', accounts.deposits, supporter(i), 1_000_000n))),
  );
});
afterEach(async () => {
  await t.dispose();
  fs.rmSync(scratch, { recursive: true, force: true });
});

/** Tips of 1 sat from every supporter in turn until `stop()`: the ledger commits all along. */
function tipsUntilStopped() {
  let stopped = false;
  let tips = 0;
  const running = (async () => {
    for (let round = 0; !stopped; round++) {
      await Promise.all(
        Array.from({ length: supporterCount }, (_, i) => t.ledger.run((tx) => tx.transfer('tip', supporter(i), accounts.escrow(`h${round % 3}`), 1_000n))),
      );
      tips += supporterCount;
    }
  })();
  return {
    async stop() {
      stopped = true;
      await running;
      return tips;
    },
  };
}

describe('a backup taken while the ledger writes', () => {
  it('holds one instant of the store: it checks, sums to zero, and its figures are those of its last transfer', async () => {
    const tips = tipsUntilStopped();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const taken = await takeBackup(t.db, path.join(scratch, 'backups'), new Date());
    const tipped = await tips.stop();
    expect(tipped).toBeGreaterThan(0);

    expect(taken.ledger).toEqual({ systemMsat: '-20000000', sumMsat: '0', balanced: true });
    // Every transfer up to the backup's last one is in it, and none after: 20 deposits, then 1 sat tips.
    const tipsInBackup = BigInt(taken.lastTransferId) - BigInt(supporterCount);
    expect(tipsInBackup).toBeGreaterThan(0n);
    expect(taken.liabilitiesMsat).toEqual({
      supporters: String(20_000_000n - tipsInBackup * 1_000n),
      escrow: String(tipsInBackup * 1_000n),
      inFlight: '0',
      total: '20000000',
    });
    expect(readManifest(taken.path)).toEqual({ ...taken, name: undefined, path: undefined, tookMs: expect.any(Number) as number });

    const report = await checkBackup(taken.path);
    expect(report.problems).toEqual([]);
    expect(report.tallied.keys).toBe(taken.keys);
    // Nothing of the partial folder is left beside it.
    expect(fs.readdirSync(path.join(scratch, 'backups'))).toEqual([taken.name]);
  });

  it('when restored into an empty data folder, then tipd opens it with the balances of the backup', async () => {
    const taken = await takeBackup(t.db, path.join(scratch, 'backups'), new Date());
    await t.ledger.run((tx) => tx.transfer('tip', supporter(0), accounts.escrow('later'), 5_000n));
    const dataDir = path.join(scratch, 'restored');
    const restored = await restoreBackup(taken.path, dataDir);
    expect(restored.problems).toEqual([]);

    const store = await openStore(path.join(dataDir, ledgerFolder));
    const ledger = await Ledger.open(store);
    try {
      expect(await ledger.balance(supporter(0))).toBe(1_000_000n);
      expect(await ledger.balance(accounts.escrow('later'))).toBe(0n);
      const figures = await ledger.figures();
      expect(figures.lastTransferId.toString()).toBe(taken.lastTransferId);
      expect(figures.totals.supporter.toString()).toBe(taken.liabilitiesMsat.supporters);
    } finally {
      await ledger.close();
      await store.close();
    }
  });

  it('refuses to restore over a ledger, and into a data folder a tipd holds', async () => {
    const taken = await takeBackup(t.db, path.join(scratch, 'backups'), new Date());
    const dataDir = path.join(scratch, 'restored');
    await restoreBackup(taken.path, dataDir);
    await expect(restoreBackup(taken.path, dataDir)).rejects.toThrow(/exists and is not empty/);
    // Another process holds a store there, as a running tipd holds its own (LevelDB's lock).
    const held = path.join(scratch, 'held');
    const holder = spawn(process.execPath, ['--input-type=module', '-e', holdStore, path.join(held, ledgerFolder)], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await once(holder.stdout, 'data');
      await expect(restoreBackup(taken.path, held)).rejects.toThrow(/a running tipd holds/);
    } finally {
      holder.kill();
    }
  });

  it('when a copy was changed afterwards, then the check and the restore say so, and nothing is restored', async () => {
    const taken = await takeBackup(t.db, path.join(scratch, 'backups'), new Date());
    const store = await openStore(path.join(taken.path, ledgerFolder));
    await store.put(keys.balance(supporter(1)), '2000000');
    await store.close();

    const report = await checkBackup(taken.path);
    expect(report.problems).toEqual([
      'the balances sum to 1000000 msat, not zero',
      'supporter:s1 holds 2000000 msat, but its stored transfers add up to 1000000 msat',
      'its entries are not those the backup copied (SHA-256 differs): the copy is damaged or was changed',
      'liabilitiesMsat.supporters is 21000000; the live store held 20000000 when the backup was taken',
      'liabilitiesMsat.total is 21000000; the live store held 20000000 when the backup was taken',
      'ledger.sumMsat is 1000000; the live store held 0 when the backup was taken',
      'tipd would not start on it: ledger balances sum to 1000000 msat, not zero: refusing to start',
    ]);
    const dataDir = path.join(scratch, 'restored');
    await expect(restoreBackup(taken.path, dataDir)).rejects.toThrow(/does not check, nothing was restored/);
    expect(fs.readdirSync(dataDir)).toEqual([]);
  });

  it('takes one backup at a time', async () => {
    const backups = new Backups(t.db, path.join(scratch, 'backups'), log);
    const both = await Promise.allSettled([backups.take(), backups.take()]);
    expect(both[0].status).toBe('fulfilled');
    expect(both[1]).toMatchObject({ status: 'rejected', reason: expect.any(Refusal) as Refusal });
    expect(((both[1] as PromiseRejectedResult).reason as Refusal).code).toBe('backup_in_progress');
  });
});

describe('a backup next to the live audit', () => {
  const manifest = {
    lastTransferId: '10',
    liabilitiesMsat: { supporters: '700', escrow: '300', inFlight: '0', total: '1000' },
  } as Manifest;
  const live = (lastTransferId: string, supporters: string, balanced = true): LiveAudit => ({
    liabilitiesMsat: { supporters, escrow: '300', inFlight: '0', total: String(BigInt(supporters) + 300n) },
    ledger: { sumMsat: balanced ? '0' : '5', balanced, lastTransferId, lastEventSeq: '3' },
  });

  it.each([
    ['at the same transfer with the same figures', live('10', '700'), []],
    [
      'at the same transfer with other figures',
      live('10', '800'),
      [
        'at the same last transfer (10), liabilities supporters are 800 msat live but 700 msat in the backup',
        'at the same last transfer (10), liabilities total are 1100 msat live but 1000 msat in the backup',
      ],
    ],
    ['moved on since', live('12', '800'), []],
    [
      'before the backup',
      live('9', '700'),
      ["the live tipd's last transfer (9) is before the backup's (10): not the tipd this backup was taken from, or one restored from an older backup"],
    ],
    ['unbalanced', live('12', '700', false), ['the live ledger sums to 5 msat, not zero']],
  ])('%s', (_story, audit, problems) => {
    expect(compareWithLive(manifest, audit).problems).toEqual(problems);
  });
});
