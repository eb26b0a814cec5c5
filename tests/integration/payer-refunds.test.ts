// Unclaimed tips paid by LNURL-pay go back to the Lightning Address their payer gave, through the
// payout way, exactly once; without an address, or to an address that cannot be paid, they stay
// in escrow. Payouts and the refund sweep run in this process on a ledger of their own (the sweep's
// clock set past the return time), paying for real from the stack's hub to dave's address.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { payerEscrow, payerIntoEscrow } from '../../src/escrow/payers.ts';
import { Refunds } from '../../src/escrow/refunds.ts';
import type { StoredEvent } from '../../src/events/types.ts';
import { accounts } from '../../src/ledger/ledger.ts';
import { keys } from '../../src/ledger/keys.ts';
import { LightningAddresses } from '../../src/lnurl/address.ts';
import { Payouts } from '../../src/payouts/payouts.ts';
import { tempLedger } from '../unit/ledger-helpers.ts';
import { channelBalance } from './creators.ts';
import { eventually, lndOf, stack } from './helpers.ts';

const log = pino({ level: process.env.TEST_LOG ?? 'silent' });
const dayMs = 24 * 3600_000;
let t: Awaited<ReturnType<typeof tempLedger>>;
let payouts: Payouts;
const events: StoredEvent[] = [];
beforeAll(async () => {
  t = await tempLedger();
  t.ledger.onEvents((e) => events.push(...e));
  const rails = { lnd: lndOf('hub'), addresses: new LightningAddresses({ timeoutMs: 10_000, allowLocal: true }), network: 'regtest' as const };
  payouts = new Payouts(t.ledger, rails, log, {
    minMsat: 1_000_000n,
    feeBaseMsat: 10_000n,
    feePpm: 5_000n,
    retryMs: 60_000,
    retryMaxMs: 60_000,
    recheckMs: 60_000,
    sendingMax: 2,
  });
  await payouts.start();
});
afterAll(async () => {
  payouts.stop();
  await t.dispose();
});

const tip = (handle: string, amountMsat: bigint, refundAddress: string | null) =>
  t.ledger.run((tx) =>
    payerIntoEscrow(tx, {
      handle: { key: handle, display: handle },
      amountMsat,
      paymentId: 'p',
      paymentHash: '00'.repeat(32),
      comment: null,
      payerName: null,
      refundAddress,
    }),
  );

describe('an unclaimed tip paid by LNURL-pay', () => {
  it("goes back to its payer's Lightning Address once its time is up, exactly once, in parts above the address's maxSendable; one without an address, or to one that cannot be paid, stays and holds up no other", async () => {
    const dave = stack().lightningAddresses[0]!.address;
    const handle = `refund_${Date.now().toString(36)}`;
    // The one that cannot be paid comes first: it must not hold up the others.
    const stuck = await tip(handle, 9_000_000n, dave.replace('dave@', 'nobody@'));
    const back = await tip(handle, 40_000_000n, dave);
    const big = await tip(handle, 150_000_000n, dave);
    const kept = await tip(handle, 7_000_000n, null);
    const daveBefore = await channelBalance('dave');

    const refunds = new Refunds(t.ledger, log, {
      returnAfterMs: 30 * dayMs,
      warnBeforeMs: 7 * dayMs,
      intervalMs: dayMs,
      now: () => new Date(Date.now() + 31 * dayMs),
      returnToPayers: (handleKey, lotIds) => payouts.refund(handleKey, lotIds),
    });
    const succeeded = async (count: number) =>
      eventually(async () => {
        const done = (await payouts.list(handle, 10)).payouts.filter((p) => p.state === 'succeeded');
        return done.length >= count ? done : undefined;
      });
    await refunds.sweep();
    const first = await succeeded(2);
    // The payer's address and invoice are theirs alone: not in the public list.
    for (const refund of first) {
      expect(refund).toMatchObject({ descriptionHash: 'matched' });
      expect(refund).not.toHaveProperty('lightningAddress');
      expect(refund).not.toHaveProperty('paymentRequest');
    }
    const ofLot = (lotId: string, list: typeof first) => list.filter((p) => p.refundOf === lotId);
    expect(ofLot(back.id, first)).toHaveLength(1);
    // The big lot went in part (dave's address takes at most 100,000 sat); the rest stays its lot.
    const [bigPart] = ofLot(big.id, first);
    expect(BigInt(bigPart!.amountMsat)).toBe(100_000_000n);
    const bigLeft = 150_000_000n - 100_000_000n - BigInt(bigPart!.feeMsat!);
    expect(await t.ledger.read(keys.payerLot(handle, big.id))).toMatchObject({ amountMsat: bigLeft.toString() });

    // The next sweep returns the rest of it; the address nobody answers for has failed and waits.
    await refunds.sweep();
    const all = await succeeded(3);
    const paid = all.reduce((sum, p) => sum + BigInt(p.amountMsat), 0n);
    const fees = all.reduce((sum, p) => sum + BigInt(p.feeMsat!), 0n);
    await eventually(async () => ((await channelBalance('dave')) - daveBefore === paid ? true : undefined));
    expect(await t.ledger.read(keys.payerLot(handle, back.id))).toBeUndefined();
    expect(await t.ledger.read(keys.payerLot(handle, big.id))).toBeUndefined();
    expect(await t.ledger.read(keys.payerLot(handle, kept.id))).toMatchObject({ refundAddress: null });
    expect(await t.ledger.read(keys.payerLot(handle, stuck.id))).toMatchObject({ failures: 1, amountMsat: '9000000' });
    expect(events.some((e) => e.type === 'payout.attempt_failed')).toBe(false);
    // What is left in escrow: the two lots that stay, and what the fee caps did not use.
    const escrow = await t.ledger.balance(accounts.escrow(handle));
    expect(escrow).toBe(206_000_000n - paid - fees);
    expect(await payerEscrow(t.ledger)).toEqual({ withRefundAddressMsat: 9_000_000n, heldForClaimMsat: 7_000_000n, lots: 2 });

    // A third sweep returns nothing more: the refunded lots are gone, the stuck one waits out its backoff.
    await refunds.sweep();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect((await payouts.list(handle, 10)).payouts).toHaveLength(3);
    const totals = await t.ledger.totalsByKind();
    expect(totals.supporter + totals.escrow + totals.pending + totals.system).toBe(0n);
  });
});
