// A tipd restored from a backup pays nothing until its operator says so, on the real stack: a
// payout and a withdrawal made after the backup are not in the restored ledger, which owes them
// again. The operator sees them listed (LND's payments since the backup that the ledger does not
// know); meanwhile a withdrawal is refused (`payments_held`), and a handle claimed again is not
// paid, across a restart too. The operator books each as what it was, and resumes: payments go
// on, and nothing is paid twice.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { restoreBackup } from '../../src/backup/restore.ts';
import type { BackupTaken } from '../../src/backup/take.ts';
import { claimWithTweet, freshHandle, payoutsOf, succeededPayouts } from './creators.ts';
import { api, eventually, fundedSupporter, lndOf, stack, startPublicTipd, type TipdProcess } from './helpers.ts';
import { launchBrowser, openTab, screenshot } from './browser.ts';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'tipd-restore-it-'));
const env = {
  TIPD_BACKUP_DIR: path.join(scratch, 'backups'),
  TIPD_PAYOUT_MIN_SAT: '1000',
  TIPD_PAYOUT_RETRY_SECONDS: '1',
  TIPD_CLAIM_RATE_LIMIT_PER_MINUTE: '0',
  // Withdrawing leaves nothing behind: no fee reserve.
  TIPD_WITHDRAWAL_FEE_BASE_MSAT: '0',
  TIPD_WITHDRAWAL_FEE_PPM: '0',
};
let tipd: (TipdProcess & { publicUrl: string }) | undefined;
afterAll(async () => {
  await tipd?.stop();
  fs.rmSync(scratch, { recursive: true, force: true });
});

const operator = () => ({ token: stack().tipd.adminToken });
const aliceInvoice = async (sat: number) =>
  (await lndOf('alice').createInvoice({ amountMsat: BigInt(sat) * 1000n, description: 'withdraw', expiresAt: new Date(Date.now() + 600_000) })).paymentRequest;
const withdraw = async (url: string, token: string, sat: number, paymentRequest?: string) =>
  api(url, 'POST', '/v1/withdrawals', { token, body: { paymentRequest: paymentRequest ?? (await aliceInvoice(sat)) } });

