// Unclaimed tips go home, on a real (temporary) LevelDB with a clock the test moves: a warning a
// week before, then each lot back to the supporter it came from, exactly and once.
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseHandle } from '../../src/escrow/handles.ts';
import { accounts } from '../../src/ledger/ledger.ts';
import { Refunds } from '../../src/escrow/refunds.ts';
import { Tips } from '../../src/escrow/tips.ts';
import { inOneBatch, tempLedger } from './ledger-helpers.ts';
import type { StoredEvent } from '../../src/events/types.ts';

const dayMs = 24 * 3600 * 1000;
const log = pino({ level: 'silent' });

/** An event's data, read field by field whatever its type. */
const data = (e: StoredEvent) => e.data as Record<string, unknown>;

describe('unclaimed tips', () => {
  let clock = new Date('2026-01-01T00:00:00Z');
  let t: Awaited<ReturnType<typeof tempLedger>>;
  let refunds: Refunds;
  const events: StoredEvent[] = [];
  const at = (days: number) => {
    clock = new Date(Date.parse('2026-01-01T00:00:00Z') + days * dayMs);
  };
  beforeEach(async () => {
    at(0);
    events.length = 0;
    t = await tempLedger({ now: () => clock });
    t.ledger.onEvents((e) => events.push(...e));
    refunds = new Refunds(t.ledger, log, { returnAfterMs: 180 * dayMs, warnBeforeMs: 7 * dayMs, intervalMs: 3600_000, now: () => clock });
  });
  afterEach(async () => {
    await t.dispose();
  });

  const deposit = (id: string, msat: bigint) => t.ledger.run((tx) => tx.transfer('deposit', accounts.deposits, accounts.supporter(id), msat));
  const tip = (id: string, handle: string, msat: bigint) =>
    new Tips(t.ledger).tip({ supporterId: id, handle: parseHandle(handle)!, amountMsat: msat, tweetId: null });

  it('go back to each supporter exactly, after 180 days, with a warning a week before', async () => {
    await deposit('ann', 10_000n);
    await deposit('ben', 10_000n);
    await tip('ann', '@Quiet', 3_001n);
    at(10);
    await tip('ben', 'quiet', 2_000n);
    await tip('ann', 'quiet', 999n);

    at(172);
    expect(await refunds.sweep()).toMatchObject({ warned: 0, returned: 0 });
    at(174);
    expect(await refunds.sweep()).toMatchObject({ warned: 1, returned: 0 });
    expect(events.filter((e) => e.type === 'refund.upcoming')).toEqual([
      expect.objectContaining({
        topics: ['account:ann'],
        data: expect.objectContaining({ handle: 'Quiet', amountMsat: '3001', returnsAt: '2026-06-30T00:00:00.000Z' }),
      }),
    ]);
    expect(await refunds.sweep()).toMatchObject({ warned: 0 });

    at(181);
    expect(await refunds.sweep()).toMatchObject({ returned: 1, returnedMsat: 3_001n });
    // The handle as first seen, as a tip's event shows it.
    expect(events.filter((e) => e.type === 'refund').map((e) => [e.topics, e.data.handle, e.data.amountMsat])).toEqual([
      [['account:ann', 'handle:quiet'], 'Quiet', '3001'],
    ]);
    expect(await t.ledger.balance(accounts.supporter('ann'))).toBe(10_000n - 999n);
    at(191);
    expect(await refunds.sweep()).toMatchObject({ returned: 2, returnedMsat: 2_999n });
    expect(await t.ledger.balance(accounts.supporter('ann'))).toBe(10_000n);
    expect(await t.ledger.balance(accounts.supporter('ben'))).toBe(10_000n);
    expect(await t.ledger.balance(accounts.escrow('quiet'))).toBe(0n);
    expect(await t.ledger.sumOfBalances()).toBe(0n);

    at(400);
    expect(await refunds.sweep()).toMatchObject({ warned: 0, returned: 0 });
    expect(await t.ledger.balance(accounts.supporter('ann'))).toBe(10_000n);
  });

  it('that came in one batch are stored together, and go back together, each to its supporter exactly', async () => {
    await deposit('ann', 10_000n);
    await deposit('ben', 10_000n);
    const [annFirst, benTip, annSecond, cidTip] = await inOneBatch(t.ledger, () => [
      tip('ann', 'busy', 1_000n),
      tip('ben', 'busy', 2_000n),
      tip('ann', 'busy', 3_000n),
      tip('cid', 'busy', 500n),
      tip('ben', 'other', 700n),
    ]);
    expect(cidTip).toMatchObject({ status: 'rejected', reason: { code: 'insufficient_balance' } });
    expect(await t.db.keys({ gt: 'lot:busy:', lt: 'lot:busy;' }).all()).toEqual([`lot:busy:${(annFirst as PromiseFulfilledResult<{ id: string }>).value.id}`]);

    at(175);
    expect(await refunds.sweep()).toMatchObject({ warned: 4, returned: 0 });
    expect(events.filter((e) => e.type === 'refund.upcoming').map((e) => [e.topics[0], e.data.handle, e.data.amountMsat])).toEqual([
      ['account:ann', 'busy', '1000'],
      ['account:ben', 'busy', '2000'],
      ['account:ann', 'busy', '3000'],
      ['account:ben', 'other', '700'],
    ]);
    expect(await refunds.sweep()).toMatchObject({ warned: 0 });

    at(181);
    const [one, other] = await Promise.all([refunds.sweep(), refunds.sweep()]);
    expect({ returned: one.returned + other.returned, returnedMsat: one.returnedMsat + other.returnedMsat }).toEqual({ returned: 4, returnedMsat: 6_700n });
    expect(await t.ledger.balance(accounts.supporter('ann'))).toBe(10_000n);
    expect(await t.ledger.balance(accounts.supporter('ben'))).toBe(10_000n);
    expect(await t.ledger.balance(accounts.escrow('busy'))).toBe(0n);
    // One event per lot, for its supporter and the handle's followers, with what the handle still holds.
    expect(events.filter((e) => e.type === 'refund' && e.data.handle === 'busy').map((e) => [e.topics, data(e).amountMsat, data(e).pendingMsat])).toEqual([
      [['account:ann', 'handle:busy'], '1000', '5000'],
      [['account:ben', 'handle:busy'], '2000', '3000'],
      [['account:ann', 'handle:busy'], '3000', '0'],
    ]);
    const tipIds = [annFirst, benTip, annSecond].map((r) => (r as PromiseFulfilledResult<{ id: string }>).value.id);
    const refunded = [...(await t.ledger.history(accounts.supporter('ann'), 2)), ...(await t.ledger.history(accounts.supporter('ben'), 2))].filter(
      (x) => x.kind === 'refund' && x.meta?.handle === 'busy',
    );
    expect(refunded.map((x) => x.meta?.lot).sort()).toEqual([...tipIds].sort());
    expect(await refunds.sweep()).toEqual({ warned: 0, returned: 0, returnedMsat: 0n });
    expect(await t.ledger.sumOfBalances()).toBe(0n);
  });

  it('stored one to a key, as tipd stored them before (format 3), go back too', async () => {
    await deposit('dan', 5_000n);
    const { id } = await tip('dan', 'older', 1_234n);
    const key = `lot:older:${id}`;
    await t.ledger.run((tx) => {
      tx.del(key);
      tx.put(key, { supporterId: 'dan', amountMsat: '1234', at: clock.toISOString() });
    });
    at(175);
    expect(await refunds.sweep()).toMatchObject({ warned: 1 });
    at(181);
    expect(await refunds.sweep()).toMatchObject({ returned: 1, returnedMsat: 1_234n });
    expect(await t.ledger.balance(accounts.supporter('dan'))).toBe(5_000n);
    expect((await t.ledger.history(accounts.supporter('dan'), 1))[0]).toMatchObject({ kind: 'refund', meta: { handle: 'older', lot: id } });
  });

  it('wait while the ledger, restored from a backup, holds its payments; then go back as usual', async () => {
    await deposit('ann', 10_000n);
    await tip('ann', 'held', 4_000n);
    let held = true;
    const restoredRefunds = new Refunds(t.ledger, log, {
      returnAfterMs: 180 * dayMs,
      warnBeforeMs: 7 * dayMs,
      intervalMs: 3600_000,
      now: () => clock,
      held: () => held,
    });
    at(200);
    expect(await restoredRefunds.sweep()).toMatchObject({ warned: 0, returned: 0 });
    expect(await t.ledger.balance(accounts.escrow('held'))).toBe(4_000n);
    held = false;
    expect(await restoredRefunds.sweep()).toMatchObject({ returned: 1, returnedMsat: 4_000n });
    expect(await t.ledger.balance(accounts.supporter('ann'))).toBe(10_000n);
  });

  it('are returned once even when two sweeps run at the same time', async () => {
    await deposit('cid', 50_000n);
    for (let i = 0; i < 20; i++) await tip('cid', `h${i % 3}`, 1_000n);
    at(200);
    const [a, b] = await Promise.all([refunds.sweep(), refunds.sweep()]);
    expect(a.returned + b.returned).toBe(20);
    expect(await t.ledger.balance(accounts.supporter('cid'))).toBe(50_000n);
  });

  it('stay in the escrow of a claimed handle, without a warning; its lots are dropped and later tips make none', async () => {
    await deposit('dee', 6_000n);
    await deposit('eve', 1_000n);
    await inOneBatch(t.ledger, () => [tip('dee', 'claimed_one', 5_000n), tip('eve', 'claimed_one', 1_000n)]);
    expect(await t.db.keys({ gt: 'lot:claimed_one:', lt: 'lot:claimed_one;' }).all()).toHaveLength(1);
    await t.ledger.run(async (tx) => {
      const record = await tx.get<Record<string, unknown>>('handle:claimed_one');
      tx.put('handle:claimed_one', { ...record, claimed: true });
    });
    await tip('dee', 'claimed_one', 1_000n);
    at(175);
    expect(await refunds.sweep()).toEqual({ warned: 0, returned: 0, returnedMsat: 0n });
    expect(events.some((e) => e.type === 'refund.upcoming')).toBe(false);
    expect(await t.db.keys({ gt: 'lot:claimed_one:', lt: 'lot:claimed_one;' }).all()).toEqual([]);
    at(365);
    expect(await refunds.sweep()).toMatchObject({ returned: 0 });
    expect(await t.ledger.balance(accounts.escrow('claimed_one'))).toBe(7_000n);
    expect(await t.ledger.balance(accounts.supporter('eve'))).toBe(0n);
  });
});
