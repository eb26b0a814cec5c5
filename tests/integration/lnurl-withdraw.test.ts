// LNURL-withdraw on the real stack: a supporter asks for a withdraw link, alice's node plays the
// wallet (reads the link, makes an invoice, calls back), and the hub pays it once. The LNURL names
// the public URL's host; its path is called on the tipd's own address. Every refusal is LNURL's
// `{ status: "ERROR" }` with a 4xx status, and books nothing.
import { describe, expect, it } from 'vitest';
import { decodeLnurl } from '../../src/lnurl/lnurl.ts';
import { signedInvoice } from '../unit/invoice-fixtures.ts';
import { api, eventually, fundedSupporter, lndOf, startTipd, tipdForFile } from './helpers.ts';

const publicUrl = 'http://tipd.localhost:8470';
const tipd = tipdForFile({ TIPD_PUBLIC_URL: publicUrl });
const { call } = tipd;

const balanceAt = async (url: string, token: string) => BigInt((await api(url, 'GET', '/v1/account', { token })).body.balanceMsat);
const invoiceOf = (node: 'alice' | 'hub', sat: number, expiresInMs = 600_000) =>
  lndOf(node).createInvoice({ amountMsat: BigInt(sat) * 1000n, description: 'lnurl-withdraw test', expiresAt: new Date(Date.now() + expiresInMs) });

/** The path and query an LNURL stands for, checked to be on the public URL. */
function pathOf(lnurl: string): string {
  const url = new URL(decodeLnurl(lnurl)!);
  expect(url.origin).toBe(publicUrl);
  return `${url.pathname}${url.search}`;
}

/** What a wallet does with a withdraw link: read it, then call back with an invoice. */
const wallet = (url: string) => ({
  read: (lnurl: string) => api(url, 'GET', pathOf(lnurl)),
  callback: (k1: string, pr: string) => api(url, 'GET', `/lnurl/withdraw/callback?k1=${k1}&pr=${pr}`),
});

async function linkFor(url: string, token: string, amountSat?: number) {
  const res = await api(url, 'POST', '/v1/withdrawals/lnurl', { token, body: amountSat === undefined ? {} : { amountSat } });
  expect(res.status).toBe(201);
  return res.body as { id: string; k1: string; lnurl: string; expiresAt: string; minWithdrawable: number; maxWithdrawable: number };
}

