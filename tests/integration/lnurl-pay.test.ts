// Any wallet tips any handle: LNURL-pay and Lightning Addresses on the real stack, over https,
// asked by independent clients (`lnurl-pay`, Alby's `@getalby/lightning-tools`) run as wallets are
// (their own process, trusting the stack's CA), paid by alice's LND. The handle's escrow rises by
// exactly what was paid; every refusal answers LNURL's error format and books nothing.
import { hash } from 'node:crypto';
import { parsePaymentRequest } from 'invoices';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeLnurl } from '../../src/lnurl/lnurl.ts';
import { claimWithTweet, freshHandle, succeededPayouts } from './creators.ts';
import { api, eventually, lndOf, stack, startPublicTipd, startTipd, wallet, type TipdProcess } from './helpers.ts';
import { connect } from './websocket.ts';

let tipd: TipdProcess & { publicUrl: string };
let publicUrl: string;
const adminToken = 'a'.repeat(40);
beforeAll(async () => {
  tipd = await startPublicTipd({
    TIPD_ADMIN_TOKEN: adminToken,
    TIPD_LNURL_MAX_SAT: '50000',
    TIPD_LNURL_COMMENT_MAX: '40',
    TIPD_PAYOUT_MIN_SAT: '1000',
    TIPD_PAYOUT_RETRY_SECONDS: '1',
  });
  publicUrl = tipd.publicUrl;
});
afterAll(async () => {
  await tipd.stop();
});

const handleView = async (handle: string) => (await api(tipd.url, 'GET', `/v1/handles/${handle}`)).body;
const pay = async (invoice: string) => expect((await lndOf('alice').payInvoice({ paymentRequest: invoice, maxFeeMsat: 10_000n })).state).toBe('succeeded');
const pendingOf = async (handle: string) => BigInt((await handleView(handle)).pendingMsat);

