// Payouts on the real stack: a claimed handle's escrow arrives in the creator's real channel by
// keysend (carol directly, dave through carol with a real fee booked), later tips are forwarded,
// and a fee above the cap is never paid: the payout fails, the escrow stays, and it is tried again.
import { afterEach, describe, expect, it } from 'vitest';
import { channelBalance, claimWithTweet, freshHandle, lncli, payoutsOf, succeededPayouts } from './creators.ts';
import { eventually, fundedSupporter, stack, tipdForFile } from './helpers.ts';
import { connect } from './websocket.ts';

const tipd = tipdForFile({ TIPD_PAYOUT_MIN_SAT: '1000', TIPD_PAYOUT_RETRY_SECONDS: '1' });
const { call } = tipd;
const admin = () => ({ authorization: `Bearer ${stack().tipd.adminToken}` });
const pendingOf = async (handle: string) => BigInt((await call('GET', `/v1/handles/${handle}`)).body.pendingMsat);

async function expectBalanced() {
  const audit = (await call('GET', '/v1/admin/audit', { headers: admin() })).body;
  expect(audit.ledger).toMatchObject({ sumMsat: '0', balanced: true });
}

/** Waits until `node`'s channel balance has moved from `before` by exactly `deltaMsat`. */
const balanceMovedBy = (node: 'carol' | 'dave', before: bigint, deltaMsat: bigint) =>
  eventually(async () => ((await channelBalance(node)) - before === deltaMsat ? true : undefined), 20_000);

