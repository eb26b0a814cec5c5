// Crash safety for real: tipd killed with SIGKILL at named points (TIPD_CRASH_AT), then started
// again on the same data folder; nothing is paid twice, nothing is allocated twice, nothing lost.
import path from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Flattrs } from '../../src/flattrs/flattrs.ts';
import { parseHandle } from '../../src/escrow/handles.ts';
import { accounts, Ledger } from '../../src/ledger/ledger.ts';
import { openStore } from '../../src/ledger/store.ts';
import { Supporters } from '../../src/supporters/supporters.ts';
import { api, eventually, lndOf, stack, tipdsAcrossCrashes } from './helpers.ts';
import type { StoredEvent } from '../../src/events/types.ts';

const tipds = tipdsAcrossCrashes('tipd-crash-');

/** Opens the ledger of a stopped tipd, for a look at its books. */
async function withLedger<T>(look: (ledger: Ledger) => Promise<T>): Promise<T> {
  const store = await openStore(path.join(tipds.dataDir, 'ledger'));
  const ledger = await Ledger.open(store);
  try {
    return await look(ledger);
  } finally {
    await ledger.close();
    await store.close();
  }
}

/** An event's data, read field by field whatever its type. */
const data = (e: StoredEvent) => e.data as Record<string, unknown>;