describe('a handle paid from any wallet', () => {
  it('shows its Lightning Address and LNURL, and answers a payRequest for it, claimed or not', async () => {
    const handle = freshHandle('Lnurl');
    const view = await handleView(handle);
    const host = `localhost:${new URL(publicUrl).port}`;
    expect(view.lightningAddress).toBe(`${handle.toLowerCase()}@${host}`);
    expect(view.lnurl).toMatch(/^LNURL1[0-9A-Z]+$/);
    expect(view.lightning).toBe(`lightning:${view.lnurl}`);
    expect(decodeLnurl(view.lnurl)).toBe(`${publicUrl}/.well-known/lnurlp/${handle.toLowerCase()}`);

    const res = await fetch(`${tipd.url}/.well-known/lnurlp/${handle}`);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    const payRequest = (await res.json()) as Record<string, any>;
    expect(payRequest).toMatchObject({
      tag: 'payRequest',
      callback: `${publicUrl}/lnurl/pay/${handle}/unclaimed`,
      minSendable: 1_000,
      maxSendable: 50_000_000,
      commentAllowed: 40,
      payerData: { name: { mandatory: false }, identifier: { mandatory: false } },
    });
    const metadata = JSON.parse(payRequest.metadata) as [string, string][];
    expect(metadata.filter(([type]) => type === 'text/plain')).toEqual([['text/plain', expect.stringContaining(`Tip @${handle} on ${host} (not claimed yet`)]]);
    expect(metadata).toContainEqual(['text/identifier', `${handle.toLowerCase()}@${host}`]);
  });

  it('lnurl-pay (validating the invoice) gets an invoice for exactly the amount; paid, the escrow rises by it, once, with the comment public', async () => {
    // Never seen before, and reached by its LNURL (lower case): shown so.
    const handle = freshHandle('lnp');
    const { lnurl } = await handleView(handle);
    const follower = await connect(tipd.url);
    follower.send({ type: 'follow', handle });
    await follower.next((m) => m.type === 'ready');
    const got = await wallet('lnurl-pay', lnurl, '1234', 'great\u0007 thread!\n  thanks');
    expect(got).toMatchObject({
      hasValidDescriptionHash: true,
      hasValidAmount: true,
      commentAllowed: 40,
      identifier: `${handle.toLowerCase()}@localhost:${new URL(publicUrl).port}`,
    });
    expect(got.successAction).toEqual({ tag: 'message', message: `Thank you! Your tip waits for @${handle} to claim it.` });
    await pay(got.invoice);
    await eventually(async () => ((await pendingOf(handle)) === 1_234_000n ? true : undefined));
    const tipped = await follower.next((m) => m.type === 'event' && m.event === 'handle.tipped');
    expect(tipped.data).toEqual({ handle, amountMsat: '1234000', pendingMsat: '1234000', comment: 'great thread! thanks' });
    follower.close();
    expect(await handleView(handle)).toMatchObject({ tips: 1, supporters: 1, claimed: false });
    // LUD-21: the invoice's verify URL says it is paid, with the preimage of its hash.
    const verified = (await (await fetch(got.verify.replace(publicUrl, tipd.url))).json()) as { preimage: string };
    expect(verified).toMatchObject({ status: 'OK', settled: true, pr: got.invoice });
    expect(hash('sha256', Buffer.from(verified.preimage, 'hex'))).toBe(parsePaymentRequest({ request: got.invoice }).id);
  });

  it("Alby's client pays the Lightning Address, and verifies the payment itself (LUD-21)", async () => {
    const handle = freshHandle('Alby');
    const mapping = `tipd.localhost=localhost:${new URL(publicUrl).port}`;
    const got = await wallet('alby', `${handle.toLowerCase()}@tipd.localhost`, '2100', 'from alby', mapping);
    // Asked by its address (lower case, LUD-16), a handle never seen before is shown so.
    expect(got).toMatchObject({ satoshi: 2100, description: expect.stringContaining(`Tip @${handle.toLowerCase()} on`) });
    expect(await wallet('alby-verify', got.invoice, got.verify, mapping)).toMatchObject({ paid: false });
    await pay(got.invoice);
    await eventually(async () => ((await pendingOf(handle)) === 2_100_000n ? true : undefined));
    expect(await wallet('alby-verify', got.invoice, got.verify, mapping)).toMatchObject({ paid: true });
  });

  it('commits the invoice to the metadata and the payer data as sent (LUD-18), and keeps the payer’s address with the lot', async () => {
    const handle = freshHandle('Payer');
    const payRequest = (await api(tipd.url, 'GET', `/.well-known/lnurlp/${handle}`)).body;
    const payerdata = JSON.stringify({ name: 'Satoshi', identifier: 'Sats@Wallet.Example' });
    const callback = new URL(payRequest.callback.replace(publicUrl, tipd.url));
    callback.search = new URLSearchParams({ amount: '5000', payerdata }).toString();
    const answer = (await (await fetch(callback)).json()) as { pr: string };
    const invoice = parsePaymentRequest({ request: answer.pr });
    expect(invoice.description_hash).toBe(hash('sha256', payRequest.metadata + payerdata));
    expect(invoice.mtokens).toBe('5000');

    const before = (await api(tipd.url, 'GET', '/v1/admin/audit', { token: adminToken })).body.liabilitiesMsat.escrowFromPayers;
    await pay(answer.pr);
    await eventually(async () => ((await pendingOf(handle)) === 5_000n ? true : undefined));
    const after = (await api(tipd.url, 'GET', '/v1/admin/audit', { token: adminToken })).body;
    expect(BigInt(after.liabilitiesMsat.escrowFromPayers.withRefundAddressMsat) - BigInt(before.withRefundAddressMsat)).toBe(5_000n);
    expect(after.liabilitiesMsat.escrowFromPayers.heldForClaimMsat).toBe(before.heldForClaimMsat);
    expect(after.ledger.balanced).toBe(true);
  });

  it("a claimed handle says so, and what a wallet pays it is forwarded to its creator's node", async () => {
    const handle = freshHandle('Fwd');
    expect((await claimWithTweet(tipd.url, handle, 'carol')).proof.status).toBe(200);
    const payRequest = (await api(tipd.url, 'GET', `/.well-known/lnurlp/${handle}`)).body;
    expect(payRequest.callback).toBe(`${publicUrl}/lnurl/pay/${handle}/claimed`);
    expect(JSON.parse(payRequest.metadata)[0]).toEqual(['text/plain', expect.stringContaining('(claimed: forwarded to')]);
    const got = await wallet('lnurl-pay', (await handleView(handle)).lnurl, '3000');
    expect(got).toMatchObject({ hasValidDescriptionHash: true, successAction: { message: `Thank you! Your tip is on its way to @${handle}.` } });
    await pay(got.invoice);
    const [payout] = await succeededPayouts(tipd.url, handle, 1);
    expect(BigInt(payout!.amountMsat) + BigInt(payout!.feeMsat!)).toBeLessThanOrEqual(3_000_000n);
    expect(payout!.nodePubkey).toBe(stack().nodes.carol.pubkey);
  });
});

