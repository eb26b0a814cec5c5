// LNURL-withdraw across crashes, for real: tipd SIGKILLed at the named points of a redeemed link
// (TIPD_CRASH_AT), then started again on the same data. The invoice is paid at most once and
// booked once, or the hold released; and the link stays used: its k1 never pays again.
import { describe, expect, it } from 'vitest';
import { api, eventually, fundedSupporter, lndOf, stack, tipdsAcrossCrashes } from './helpers.ts';

const publicUrl = 'http://tipd.localhost:8470';
const tipds = tipdsAcrossCrashes('tipd-lnurl-crash-');

/** A tipd doomed to die at `crashAt`, a supporter with 10,000 sats, a withdraw link, and an invoice of alice's for 4,000. */
async function redeemUntilKilled(crashAt: string) {
  const doomed = await tipds.start({ TIPD_PUBLIC_URL: publicUrl, TIPD_CRASH_AT: crashAt });
  const { token } = await fundedSupporter(doomed.url, 10_000);
  const link = (await api(doomed.url, 'POST', '/v1/withdrawals/lnurl', { token, body: {} })).body as { id: string; k1: string };
  const invoice = await lndOf('alice').createInvoice({ amountMsat: 4_000_000n, description: 'lnurl crash test', expiresAt: new Date(Date.now() + 600_000) });
  // The wallet may or may not have heard OK before tipd died: it depends on the point.
  const answer = await api(doomed.url, 'GET', `/lnurl/withdraw/callback?k1=${link.k1}&pr=${invoice.paymentRequest}`).catch(() => undefined);
  expect(await doomed.exited).toBeNull();
  const { url } = await tipds.start({ TIPD_PUBLIC_URL: publicUrl });
  return { token, link, invoice, answer, url };
}

/** The link's one withdrawal, once it is no longer pending. */
const settledWithdrawal = (url: string, token: string, linkId: string, timeoutMs?: number) =>
  eventually(async () => {
    const res = await api(url, 'GET', `/v1/withdrawals/lnurl/${linkId}`, { token });
    return res.body.withdrawal && res.body.withdrawal.state !== 'pending' ? res.body : undefined;
  }, timeoutMs);

async function expectUsedForGood(url: string, token: string, k1: string, balanceMsat: string) {
  const again = await lndOf('alice').createInvoice({ amountMsat: 1_000_000n, description: 'again', expiresAt: new Date(Date.now() + 600_000) });
  const res = await api(url, 'GET', `/lnurl/withdraw/callback?k1=${k1}&pr=${again.paymentRequest}`);
  expect(res.status).toBe(409);
  expect(res.body).toMatchObject({ status: 'ERROR', code: 'withdraw_link_used' });
  expect((await lndOf('alice').getInvoice(again.paymentHash))?.state).not.toBe('settled');
  expect((await api(url, 'GET', '/v1/account', { token })).body.balanceMsat).toBe(balanceMsat);
  const audit = await api(url, 'GET', '/v1/admin/audit', { token: stack().tipd.adminToken });
  expect(audit.body.ledger).toMatchObject({ sumMsat: '0', balanced: true });
}

describe('an LNURL withdrawal across a crash', () => {
  it(
    'killed after the hold and the used link were on disk, before LND was asked: found never sent, released; the link stays used',
    { timeout: 180_000 },
    async () => {
      const { token, link, invoice, answer, url } = await redeemUntilKilled('lnurl-withdraw.held-not-paid');
      // tipd died as the OK was due: the wallet heard nothing.
      expect(answer).toBeUndefined();
      const held = (await api(url, 'GET', `/v1/withdrawals/lnurl/${link.id}`, { token })).body;
      expect(held).toMatchObject({ state: 'used', withdrawal: { state: 'pending', paymentHash: invoice.paymentHash } });
      expect((await api(url, 'GET', '/v1/account', { token })).body.balanceMsat).toBe(
        String(10_000_000n - 4_000_000n - BigInt(held.withdrawal.feeReserveMsat)),
      );
      expect(await lndOf('hub').getPayment(invoice.paymentHash)).toBeUndefined();
      // LND never saw it; after a minute (a request could still have been on its way) it is void.
      const released = await settledWithdrawal(url, token, link.id, 110_000);
      expect(released).toMatchObject({ state: 'used', withdrawal: { state: 'failed', failureReason: 'never sent (tipd stopped before paying)' } });
      expect((await lndOf('alice').getInvoice(invoice.paymentHash))?.state).not.toBe('settled');
      await expectUsedForGood(url, token, link.k1, '10000000');
    },
  );

  it('killed after LND paid, before the outcome was booked: booked once at restart, never paid twice; the link stays used', async () => {
    const { token, link, invoice, answer, url } = await redeemUntilKilled('withdrawal.paid-not-booked');
    // The OK goes out before LND is asked: the wallet may have heard it.
    if (answer) expect(answer.body).toEqual({ status: 'OK' });
    expect((await lndOf('alice').getInvoice(invoice.paymentHash))?.state).toBe('settled');
    const booked = await settledWithdrawal(url, token, link.id);
    expect(booked).toMatchObject({ state: 'used', withdrawal: { state: 'succeeded', feeMsat: '0', paymentHash: invoice.paymentHash } });
    const kinds = (await api(url, 'GET', '/v1/account/history', { token })).body.items.map((i: { kind: string }) => i.kind);
    expect(kinds).toEqual(['withdrawal.release', 'withdrawal.hold', 'deposit']);
    await expectUsedForGood(url, token, link.k1, '6000000');
  });
});
