// Winding tipd down on the real stack, from the operator's word to what is left owed: new money
// and claims refused with `winding_down`, invoices given out before cancelled; ann's tip to a handle nobody claimed back with her at
// once; a claimed handle's tip paid to its creator's node as usual; a payer's tip by LNURL paid back
// to the Lightning Address they gave; every websocket client told; ann withdraws all. What is left
// is only what an anonymous LNURL payer gave a handle: listed as owed to its creator.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimWithTweet, freshHandle, succeededPayouts } from './creators.ts';
import { api, eventually, fundedSupporter, lndOf, stack, startPublicTipd, type TipdProcess } from './helpers.ts';
import { connect } from './websocket.ts';

const adminToken = 'w'.repeat(40);
let tipd: TipdProcess & { publicUrl: string };
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tipd-wind-down-'));
beforeAll(async () => {
  tipd = await startPublicTipd(
    {
      TIPD_ADMIN_TOKEN: adminToken,
      TIPD_PAYOUT_MIN_SAT: '1000',
      TIPD_PAYOUT_RETRY_SECONDS: '1',
      TIPD_CLAIM_RATE_LIMIT_PER_MINUTE: '0',
      // Withdrawing everything leaves nothing: no fee reserve to keep back.
      TIPD_WITHDRAWAL_FEE_BASE_MSAT: '0',
      TIPD_WITHDRAWAL_FEE_PPM: '0',
    },
    dataDir,
  );
});
afterAll(async () => {
  await tipd?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const call = (method: string, route: string, options?: Parameters<typeof api>[3]) => api(tipd.url, method, route, options);
const admin = (method: string, route: string, body?: unknown) => call(method, route, { token: adminToken, ...(body === undefined ? {} : { body }) });
const pay = async (invoice: string) => expect((await lndOf('alice').payInvoice({ paymentRequest: invoice, maxFeeMsat: 10_000n })).state).toBe('succeeded');

/** An invoice for a tip to `handle` by LNURL-pay, as a wallet asks for it; with the payer's address (LUD-18) if given. */
async function lnurlInvoice(handle: string, sat: number, payerAddress?: string): Promise<string> {
  const payRequest = (await call('GET', `/.well-known/lnurlp/${handle}`)).body;
  const callback = new URL(payRequest.callback);
  callback.searchParams.set('amount', String(sat * 1000));
  if (payerAddress) callback.searchParams.set('payerdata', JSON.stringify({ identifier: payerAddress }));
  const answer = await call('GET', callback.pathname + callback.search);
  expect(answer.status).toBe(200);
  return answer.body.pr as string;
}

/** A tip to `handle` by LNURL-pay, paid by alice. */
async function lnurlTip(handle: string, sat: number, payerAddress?: string): Promise<void> {
  await pay(await lnurlInvoice(handle, sat, payerAddress));
  await eventually(async () => ((await call('GET', `/v1/handles/${handle}`)).body.pendingMsat !== '0' ? true : undefined));
}

describe('winding down', () => {
  it(
    'refuses new money and claims, gives back what no creator claimed, pays creators, and leaves only what is owed to them',
    { timeout: 180_000 },
    async () => {
      const unclaimed = freshHandle('gone');
      const claimed = freshHandle('kept');
      const payerTipped = freshHandle('payer');
      const anonymous = freshHandle('anon');
      const dave = stack().lightningAddresses[0]!.address;
      const daveBefore = await lndOf('dave').getChannelBalanceMsat();

      // Before: ann tips a handle nobody claims, and one carol claims with her node.
      const ann = await fundedSupporter(tipd.url, 7_000);
      expect((await claimWithTweet(tipd.url, claimed, 'carol')).proof.status).toBe(200);
      expect((await call('POST', '/v1/tips', { token: ann.token, body: { handle: unclaimed, amountSat: 1_000 } })).status).toBe(201);
      expect((await call('POST', '/v1/tips', { token: ann.token, body: { handle: claimed, amountSat: 2_000 } })).status).toBe(201);
      await lnurlTip(payerTipped, 2_000, dave);
      await lnurlTip(anonymous, 1_500);
      // Invoices given out before the word, not paid yet: ann's deposit, and a wallet's tip by LNURL.
      const deposit = await call('POST', '/v1/deposits', { token: ann.token, body: { amountSat: 3_000 } });
      expect(deposit.status).toBe(201);
      const unpaidTip = await lnurlInvoice(anonymous, 1_000);
      const follower = await connect(tipd.url);
      follower.send({ type: 'follow', handle: anonymous });
      await follower.next((m) => m.type === 'ready' && (m.topics ?? []).length === 1);

      // The operator's word: once, for good.
      const begun = await admin('POST', '/v1/admin/wind-down', { reason: 'the operator is retiring' });
      expect(begun).toMatchObject({ status: 202, body: { started: true, state: { reason: 'the operator is retiring' } } });
      expect((await admin('POST', '/v1/admin/wind-down', { reason: 'again' })).body).toMatchObject({ started: false, state: begun.body.state });
      expect((await follower.next((m) => m.event === 'service.winding_down')).data).toEqual(begun.body.state);

      // New money and new claims are refused, with the code; a tip made meanwhile to the claimed handle is not possible either.
      const refused = async (method: string, route: string, options?: Parameters<typeof api>[3]) => {
        const res = await call(method, route, options);
        expect(res.status).toBe(503);
        expect(res.body.error?.code ?? res.body.code).toBe('winding_down');
      };
      await refused('POST', '/v1/deposits', { token: ann.token, body: { amountSat: 1_000 } });
      await refused('POST', '/v1/tips', { token: ann.token, body: { handle: claimed, amountSat: 1_000 } });
      await refused('POST', '/v1/flattrs', { token: ann.token, body: { handle: claimed } });
      await refused('POST', '/v1/claims', { body: { handle: unclaimed, nodePubkey: stack().nodes.carol.pubkey } });
      await refused('GET', `/.well-known/lnurlp/${unclaimed}`);
      await refused('GET', `/lnurl/fund/${ann.id}`);
      const lnurlRefusal = (await call('GET', `/.well-known/lnurlp/${unclaimed}`)).body;
      expect(lnurlRefusal).toMatchObject({ status: 'ERROR', reason: expect.stringContaining('winding down') });
      // The invoices given out before are cancelled: no wallet can pay them any more.
      await eventually(async () =>
        (await call('GET', `/v1/deposits/${deposit.body.id}`, { token: ann.token })).body.state === 'cancelled' ? true : undefined,
      );
      for (const invoice of [deposit.body.paymentRequest as string, unpaidTip])
        expect((await lndOf('alice').payInvoice({ paymentRequest: invoice, maxFeeMsat: 10_000n })).state).toBe('failed');

      // What nobody claimed is back with ann at once; the payer's tip goes back to dave's address.
      await eventually(async () => ((await call('GET', '/v1/account', { token: ann.token })).body.balanceMsat === '5000000' ? true : undefined));
      expect((await call('GET', `/v1/handles/${unclaimed}`)).body.pendingMsat).toBe('0');
      // The claimed handle's creator is paid as usual (escrow as it was before the wind-down).
      await succeededPayouts(tipd.url, claimed, 1);
      const [refund] = await succeededPayouts(tipd.url, payerTipped, 1);
      expect(refund).toMatchObject({ refundOf: expect.any(String) });
      await eventually(async () => ((await lndOf('dave').getChannelBalanceMsat()) > daveBefore ? true : undefined));

      // ann withdraws everything, as every supporter can.
      const invoice = await lndOf('alice').createInvoice({ amountMsat: 5_000_000n, description: 'all of it', expiresAt: new Date(Date.now() + 600_000) });
      const withdrawal = await call('POST', '/v1/withdrawals', { token: ann.token, body: { paymentRequest: invoice.paymentRequest } });
      expect(withdrawal.status).toBe(201);
      await eventually(async () => ((await call('GET', '/v1/account', { token: ann.token })).body.balanceMsat === '0' ? true : undefined));

      // Left: what the anonymous payer gave, owed to that handle's creator; under a sat plus a fee
      // cap of the claimed handle's escrow (winding down, no more tips will come: it is paid out,
      // however small); what the refund's unused fee reserve left (under its fee cap). The ledger balanced.
      const { body, left } = await eventually(async () => {
        const res = await admin('GET', '/v1/admin/wind-down');
        if (res.body.owed.inFlightMsat !== '0' || res.body.owed.supporters.count !== 0) return undefined;
        const owedNow = new Map<string, { claimed: boolean; amountMsat: string }>(res.body.owed.escrow.largest.map((e: { handle: string }) => [e.handle, e]));
        const [newest] = await succeededPayouts(tipd.url, claimed, 1);
        const remainder = BigInt(owedNow.get(claimed)?.amountMsat ?? '0');
        return remainder < 1_000n + BigInt(newest!.feeCapMsat) ? { body: res.body, left: owedNow } : undefined;
      }, 60_000);
      expect(body.state).toEqual(begun.body.state);
      expect(body.owed.supporters).toEqual({ count: 0, totalMsat: '0', largest: [] });
      expect(left.get(anonymous)).toEqual({ handle: anonymous, claimed: false, amountMsat: '1500000' });
      if (left.has(payerTipped)) expect(BigInt(left.get(payerTipped)!.amountMsat)).toBeLessThanOrEqual(BigInt(refund!.feeCapMsat));
      expect([...left.keys()].every((handle) => [anonymous, claimed, payerTipped].includes(handle))).toBe(true);
      const owedMsat = [...left.values()].reduce((sum, e) => sum + BigInt(e.amountMsat), 0n);
      expect(body.owed.totalMsat).toBe(String(owedMsat));
      const audit = (await admin('GET', '/v1/admin/audit')).body;
      expect(audit).toMatchObject({ ledger: { balanced: true }, windDown: begun.body.state, liabilitiesMsat: { total: String(owedMsat) } });
      follower.close();

      // And so it stays across a restart: still winding down, still refusing new money.
      await tipd.stop();
      tipd = await startPublicTipd({ TIPD_ADMIN_TOKEN: adminToken }, dataDir);
      expect((await admin('GET', '/v1/admin/wind-down')).body.state).toEqual(begun.body.state);
      await refused('POST', '/v1/deposits', { token: ann.token, body: { amountSat: 1_000 } });
    },
  );
});