describe('a tipd restored from a backup', () => {
  it(
    'holds payouts and withdrawals, lists what LND paid since the backup, books it as told, and pays on once resumed, nothing twice',
    { timeout: 180_000 },
    async () => {
      tipd = await startPublicTipd(env, path.join(scratch, 'live'));
      const handle = freshHandle('rest');
      const ann = await fundedSupporter(tipd.url, 5_000);
      expect((await api(tipd.url, 'POST', '/v1/tips', { token: ann.token, body: { handle, amountSat: 2_000 } })).status).toBe(201);
      const backup = await api<BackupTaken>(tipd.url, 'POST', '/v1/admin/backup', operator());
      expect(backup.status).toBe(201);

      // After the backup: carol claims the handle and is paid; ann withdraws 2,000 of her 3,000.
      expect((await claimWithTweet(tipd.url, handle, 'carol')).proof.status).toBe(200);
      const [payout] = await succeededPayouts(tipd.url, handle, 1);
      const withdrawn = await aliceInvoice(2_000);
      const withdrawal = await withdraw(tipd.url, ann.token, 2_000, withdrawn);
      expect(withdrawal.status).toBe(201);
      await eventually(async () => ((await api(tipd!.url, 'GET', '/v1/account', { token: ann.token })).body.balanceMsat === '1000000' ? true : undefined));
      await tipd.stop();

      // The live ledger is lost; the backup is restored into a new data folder, and tipd started on it.
      const dataDir = path.join(scratch, 'restored');
      await restoreBackup(backup.body.path, dataDir);
      tipd = await startPublicTipd(env, dataDir);
      expect(tipd.logs.some((line) => String(line.msg).startsWith('restored from a backup: no payment is sent'))).toBe(true);
      const report = await api(tipd.url, 'GET', '/v1/admin/restore', operator());
      expect(report.status).toBe(200);
      expect(report.body).toMatchObject({
        state: { backupTakenAt: backup.body.takenAt, resumedAt: null },
        paymentsHeld: true,
        unknownToLedger: { complete: true },
      });
      const unknown = new Map<string, { state: string; amountMsat: string }>(
        report.body.unknownToLedger.payments.map((p: { paymentHash: string }) => [p.paymentHash, p]),
      );
      expect(unknown.get(payout!.paymentHash)).toMatchObject({ state: 'succeeded', amountMsat: payout!.amountMsat });
      expect(unknown.get(withdrawal.body.paymentHash)).toMatchObject({ state: 'succeeded', amountMsat: '2000000' });
      // Made and paid just before the backup, so known to it: ann's deposit's invoice is not listed.
      const deposit = (await api(tipd.url, 'GET', `/v1/deposits/${ann.depositId}`, { token: ann.token })).body;
      expect(deposit.state).toBe('settled');
      expect(report.body.unknownToLedger.invoices.some((i: { paymentHash: string }) => i.paymentHash === deposit.paymentHash)).toBe(false);
      expect((await api(tipd.url, 'GET', '/v1/admin/audit', operator())).body.restored).toEqual(report.body.state);
      // The operator's page says so.
      const browser = await launchBrowser();
      try {
        const tab = await openTab(browser, 'desktop');
        await tab.page.goto(`${tipd.publicUrl}/admin`);
        await tab.page.getByLabel('Operator token (TIPD_ADMIN_TOKEN)').fill(stack().tipd.adminToken);
        await tab.page.getByRole('button', { name: 'Open' }).click();
        await expect.poll(() => tab.page.locator('#payments-held').textContent()).toContain('Restored from a backup of');
        await screenshot(tab.page, 'operator-restored');
        expect(tab.problems).toEqual([]);
      } finally {
        await browser.close();
      }

      // The restored ledger owes again what was paid: ann's 3,000, the handle's 2,000. Nothing goes out.
      expect((await api(tipd.url, 'GET', '/v1/account', { token: ann.token })).body.balanceMsat).toBe('3000000');
      expect(await withdraw(tipd.url, ann.token, 3_000)).toMatchObject({ status: 503, body: { error: { code: 'payments_held' } } });
      // Nor is her balance spent on tips: 2,000 of it left with her withdrawal, which is not booked yet.
      expect(await api(tipd.url, 'POST', '/v1/tips', { token: ann.token, body: { handle: freshHandle('t'), amountSat: 3_000 } })).toMatchObject({
        status: 503,
        body: { error: { code: 'payments_held' } },
      });
      expect((await claimWithTweet(tipd.url, handle, 'carol')).proof.status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      expect(await payoutsOf(tipd.url, handle)).toEqual([]);
      // So it stays across a restart.
      await tipd.stop();
      tipd = await startPublicTipd(env, dataDir);
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      expect(await payoutsOf(tipd.url, handle)).toEqual([]);
      expect((await api(tipd.url, 'GET', '/v1/admin/restore', operator())).body.paymentsHeld).toBe(true);

      // The operator books what LND paid after the backup as what it was: carol's payout (her handle
      // claimed again), ann's withdrawal. Once each; they leave the list.
      const book = (body: unknown) => api(tipd!.url, 'POST', '/v1/admin/restore/book', { ...operator(), body });
      expect(await book({ paymentHash: payout!.paymentHash, payout: { handle: freshHandle('none') } })).toMatchObject({
        status: 409,
        body: { error: { code: 'handle_not_claimed' } },
      });
      expect(await book({ paymentHash: 'ab'.repeat(32), withdrawal: { supporterId: ann.id } })).toMatchObject({
        status: 404,
        body: { error: { code: 'payment_not_found' } },
      });
      const escrowBefore = BigInt((await api(tipd.url, 'GET', `/v1/handles/${handle}`)).body.pendingMsat);
      const bookedPayout = await book({ paymentHash: payout!.paymentHash, payout: { handle } });
      expect(bookedPayout).toMatchObject({ status: 200, body: { booked: true, amountMsat: payout!.amountMsat, feeMsat: payout!.feeMsat } });
      const escrowAfter = BigInt((await api(tipd.url, 'GET', `/v1/handles/${handle}`)).body.pendingMsat);
      expect(escrowBefore - escrowAfter).toBe(BigInt(payout!.amountMsat) + BigInt(payout!.feeMsat!));
      expect((await book({ paymentHash: payout!.paymentHash, payout: { handle } })).body).toMatchObject({
        booked: false,
        transferIds: bookedPayout.body.transferIds,
      });
      expect((await book({ paymentHash: withdrawal.body.paymentHash, withdrawal: { supporterId: ann.id } })).body).toMatchObject({ booked: true });
      expect((await book({ paymentHash: withdrawal.body.paymentHash, payout: { handle } })).body.error.code).toBe('payment_known');
      expect((await api(tipd.url, 'GET', '/v1/account', { token: ann.token })).body.balanceMsat).toBe('1000000');
      const after = (await api(tipd.url, 'GET', '/v1/admin/restore', operator())).body.unknownToLedger.payments.map(
        (p: { paymentHash: string }) => p.paymentHash,
      );
      expect(after).not.toContain(payout!.paymentHash);
      expect(after).not.toContain(withdrawal.body.paymentHash);
      expect((await api(tipd.url, 'GET', '/v1/admin/audit', operator())).body.ledger.balanced).toBe(true);

      // Then resumes: payments go on, and nothing is paid twice (what the payout left is under the
      // least worth paying); ann withdraws what she has left.
      const resumed = await api(tipd.url, 'POST', '/v1/admin/restore/resume', operator());
      expect(resumed.body).toMatchObject({ resumed: true, state: { resumedAt: expect.any(String) } });
      expect((await api(tipd.url, 'POST', '/v1/admin/restore/resume', operator())).body).toMatchObject({ resumed: false });
      expect((await api(tipd.url, 'GET', '/v1/admin/restore', operator())).body).toMatchObject({ paymentsHeld: false, unknownToLedger: null });
      // ann's wallet sends her withdrawal of after the backup again: that invoice is paid, and booked.
      expect(await withdraw(tipd.url, ann.token, 2_000, withdrawn)).toMatchObject({ status: 409, body: { error: { code: 'invoice_already_used' } } });
      expect((await withdraw(tipd.url, ann.token, 1_000)).status).toBe(201);
      await eventually(async () => ((await api(tipd!.url, 'GET', '/v1/account', { token: ann.token })).body.balanceMsat === '0' ? true : undefined));
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      expect(await payoutsOf(tipd.url, handle)).toEqual([]);
    },
  );
});