describe("a supporter's own funding LNURL", () => {
  it('tops the balance up from any wallet, the amount picked there (lnurl-pay validating the invoice), credited once as a deposit', async () => {
    const { token } = (await api(tipd.url, 'POST', '/v1/accounts')).body;
    const account = (await api(tipd.url, 'GET', '/v1/account', { token })).body;
    expect(account.fundingLightning).toBe(`lightning:${account.fundingLnurl}`);
    expect(decodeLnurl(account.fundingLnurl)).toBe(`${publicUrl}/lnurl/fund/${account.id}`);
    const got = await wallet('lnurl-pay', account.fundingLnurl, '7000');
    expect(got).toMatchObject({ hasValidDescriptionHash: true, hasValidAmount: true, description: expect.stringContaining('Top up your tipd balance') });
    await pay(got.invoice);
    await eventually(async () => ((await api(tipd.url, 'GET', '/v1/account', { token })).body.balanceMsat === '7000000' ? true : undefined));
    const history = (await api(tipd.url, 'GET', '/v1/account/history', { token })).body.items;
    expect(history.map((i: { kind: string; amountMsat: string }) => [i.kind, i.amountMsat])).toEqual([['deposit', '7000000']]);
  });

  it('a deposit answers its invoice as a lightning: URI too, for wallets without LNURL', async () => {
    const { token } = (await api(tipd.url, 'POST', '/v1/accounts')).body;
    const deposit = (await api(tipd.url, 'POST', '/v1/deposits', { token, body: { amountSat: 1_000 } })).body;
    expect(deposit.lightning).toBe(`lightning:${deposit.paymentRequest}`);
  });

  it('an unknown account, or amounts out of range: 4xx LNURL errors', async () => {
    const { id } = (await api(tipd.url, 'POST', '/v1/accounts')).body;
    for (const [route, status, code] of [
      ['/lnurl/fund/nosuchaccount', 404, 'not_found'],
      ['/lnurl/fund/nosuchaccount/callback?amount=1000', 404, 'not_found'],
      [`/lnurl/fund/${id}/callback?amount=1500`, 400, 'amount_not_whole_sats'],
      [`/lnurl/fund/${id}/callback?amount=10000001000`, 400, 'amount_out_of_range'],
    ] as const) {
      const res = await api(tipd.url, 'GET', route);
      expect([route, res.status, res.body]).toEqual([route, status, { status: 'ERROR', reason: expect.any(String), code }]);
    }
  });
});

describe('a wallet asking wrongly', () => {
  const callbackOf = async (handle: string) =>
    new URL((await api(tipd.url, 'GET', `/.well-known/lnurlp/${handle}`)).body.callback.replace(publicUrl, tipd.url));

  it.each([
    ['an amount below 1 sat', { amount: '0' }, 'amount_out_of_range'],
    ['an amount above maxSendable', { amount: '50001000' }, 'amount_out_of_range'],
    ['msat that are not whole sats', { amount: '1500' }, 'amount_not_whole_sats'],
    ['no amount', {}, 'invalid_request'],
    ['an amount that is not a number', { amount: '1e6' }, 'invalid_request'],
    ['a comment too long', { amount: '1000', comment: 'x'.repeat(41) }, 'comment_too_long'],
    ['payer data that is not JSON', { amount: '1000', payerdata: '{name' }, 'invalid_payerdata'],
    ['payer data not offered', { amount: '1000', payerdata: '{"email":"a@b.c"}' }, 'invalid_payerdata'],
    ['an identifier that is no address', { amount: '1000', payerdata: '{"identifier":"not an address"}' }, 'invalid_payerdata'],
  ])('%s: a 4xx LNURL error, nothing booked', async (_what, query, code) => {
    const handle = freshHandle('Bad');
    const callback = await callbackOf(handle);
    callback.search = new URLSearchParams(query as Record<string, string>).toString();
    const res = await fetch(callback);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(await res.json()).toMatchObject({ status: 'ERROR', reason: expect.any(String), code });
    expect(await handleView(handle)).toMatchObject({ pendingMsat: '0', tips: 0 });
  });

  it('an invalid handle, an unknown verify id: 4xx LNURL errors', async () => {
    for (const [route, status, code] of [
      ['/.well-known/lnurlp/not-a-handle', 400, 'invalid_handle'],
      ['/lnurl/pay/not-a-handle/unclaimed?amount=1000', 400, 'invalid_handle'],
      ['/lnurl/pay/carol/maybe?amount=1000', 400, 'invalid_request'],
      ['/lnurl/verify/nosuchid', 404, 'not_found'],
    ] as const) {
      const res = await api(tipd.url, 'GET', route);
      expect([route, res.status, res.body]).toEqual([route, status, { status: 'ERROR', reason: expect.any(String), code }]);
    }
  });

  it('a comment sent to a tipd that takes none is dropped, not refused (wallets send one anyway)', async () => {
    const quiet = await startTipd({ TIPD_PUBLIC_URL: 'http://tips.regtest.example', TIPD_LNURL_COMMENT_MAX: '0' });
    try {
      const payRequest = (await api(quiet.url, 'GET', '/.well-known/lnurlp/carol')).body;
      expect(payRequest).not.toHaveProperty('commentAllowed');
      const res = await api(quiet.url, 'GET', '/lnurl/pay/carol/unclaimed?amount=1000&comment=hello');
      expect(res.status).toBe(200);
      expect(res.body.pr).toMatch(/^lnbcrt/);
    } finally {
      await quiet.stop();
    }
  });

  it('a tipd without a public URL says so, in LNURL’s format', async () => {
    const bare = await startTipd({ TIPD_PUBLIC_URL: '' });
    try {
      const res = await api(bare.url, 'GET', '/.well-known/lnurlp/carol');
      expect(res).toEqual({ status: 503, body: { status: 'ERROR', reason: expect.stringContaining('TIPD_PUBLIC_URL'), code: 'lnurl_unavailable' } });
      expect((await api(bare.url, 'GET', '/v1/handles/carol')).body).toMatchObject({ lightningAddress: null, lnurl: null, lightning: null });
    } finally {
      await bare.stop();
    }
  });
});
