// Withdrawals on the real stack: a supporter's balance paid to invoices of alice (direct) and dave
// (two hops, a real fee), with the amount and fee held first and the rest released.
import { describe, expect, it } from 'vitest';
import { fundedSupporter, lndOf, tipdForFile } from './helpers.ts';

const tipd = tipdForFile();
const { call } = tipd;
const balance = async (token: string) => BigInt((await call('GET', '/v1/account', { token })).body.balanceMsat);
const funded = async (sat: number): Promise<string> => (await fundedSupporter(tipd.url, sat)).token;

const invoiceOf = async (node: 'alice' | 'dave' | 'hub', sat: number, expiresInMs = 600_000) =>
  (await lndOf(node).createInvoice({ amountMsat: BigInt(sat) * 1000n, description: 'withdrawal test', expiresAt: new Date(Date.now() + expiresInMs) }))
    .paymentRequest;

describe('withdrawals', () => {
  it("pay the supporter's invoice at alice over the direct channel: no fee, the reserve released", async () => {
    const token = await funded(20_000);
    const request = await invoiceOf('alice', 5_000);
    const res = await call('POST', '/v1/withdrawals', { token, body: { paymentRequest: request } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ state: 'succeeded', amountMsat: '5000000', feeMsat: '0' });
    expect(await balance(token)).toBe(15_000_000n);
    expect((await lndOf('alice').getInvoice(res.body.paymentHash))?.state).toBe('settled');
    expect((await call('GET', `/v1/withdrawals/${res.body.id}`, { token })).body.state).toBe('succeeded');
  });

  it('pay an invoice of dave through carol, booking the real routing fee and releasing the rest', async () => {
    const token = await funded(20_000);
    const res = await call('POST', '/v1/withdrawals', { token, body: { paymentRequest: await invoiceOf('dave', 10_000) } });
    expect(res.body.state).toBe('succeeded');
    const feeMsat = BigInt(res.body.feeMsat);
    expect(feeMsat).toBeGreaterThan(0n);
    expect(feeMsat).toBeLessThanOrEqual(BigInt(res.body.feeReserveMsat));
    expect(await balance(token)).toBe(20_000_000n - 10_000_000n - feeMsat);
    const kinds = (await call('GET', '/v1/account/history', { token })).body.items.map((i: { kind: string }) => i.kind);
    expect(kinds).toEqual(['withdrawal.release', 'withdrawal.hold', 'deposit']);
  });

  it('give everything back when LND says the payment failed (the invoice was paid already)', async () => {
    const token = await funded(20_000);
    const request = await invoiceOf('alice', 3_000);
    expect((await lndOf('carol').payInvoice({ paymentRequest: request, maxFeeMsat: 10_000n })).state).toBe('succeeded');
    const res = await call('POST', '/v1/withdrawals', { token, body: { paymentRequest: request } });
    expect(res.body).toMatchObject({ state: 'failed', feeMsat: null });
    // LND's own word: alice refused the payment as one for an invoice already paid (incorrect payment details).
    expect(res.body.failureReason).toBe('invalid_payment');
    expect(await balance(token)).toBe(20_000_000n);
  });

  it('answer a second request for the same invoice with the first withdrawal, paid once', async () => {
    const token = await funded(20_000);
    const request = await invoiceOf('alice', 1_000);
    const first = await call('POST', '/v1/withdrawals', { token, body: { paymentRequest: request } });
    const second = await call('POST', '/v1/withdrawals', { token, body: { paymentRequest: request } });
    expect(second.body.id).toBe(first.body.id);
    expect(await balance(token)).toBe(19_000_000n);
    const stranger = await funded(5_000);
    const refused = await call('POST', '/v1/withdrawals', { token: stranger, body: { paymentRequest: request } });
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('invoice_already_used');
  });

  it('never spend more than the balance when 100 are sent at once', async () => {
    const token = await funded(5_200);
    const requests = await Promise.all(Array.from({ length: 100 }, () => invoiceOf('alice', 1_000)));
    const answers = await Promise.all(requests.map((paymentRequest) => call('POST', '/v1/withdrawals', { token, body: { paymentRequest } })));
    const paid = answers.filter((a) => a.status === 201 && a.body.state === 'succeeded');
    expect(paid.length).toBeGreaterThan(0);
    expect(paid.length).toBeLessThanOrEqual(5);
    expect(answers.filter((a) => a.status !== 201).every((a) => a.status === 409 && a.body.error.code === 'insufficient_balance')).toBe(true);
    const left = await balance(token);
    expect(left).toBe(5_200_000n - BigInt(paid.length) * 1_000_000n);
    expect(left).toBeGreaterThanOrEqual(0n);
  });

  it.each([
    { what: 'an invoice without an amount', request: () => invoiceOf('alice', 0), status: 400, code: 'amount_missing' },
    { what: 'an invoice of the hub itself', request: () => invoiceOf('hub', 1_000), status: 400, code: 'own_invoice' },
    { what: 'an invoice expiring within a minute', request: () => invoiceOf('alice', 1_000, 30_000), status: 400, code: 'invoice_expired' },
    { what: 'something that is not an invoice', request: async () => 'lnbcrt1nonsense', status: 400, code: 'invalid_payment_request' },
    { what: 'an invoice for more than the balance', request: () => invoiceOf('alice', 50_000), status: 409, code: 'insufficient_balance' },
  ])('refuse $what with $status $code, and hold nothing', async ({ request, status, code }) => {
    const token = await funded(10_000);
    const res = await call('POST', '/v1/withdrawals', { token, body: { paymentRequest: await request() } });
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
    expect(await balance(token)).toBe(10_000_000n);
  });
});