describe('tipd killed', () => {
  it('after LND settled a deposit but before it was credited: credited once at restart, and never again', async () => {
    const doomed = await tipds.start({ TIPD_CRASH_AT: 'deposit.settled-not-credited' });
    const { token } = (await api(doomed.url, 'POST', '/v1/accounts')).body;
    const deposit = (await api(doomed.url, 'POST', '/v1/deposits', { token, body: { amountSat: 7_000 } })).body;
    expect((await lndOf('alice').payInvoice({ paymentRequest: deposit.paymentRequest, maxFeeMsat: 10_000n })).state).toBe('succeeded');
    expect(await doomed.exited).toBeNull();

    for (let start = 0; start < 2; start += 1) {
      const restarted = await tipds.start();
      const url = restarted.url;
      await eventually(async () => ((await api(url, 'GET', `/v1/deposits/${deposit.id}`, { token })).body.state === 'settled' ? true : undefined));
      expect((await api(url, 'GET', '/v1/account', { token })).body.balanceMsat).toBe('7000000');
      const kinds = (await api(url, 'GET', '/v1/account/history', { token })).body.items.map((i: { kind: string }) => i.kind);
      expect(kinds).toEqual(['deposit']);
      await restarted.stop();
    }
  });

  it("after a wallet paid a handle's LNURL invoice but before it was credited: into the escrow once at restart, and never again", async () => {
    const publicUrl = 'http://tips.regtest.example';
    const doomed = await tipds.start({ TIPD_CRASH_AT: 'deposit.settled-not-credited', TIPD_PUBLIC_URL: publicUrl });
    const handle = `Crash_${Date.now().toString(36)}`;
    const payRequest = (await api(doomed.url, 'GET', `/.well-known/lnurlp/${handle}`)).body;
    const answer = (await api(doomed.url, 'GET', `${payRequest.callback.replace(publicUrl, '')}?amount=4000000&comment=before%20the%20crash`)).body;
    expect((await lndOf('alice').payInvoice({ paymentRequest: answer.pr, maxFeeMsat: 10_000n })).state).toBe('succeeded');
    expect(await doomed.exited).toBeNull();

    for (let start = 0; start < 2; start += 1) {
      const restarted = await tipds.start({ TIPD_PUBLIC_URL: publicUrl });
      const url = restarted.url;
      await eventually(async () => ((await api(url, 'GET', answer.verify.replace(publicUrl, ''))).body.settled === true ? true : undefined));
      expect((await api(url, 'GET', `/v1/handles/${handle}`)).body).toMatchObject({ pendingMsat: '4000000', tips: 1, supporters: 1 });
      await restarted.stop();
    }
    const { tipped, escrowMsat } = await withLedger(async (ledger) => ({
      tipped: (await ledger.eventsAfter(0, 1_000_000)).filter((e) => e.type === 'handle.tipped' && data(e).handle === handle).map(data),
      escrowMsat: await ledger.balance(accounts.escrow(handle.toLowerCase())),
    }));
    expect(escrowMsat).toBe(4_000_000n);
    expect(tipped).toEqual([{ handle, amountMsat: '4000000', pendingMsat: '4000000', comment: 'before the crash' }]);
  });

  it('after LND paid a withdrawal but before it was booked: booked once at restart, never paid twice', async () => {
    const doomed = await tipds.start({ TIPD_CRASH_AT: 'withdrawal.paid-not-booked' });
    const { token } = (await api(doomed.url, 'POST', '/v1/accounts')).body;
    const deposit = (await api(doomed.url, 'POST', '/v1/deposits', { token, body: { amountSat: 10_000 } })).body;
    await lndOf('alice').payInvoice({ paymentRequest: deposit.paymentRequest, maxFeeMsat: 10_000n });
    await eventually(async () => ((await api(doomed.url, 'GET', `/v1/deposits/${deposit.id}`, { token })).body.state === 'settled' ? true : undefined));

    const invoice = await lndOf('alice').createInvoice({ amountMsat: 4_000_000n, description: 'crash test', expiresAt: new Date(Date.now() + 600_000) });
    await expect(api(doomed.url, 'POST', '/v1/withdrawals', { token, body: { paymentRequest: invoice.paymentRequest } })).rejects.toThrow();
    expect(await doomed.exited).toBeNull();
    expect((await lndOf('alice').getInvoice(invoice.paymentHash))?.state).toBe('settled');

    const { url } = await tipds.start();
    const history = await eventually(async () => {
      const items = (await api(url, 'GET', '/v1/account/history', { token })).body.items as { kind: string; withdrawal?: string }[];
      return items.some((i) => i.kind === 'withdrawal.release') ? items : undefined;
    });
    const id = history.find((i) => i.withdrawal)!.withdrawal!;
    expect((await api(url, 'GET', `/v1/withdrawals/${id}`, { token })).body).toMatchObject({ state: 'succeeded', feeMsat: '0' });
    expect((await api(url, 'GET', '/v1/account', { token })).body.balanceMsat).toBe('6000000');
    // Asking again for the same invoice pays nothing more.
    expect((await api(url, 'POST', '/v1/withdrawals', { token, body: { paymentRequest: invoice.paymentRequest } })).body.id).toBe(id);
    expect((await api(url, 'GET', '/v1/account', { token })).body.balanceMsat).toBe('6000000');
    expect((await api(url, 'GET', '/v1/admin/audit', { token: stack().tipd.adminToken })).body.ledger.balanced).toBe(true);
  });

  it('in the middle of a period close: the close resumes at restart and allocates every supporter once', async () => {
    const supporterCount = 1_200;
    // Supporters funded and flattring two handles, written straight into the store beforehand.
    await withLedger(async (ledger) => {
      const supporters = new Supporters(ledger);
      const flattrs = new Flattrs(ledger, pino({ level: 'silent' }), {});
      await Promise.all(
        Array.from({ length: supporterCount }, async () => {
          const { id } = await supporters.create();
          await ledger.run((tx) => tx.transfer('deposit', accounts.deposits, accounts.supporter(id), 50_000n));
          await supporters.setBudget(id, 10);
          await flattrs.flattr(id, parseHandle('crash_a')!, null);
          await flattrs.flattr(id, parseHandle('crash_b')!, null);
        }),
      );
    });

    const doomed = await tipds.start({ TIPD_CRASH_AT: 'close.after-first-window' });
    await expect(api(doomed.url, 'POST', '/v1/admin/periods/close', { token: stack().tipd.adminToken })).rejects.toThrow();
    expect(await doomed.exited).toBeNull();

    const halfway = await withLedger(async (ledger) => ({
      escrow: await ledger.balance(accounts.escrow('crash_a')),
      close: await ledger.read<{ state: string }>('close:0000000000000001'),
    }));
    expect(halfway.close?.state).toBe('closing');
    expect(halfway.escrow).toBeGreaterThan(0n);
    expect(halfway.escrow).toBeLessThan(BigInt(supporterCount) * 5_000n);

    const restarted = await tipds.start();
    const url = restarted.url;
    await eventually(async () => ((await api(url, 'GET', '/v1/handles/crash_b')).body.pendingMsat === String(supporterCount * 5_000) ? true : undefined));
    expect((await api(url, 'GET', '/v1/handles/crash_a')).body.pendingMsat).toBe(String(supporterCount * 5_000));
    expect((await api(url, 'GET', '/v1/admin/audit', { token: stack().tipd.adminToken })).body.ledger.balanced).toBe(true);
    await restarted.stop();

    await withLedger(async (ledger) => {
      expect(await ledger.read<{ state: string; supporters: number }>('close:0000000000000001')).toMatchObject({ state: 'closed', supporters: supporterCount });
      expect(await ledger.totalsByKind()).toMatchObject({ supporter: BigInt(supporterCount) * 40_000n, escrow: BigInt(supporterCount) * 10_000n });
      // Each handle's allocations are announced once, in full, though the close was cut short.
      const announced = (await ledger.eventsAfter(0, 100_000)).filter((e) => e.type.startsWith('handle.'));
      expect(announced.map((e) => [e.type, data(e).handle, data(e).amountMsat, data(e).allocations])).toEqual([
        ['handle.allocated', 'crash_a', String(supporterCount * 5_000), supporterCount],
        ['handle.allocated', 'crash_b', String(supporterCount * 5_000), supporterCount],
      ]);
    });
  });
});
