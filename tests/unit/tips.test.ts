// Tips on a real (temporary) LevelDB: the booking read ahead (without waiting) and the one that
// reads as it goes give the same records; idempotency keys on tips.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseHandle } from '../../src/escrow/handles.ts';
import { accounts } from '../../src/ledger/ledger.ts';
import { escrowKeys, intoEscrow, type HandleRecord } from '../../src/escrow/escrow.ts';
import { Tips } from '../../src/escrow/tips.ts';
import { tempLedger } from './ledger-helpers.ts';
import type { StoredEvent } from '../../src/events/types.ts';

const handle = (h: string) => parseHandle(h)!;

/** An event's data, read field by field whatever its type. */
const data = (e: StoredEvent) => e.data as Record<string, unknown>;

describe('a tip', () => {
  let t: Awaited<ReturnType<typeof tempLedger>>;
  let tips: Tips;
  const events: StoredEvent[] = [];
  beforeEach(async () => {
    t = await tempLedger();
    tips = new Tips(t.ledger);
    events.length = 0;
    t.ledger.onEvents((e) => events.push(...e));
    for (const id of ['ann', 'ben']) await t.ledger.run((tx) => tx.transfer('deposit', accounts.deposits, accounts.supporter(id), 10_000n));
  });
  afterEach(async () => {
    await t.dispose();
  });

  it('is booked the same whether its reads were fetched ahead or not', async () => {
    await tips.tip({ supporterId: 'ann', handle: handle('Quiet'), amountMsat: 1_000n, tweetId: null });
    // Without prefetch, on a fresh ledger: every read waits.
    const ledger = await t.reopen();
    ledger.onEvents((e) => events.push(...e));
    const { transfer, display } = await ledger.run((tx) =>
      intoEscrow(tx, { kind: 'tip', supporterId: 'ben', handle: handle('quiet'), amountMsat: 2_000n, keys: escrowKeys('ben', 'quiet') }),
    );
    expect(display).toBe('Quiet');
    // ben again, his first gift not in memory: still one supporter more, not two.
    const again = await t.reopen();
    again.onEvents((e) => events.push(...e));
    await again.run((tx) => intoEscrow(tx, { kind: 'tip', supporterId: 'ben', handle: handle('quiet'), amountMsat: 500n, keys: escrowKeys('ben', 'quiet') }));
    expect(await again.read<HandleRecord>('handle:quiet')).toMatchObject({ display: 'Quiet', tips: 3, supporters: 2 });
    expect(await again.read(`lot:quiet:${transfer.id}`)).toEqual([transfer.at, [transfer.id, 'ben', '2000']]);
    // One event per tip, for its supporter and the handle's followers, with the handle's new escrow.
    expect(events.map((e) => [e.type, e.topics, data(e).pendingMsat])).toEqual([
      ['tip.sent', ['account:ann', 'handle:quiet'], '1000'],
      ['tip.sent', ['account:ben', 'handle:quiet'], '3000'],
      ['tip.sent', ['account:ben', 'handle:quiet'], '3500'],
    ]);
    expect(await again.balance(accounts.escrow('quiet'))).toBe(3_500n);
    expect((await again.history(accounts.supporter('ben'), 10)).map((x) => x.amountMsat)).toEqual([500n, 2_000n, 10_000n]);
  });

  it('answers with the handle as first seen, as its event and the handle itself show it', async () => {
    const first = await tips.tip({ supporterId: 'ann', handle: handle('@Quiet'), amountMsat: 1_000n, tweetId: null });
    const again = await tips.tip({ supporterId: 'ben', handle: handle('QUIET'), amountMsat: 1_000n, tweetId: '7' });
    expect([first.handle, again.handle]).toEqual(['Quiet', 'Quiet']);
    expect(events.map((e) => [data(e).handle, data(e).tweetId])).toEqual([
      ['Quiet', null],
      ['Quiet', '7'],
    ]);
    expect((await tips.handle(handle('quiet'))).handle).toBe('Quiet');
  });

  it('with an idempotency key is booked once, and the key refused for another tip', async () => {
    const tip = (amountMsat: bigint, fingerprint: string) =>
      tips.tip({ supporterId: 'ann', handle: handle('carol'), amountMsat, tweetId: null, idempotency: { key: 'k1', fingerprint } });
    const [first, ...again] = await Promise.all([tip(1_000n, 'a'), tip(1_000n, 'a'), tip(1_000n, 'a')]);
    expect(again).toEqual([first, first]);
    await expect(tip(2_000n, 'b')).rejects.toMatchObject({ code: 'idempotency_key_reused' });
    expect(await t.ledger.balance(accounts.supporter('ann'))).toBe(9_000n);
    expect(events.filter((e) => e.type === 'tip.sent')).toHaveLength(1);
  });
});