describe('payouts by keysend', () => {
  it('pay carol her escrow (tips and a flattr allocation) once she claims, into her real channel; a later tip is forwarded by itself', async () => {
    const handle = freshHandle('carol');
    const { token } = await fundedSupporter(tipd.url, 20_000);
    expect((await call('POST', '/v1/tips', { token, body: { handle, amountSat: 3_000 } })).status).toBe(201);
    expect((await call('PUT', '/v1/budget', { token, body: { monthlyBudgetSat: 2_000 } })).status).toBe(200);
    expect((await call('POST', '/v1/flattrs', { token, body: { handle } })).status).toBe(201);
    expect((await call('POST', '/v1/admin/periods/close', { headers: admin() })).status).toBe(200);
    expect(await pendingOf(handle)).toBe(5_000_000n);

    const carolBefore = await channelBalance('carol');
    const { proof } = await claimWithTweet(tipd.url, handle, 'carol');
    expect(proof.body.state).toBe('verified');
    const [first] = await succeededPayouts(tipd.url, handle, 1);
    const amount = BigInt(first!.amountMsat);
    const cap = BigInt(first!.feeCapMsat);
    expect(first).toMatchObject({ nodePubkey: stack().nodes.carol.pubkey, feeMsat: '0' });
    expect(amount + cap).toBe(5_000_000n);
    await balanceMovedBy('carol', carolBefore, amount);
    // The unused fee cap went back to the escrow, below the minimum: it waits for more.
    expect(await pendingOf(handle)).toBe(cap);

    const carolMiddle = await channelBalance('carol');
    expect((await call('POST', '/v1/tips', { token, body: { handle, amountSat: 1_500 } })).status).toBe(201);
    const [second] = await succeededPayouts(tipd.url, handle, 2);
    expect(BigInt(second!.amountMsat) + BigInt(second!.feeCapMsat)).toBe(1_500_000n + cap);
    await balanceMovedBy('carol', carolMiddle, BigInt(second!.amountMsat));
    expect(await payoutsOf(tipd.url, handle)).toHaveLength(2);
    await expectBalanced();
  });

  it('pay dave through carol, booking the real routing fee (earned by carol) out of the escrow', async () => {
    const handle = freshHandle('dave');
    const { token } = await fundedSupporter(tipd.url, 12_000);
    const watcher = await connect(tipd.url);
    watcher.send({ type: 'follow', handle });
    await watcher.next((m) => m.type === 'ready' && (m.topics ?? []).includes(`handle:${handle}`));
    expect((await claimWithTweet(tipd.url, handle, 'dave')).proof.body.state).toBe('verified');
    const [daveBefore, carolBefore] = [await channelBalance('dave'), await channelBalance('carol')];
    expect((await call('POST', '/v1/tips', { token, body: { handle, amountSat: 10_000 } })).status).toBe(201);
    const [payout] = await succeededPayouts(tipd.url, handle, 1);
    const fee = BigInt(payout!.feeMsat!);
    expect(fee).toBeGreaterThan(0n);
    expect(fee).toBeLessThanOrEqual(BigInt(payout!.feeCapMsat));
    await balanceMovedBy('dave', daveBefore, BigInt(payout!.amountMsat));
    await balanceMovedBy('carol', carolBefore, fee);
    expect(await pendingOf(handle)).toBe(10_000_000n - BigInt(payout!.amountMsat) - fee);
    await expectBalanced();
    // Anyone following the handle saw the claim and the payout.
    const succeeded = await watcher.next((m) => m.event === 'payout.succeeded');
    expect(succeeded.data).toMatchObject({ id: payout!.id, feeMsat: payout!.feeMsat, nodePubkey: stack().nodes.dave.pubkey });
    expect(watcher.messages.map((m) => m.event).filter(Boolean)).toEqual(['claim.verified', 'handle.tipped', 'payout.pending', 'payout.succeeded']);
    watcher.close();
  });

  describe('when the route costs more than the fee cap', () => {
    let restore: (() => Promise<unknown>) | undefined;
    afterEach(async () => {
      await restore?.();
      restore = undefined;
    });

    it('never pays the fee: the payout fails, the escrow stays whole, and it is tried again (backing off) until the route is cheap again', async () => {
      const handle = freshHandle('pricey');
      const { token } = await fundedSupporter(tipd.url, 6_000);
      expect((await claimWithTweet(tipd.url, handle, 'dave')).proof.body.state).toBe('verified');
      // carol asks 10% to forward to dave; tipd's cap is 10 sat + 0.5%.
      const channel = (await lncli('carol', 'listchannels')).channels.find((c: { remote_pubkey: string }) => c.remote_pubkey === stack().nodes.dave.pubkey);
      const info = await lncli('carol', 'getchaninfo', '--chan_point', channel.channel_point);
      const policy = info.node1_pub === stack().nodes.carol.pubkey ? info.node1_policy : info.node2_policy;
      const setPolicy = (base: string, ppm: string) =>
        lncli(
          'carol',
          'updatechanpolicy',
          '--base_fee_msat',
          base,
          '--fee_rate_ppm',
          ppm,
          '--time_lock_delta',
          String(policy.time_lock_delta),
          '--chan_point',
          channel.channel_point,
        );
      await setPolicy('1000', '100000');
      restore = () => setPolicy(policy.fee_base_msat, policy.fee_rate_milli_msat);

      expect((await call('POST', '/v1/tips', { token, body: { handle, amountSat: 5_000 } })).status).toBe(201);
      const failed = await eventually(async () => {
        const payouts = await payoutsOf(tipd.url, handle);
        return payouts.filter((p) => p.state === 'failed').length >= 2 ? payouts : undefined;
      }, 60_000);
      expect(failed.every((p) => p.state !== 'succeeded')).toBe(true);
      // Each attempt is a new payment: a new hash, never the same one twice.
      expect(new Set(failed.map((p) => p.paymentHash)).size).toBe(failed.length);
      expect(
        (await pendingOf(handle)) + failed.filter((p) => p.state === 'pending').reduce((sum, p) => sum + BigInt(p.amountMsat) + BigInt(p.feeCapMsat), 0n),
      ).toBe(5_000_000n);

      await restore();
      restore = undefined;
      const [paid] = await succeededPayouts(tipd.url, handle, 1, 90_000);
      expect(BigInt(paid!.feeMsat!)).toBeLessThanOrEqual(BigInt(paid!.feeCapMsat));
      await expectBalanced();
    });
  });
});