describe('LNURL-withdraw', () => {
  it("pays alice's invoice once: the link read, called back, the hold answered OK, the payment booked; the k1 never again", async () => {
    const { token } = await fundedSupporter(tipd.url, 20_000);
    const link = await linkFor(tipd.url, token);
    // The most whose fee reserve (10 sat + 5,000 ppm) fits beside it in 20,000 sats.
    expect(link).toMatchObject({ minWithdrawable: 1_000, maxWithdrawable: 19_890_000 });
    expect(link.lnurl).toMatch(/^LNURL1[02-9AC-HJ-NP-Z]+$/);
    expect(pathOf(link.lnurl)).toBe(`/lnurl/withdraw?k1=${link.k1}`);

    const request = await wallet(tipd.url).read(link.lnurl);
    expect(request.body).toEqual({
      tag: 'withdrawRequest',
      callback: `${publicUrl}/lnurl/withdraw/callback`,
      k1: link.k1,
      defaultDescription: 'Withdrawal from tipd',
      minWithdrawable: 1_000,
      maxWithdrawable: 19_890_000,
    });
    const cors = await fetch(`${tipd.url}${pathOf(link.lnurl)}`);
    expect(cors.headers.get('access-control-allow-origin')).toBe('*');

    const invoice = await invoiceOf('alice', 5_000);
    expect((await wallet(tipd.url).callback(link.k1, invoice.paymentRequest)).body).toEqual({ status: 'OK' });
    // The wallet retries with the same invoice (it did not hear the OK): OK again, nothing more held.
    expect((await wallet(tipd.url).callback(link.k1, invoice.paymentRequest)).body).toEqual({ status: 'OK' });
    await eventually(async () => ((await lndOf('alice').getInvoice(invoice.paymentHash))?.state === 'settled' ? true : undefined));
    const used = await eventually(async () => {
      const res = await call('GET', `/v1/withdrawals/lnurl/${link.id}`, { token });
      return res.body.withdrawal?.state === 'succeeded' ? res.body : undefined;
    });
    expect(used).toMatchObject({ id: link.id, state: 'used', withdrawal: { amountMsat: '5000000', paymentHash: invoice.paymentHash } });
    const withdrawal = (await call('GET', `/v1/withdrawals/${used.withdrawal.id}`, { token })).body;
    expect(withdrawal).toMatchObject({ state: 'succeeded', amountMsat: '5000000' });
    const left = 20_000_000n - 5_000_000n - BigInt(withdrawal.feeMsat);
    expect(await balanceAt(tipd.url, token)).toBe(left);
    expect((await wallet(tipd.url).callback(link.k1, invoice.paymentRequest)).body).toEqual({ status: 'OK' });
    expect(await balanceAt(tipd.url, token)).toBe(left);

    // The same k1 again, with another invoice: refused, nothing held, nothing paid.
    const again = await invoiceOf('alice', 1_000);
    const second = await wallet(tipd.url).callback(link.k1, again.paymentRequest);
    expect(second.status).toBe(409);
    expect(second.body).toMatchObject({ status: 'ERROR', code: 'withdraw_link_used' });
    expect((await wallet(tipd.url).read(link.lnurl)).body).toMatchObject({ status: 'ERROR', code: 'withdraw_link_used' });
    expect(await balanceAt(tipd.url, token)).toBe(left);
    expect((await lndOf('alice').getInvoice(again.paymentHash))?.state).not.toBe('settled');
  });

  it('pays exactly the amount a link was made for, and refuses another', async () => {
    const { token } = await fundedSupporter(tipd.url, 10_000);
    const link = await linkFor(tipd.url, token, 3_000);
    expect(link).toMatchObject({ minWithdrawable: 3_000_000, maxWithdrawable: 3_000_000 });
    const short = await wallet(tipd.url).callback(link.k1, (await invoiceOf('alice', 2_000)).paymentRequest);
    expect(short.status).toBe(400);
    expect(short.body).toMatchObject({ status: 'ERROR', code: 'amount_out_of_range' });
    expect(await balanceAt(tipd.url, token)).toBe(10_000_000n);
    const invoice = await invoiceOf('alice', 3_000);
    expect((await wallet(tipd.url).callback(link.k1, invoice.paymentRequest)).body).toEqual({ status: 'OK' });
    await eventually(async () => ((await lndOf('alice').getInvoice(invoice.paymentHash))?.state === 'settled' ? true : undefined));
  });

  it('refuses a link the balance does not cover', async () => {
    const { token } = await fundedSupporter(tipd.url, 1_000);
    const res = await call('POST', '/v1/withdrawals/lnurl', { token, body: { amountSat: 1_000 } });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('insufficient_balance');
  });

  it('refuses a 21st open link of one supporter (409 too_many_withdraw_links) until one is used', async () => {
    const { token } = await fundedSupporter(tipd.url, 30_000);
    const links = [];
    for (let i = 0; i < 20; i += 1) links.push(await linkFor(tipd.url, token, 1_000));
    const refused = await call('POST', '/v1/withdrawals/lnurl', { token, body: { amountSat: 1_000 } });
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('too_many_withdraw_links');
    const invoice = await invoiceOf('alice', 1_000);
    expect((await wallet(tipd.url).callback(links[0]!.k1, invoice.paymentRequest)).body).toEqual({ status: 'OK' });
    await linkFor(tipd.url, token, 1_000);
  });

  it.each([
    { what: 'an invoice above maxWithdrawable', pr: async () => (await invoiceOf('alice', 19_891)).paymentRequest, status: 400, code: 'amount_out_of_range' },
    { what: 'a mainnet invoice', pr: async () => signedInvoice({ amountMsat: 1_000_000n, network: 'bitcoin' }), status: 400, code: 'wrong_network' },
    { what: "an invoice of the hub's own", pr: async () => (await invoiceOf('hub', 1_000)).paymentRequest, status: 400, code: 'own_invoice' },
    { what: 'something that is not an invoice', pr: async () => 'lnbcrt1nonsense', status: 400, code: 'invalid_payment_request' },
    {
      what: 'an invoice expiring within a minute',
      pr: async () => (await invoiceOf('alice', 1_000, 30_000)).paymentRequest,
      status: 400,
      code: 'invoice_expired',
    },
    {
      what: 'an unknown k1',
      k1: 'ab'.repeat(32),
      pr: async () => (await invoiceOf('alice', 1_000)).paymentRequest,
      status: 404,
      code: 'withdraw_link_unknown',
    },
    { what: 'a k1 that is not one', k1: 'nope', pr: async () => (await invoiceOf('alice', 1_000)).paymentRequest, status: 400, code: 'invalid_request' },
  ])('refuses $what: ERROR $status $code, the balance untouched, the link still open', async ({ k1, pr, status, code }) => {
    const { token } = await fundedSupporter(tipd.url, 20_000);
    const link = await linkFor(tipd.url, token);
    const res = await wallet(tipd.url).callback(k1 ?? link.k1, await pr());
    expect(res.status).toBe(status);
    expect(res.body).toMatchObject({ status: 'ERROR', code });
    expect(typeof res.body.reason).toBe('string');
    expect(await balanceAt(tipd.url, token)).toBe(20_000_000n);
    expect((await call('GET', `/v1/withdrawals/lnurl/${link.id}`, { token })).body).toMatchObject({ state: 'open', withdrawal: null });
  });

  it('refuses an expired link, read or called back (a tipd whose links last a second)', async () => {
    const shortLived = await startTipd({ TIPD_PUBLIC_URL: publicUrl, TIPD_LNURL_WITHDRAW_SECONDS: '1' });
    try {
      const { token } = await fundedSupporter(shortLived.url, 5_000);
      const link = await linkFor(shortLived.url, token);
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const read = await wallet(shortLived.url).read(link.lnurl);
      expect(read.status).toBe(410);
      expect(read.body).toMatchObject({ status: 'ERROR', code: 'withdraw_link_expired' });
      const res = await wallet(shortLived.url).callback(link.k1, (await invoiceOf('alice', 1_000)).paymentRequest);
      expect(res.status).toBe(410);
      expect(res.body).toMatchObject({ status: 'ERROR', code: 'withdraw_link_expired' });
      expect(await balanceAt(shortLived.url, token)).toBe(5_000_000n);
    } finally {
      await shortLived.stop();
    }
  });

  it('refuses to make a link without a public URL to put in it', async () => {
    const hidden = await startTipd();
    try {
      const { token } = (await api(hidden.url, 'POST', '/v1/accounts')).body;
      const res = await api(hidden.url, 'POST', '/v1/withdrawals/lnurl', { token, body: {} });
      expect(res.status).toBe(503);
      expect(res.body.error).toEqual({ code: 'lnurl_unavailable', message: 'LNURL needs TIPD_PUBLIC_URL: this tipd has no public URL' });
    } finally {
      await hidden.stop();
    }
  });
});
