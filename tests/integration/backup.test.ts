// A backup of a real tipd taken while tips stream in (no stop): it checks, the check command says
// so against the live audit, and a second tipd started on it, restored into a fresh data folder,
// answers each supporter's balance as it was at the backup's last transfer, the sums at zero.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkBackup } from '../../src/backup/check.ts';
import { restoreBackup } from '../../src/backup/restore.ts';
import type { BackupTaken } from '../../src/backup/take.ts';
import { repoRoot } from '../../regtest/stack.ts';
import { api, fundedSupporter, stack, startTipd, type TipdProcess } from './helpers.ts';

const depositSat = 20_000;

/** A supporter's tips (transfer id, msat) from its history, every page. */
async function tipsOf(url: string, token: string): Promise<{ id: string; amountMsat: bigint }[]> {
  const tips: { id: string; amountMsat: bigint }[] = [];
  for (let cursor: string | null = ''; cursor !== null;) {
    const page = (await api(url, 'GET', `/v1/account/history?limit=100${cursor ? `&cursor=${cursor}` : ''}`, { token })).body as {
      items: { id: string; kind: string; amountMsat: string }[];
      nextCursor: string | null;
    };
    tips.push(...page.items.filter((item) => item.kind === 'tip').map((item) => ({ id: item.id, amountMsat: BigInt(item.amountMsat) })));
    cursor = page.nextCursor;
  }
  return tips;
}

describe('a backup of a running tipd', () => {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'tipd-backup-it-'));
  const operator = () => ({ token: stack().tipd.adminToken });
  let live: TipdProcess;
  let restoredTipd: TipdProcess | undefined;
  let supporters: { token: string }[];
  let taken: BackupTaken;
  let tipsSent = 0;

  beforeAll(async () => {
    live = await startTipd({ TIPD_BACKUP_DIR: path.join(scratch, 'backups') });
    supporters = await Promise.all([fundedSupporter(live.url, depositSat), fundedSupporter(live.url, depositSat)]);
    // Tips of 1 sat from both, one after another, all through the backup.
    let streaming = true;
    const stream = (async () => {
      for (let i = 0; streaming; i++) {
        const tip = await api(live.url, 'POST', '/v1/tips', { token: supporters[i % 2]!.token, body: { handle: `backup_h${i % 3}`, amountSat: 1 } });
        expect(tip.status).toBe(201);
        tipsSent += 1;
      }
    })();
    while (tipsSent < 20) await new Promise((resolve) => setTimeout(resolve, 20));
    const answer = await api<BackupTaken>(live.url, 'POST', '/v1/admin/backup', operator());
    expect(answer.status).toBe(201);
    taken = answer.body;
    const tipsAtAnswer = tipsSent;
    while (tipsSent < tipsAtAnswer + 20) await new Promise((resolve) => setTimeout(resolve, 20));
    streaming = false;
    await stream;
  }, 120_000);
  afterAll(async () => {
    await restoredTipd?.stop();
    await live.stop();
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  it('when taken while tips stream in, then it holds some of them and not the last ones, sums to zero and checks', async () => {
    expect(taken.path.startsWith(path.join(scratch, 'backups'))).toBe(true);
    expect(taken.ledger).toMatchObject({ sumMsat: '0', balanced: true });
    // Two deposits, then tips: some in the backup, the rest after.
    const tipsInBackup = BigInt(taken.lastTransferId) - 2n;
    expect(tipsInBackup).toBeGreaterThanOrEqual(20n);
    expect(tipsInBackup).toBeLessThan(BigInt(tipsSent));
    expect(taken.liabilitiesMsat).toMatchObject({ escrow: String(tipsInBackup * 1_000n), total: String(2n * BigInt(depositSat) * 1_000n) });
    expect((await checkBackup(taken.path)).problems).toEqual([]);
  });

  it('the check command compares it with the live audit: moved on since, nothing wrong', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [path.join(repoRoot, 'scripts/backup.ts'), 'check', taken.path, live.url], {
      env: { PATH: process.env.PATH, TIPD_ADMIN_TOKEN: stack().tipd.adminToken, TIPD_REGTEST_DIR: path.join(scratch, 'none') },
    });
    expect(stdout).toContain(`the live tipd has booked ${BigInt(tipsSent) + 2n - BigInt(taken.lastTransferId)} transfers since the backup`);
    expect(stdout.trim().split('\n').at(-1)).toBe('backup OK');
  });

  it('npm run backup takes one of the running tipd and checks it: at the live last transfer, the figures match to the msat', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [path.join(repoRoot, 'scripts/backup.ts'), 'take'], {
      env: { PATH: process.env.PATH, TIPD_URL: live.url, TIPD_ADMIN_TOKEN: stack().tipd.adminToken },
    });
    expect(stdout).toMatch(/^backup taken: .*tipd-backup-/m);
    expect(stdout).toContain("the live tipd is at the backup's last transfer");
    expect(stdout).toContain('backup OK');
    expect(fs.readdirSync(path.join(scratch, 'backups')).filter((name) => name.startsWith('tipd-backup-'))).toHaveLength(2);
  });

  it('when restored into a fresh data folder, then a tipd on it answers the balances as of the backup, its ledger balanced', async () => {
    const dataDir = path.join(scratch, 'restored');
    expect((await restoreBackup(taken.path, dataDir)).problems).toEqual([]);
    restoredTipd = await startTipd({ TIPD_BACKUP_DIR: path.join(scratch, 'restored-backups') }, dataDir);
    for (const { token } of supporters) {
      // What the live tipd's history says this supporter had at the backup's last transfer.
      const tipped = (await tipsOf(live.url, token)).filter((tip) => tip.id <= taken.lastTransferId.padStart(16, '0'));
      const expectedMsat = BigInt(depositSat) * 1_000n - tipped.reduce((sum, tip) => sum + tip.amountMsat, 0n);
      const restored = (await api(restoredTipd.url, 'GET', '/v1/account', { token })).body as { balanceMsat: string };
      expect(restored.balanceMsat).toBe(String(expectedMsat));
      // The live one has moved on.
      expect(BigInt(((await api(live.url, 'GET', '/v1/account', { token })).body as { balanceMsat: string }).balanceMsat)).toBeLessThan(expectedMsat);
    }
    const audit = (await api(restoredTipd.url, 'GET', '/v1/admin/audit', operator())).body as {
      liabilitiesMsat: Record<string, unknown>;
      ledger: Record<string, unknown>;
    };
    expect(audit.ledger).toMatchObject({ sumMsat: '0', balanced: true, lastTransferId: taken.lastTransferId, lastEventSeq: taken.lastEventSeq });
    expect(audit.liabilitiesMsat).toMatchObject(taken.liabilitiesMsat);
  });
});
