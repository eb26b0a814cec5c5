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

const log = pino({ level: 'silent' });
const dayMs = 24 * 3600_000;
let t: Awaited<ReturnType<typeof tempLedger>>;
let payouts: Payouts;
const events: StoredEvent[] = [];
beforeAll(async () => {
  t = await tempLedger();
  t.ledger.onEvents((e) => events.push(...e));
  const rails = { lnd: lndOf('hub'), addresses: new LightningAddresses({ timeoutMs: 10_000 }), network: 'regtest' as const };
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
  it("goes back to its payer's Lightning Address once its time is up, exactly once; one without an address, or to one that cannot be paid, stays", async () => {
    const dave = stack().lightningAddresses[0]!.address;
    const handle = `refund_${Date.now().toString(36)}`;
    const back = await tip(handle, 40_000_000n, dave);
    const kept = await tip(handle, 7_000_000n, null);
    const stuck = await tip(handle, 9_000_000n, dave.replace('dave@', 'nobody@'));
    const daveBefore = await channelBalance('dave');

    const refunds = new Refunds(t.ledger, log, {
      returnAfterMs: 30 * dayMs,
      warnBeforeMs: 7 * dayMs,
      intervalMs: dayMs,
      now: () => new Date(Date.now() + 31 * dayMs),
      returnToPayers: (handleKey, lotIds) => payouts.refund(handleKey, lotIds),
    });
    await refunds.sweep();
    const [refund] = await eventually(async () => {
      const { payouts: list } = await payouts.list(handle, 10);
      return list.some((p) => p.state === 'succeeded') ? list.filter((p) => p.state === 'succeeded') : undefined;
    });
    expect(refund).toMatchObject({ lightningAddress: dave, refundOf: back.id, descriptionHash: 'matched' });
    const amountMsat = BigInt(refund!.amountMsat);
    expect(amountMsat % 1000n).toBe(0n);
    expect(amountMsat + BigInt(refund!.feeCapMsat)).toBeLessThanOrEqual(40_000_000n);
    await eventually(async () => ((await channelBalance('dave')) - daveBefore === amountMsat ? true : undefined));

    // The address nobody answers for: a failed attempt, nothing held.
    await eventually(async () => (events.some((e) => e.type === 'payout.attempt_failed') ? true : undefined));
    // Its lot is gone; the other two stay, whole (the unspent fee cap of the refund stays in escrow too).
    expect(await t.ledger.read(keys.payerLot(handle, back.id))).toBeUndefined();
    expect(await t.ledger.read(keys.payerLot(handle, kept.id))).toMatchObject({ refundAddress: null });
    expect(await t.ledger.read(keys.payerLot(handle, stuck.id))).not.toHaveProperty('refundPayout');
    const escrow = await t.ledger.balance(accounts.escrow(handle));
    expect(escrow).toBe(56_000_000n - amountMsat - BigInt(refund!.feeMsat!));
    expect(await payerEscrow(t.ledger)).toEqual({ withRefundAddressMsat: 9_000_000n, heldForClaimMsat: 7_000_000n, lots: 2 });

    // A second sweep returns nothing more: the refunded lot is gone, the stuck one is waiting out its backoff.
    await refunds.sweep();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect((await payouts.list(handle, 10)).payouts).toHaveLength(1);
    const totals = await t.ledger.totalsByKind();
    expect(totals.supporter + totals.escrow + totals.pending + totals.system).toBe(0n);
  });
});
