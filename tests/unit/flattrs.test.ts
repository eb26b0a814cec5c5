// Flattr budgets on a real (temporary) LevelDB: equal splits exact to the millisatoshi, the budget
// or the balance whichever is smaller, one count per thing, and closes that resume without
// allocating anybody twice.
import fc from 'fast-check';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { splitEvenly } from '../../src/flattrs/allocation.ts';
import { Flattrs } from '../../src/flattrs/flattrs.ts';
import { parseHandle } from '../../src/escrow/handles.ts';
import { accounts } from '../../src/ledger/ledger.ts';
import { pad } from '../../src/ledger/keys.ts';
import { Supporters } from '../../src/supporters/supporters.ts';
import { tempLedger } from './ledger-helpers.ts';
import type { StoredEvent } from '../../src/events/types.ts';

const log = pino({ level: 'silent' });
const handle = (h: string) => parseHandle(h)!;

describe('splitting an allocation', () => {
  it('gives shares that sum to it exactly and differ by at most one millisatoshi, extras first', () => {
    expect(splitEvenly(10_000n, 3)).toEqual([3_334n, 3_333n, 3_333n]);
    expect(splitEvenly(2n, 5)).toEqual([1n, 1n, 0n, 0n, 0n]);
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 15n }), fc.integer({ min: 1, max: 500 }), (total, parts) => {
        const shares = splitEvenly(total, parts);
        expect(shares).toHaveLength(parts);
        expect(shares.reduce((a, b) => a + b, 0n)).toBe(total);
        const sorted = [...shares].sort((a, b) => (a < b ? -1 : 1));
        expect(sorted.at(-1)! - sorted[0]!).toBeLessThanOrEqual(1n);
        expect(shares).toEqual([...shares].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0)));
      }),
    );
  });
});

describe('a period close', () => {
  let t: Awaited<ReturnType<typeof tempLedger>>;
  let flattrs: Flattrs;
  let supporters: Supporters;
  beforeEach(async () => {
    t = await tempLedger();
    flattrs = new Flattrs(t.ledger, log, {});
    supporters = new Supporters(t.ledger);
  });
  afterEach(async () => {
    flattrs.stop();
    await t.dispose();
  });

  /** A supporter with `balanceMsat` deposited and a monthly budget of `budgetSat`. */
  async function supporter(balanceMsat: bigint, budgetSat: number) {
    const { id } = await supporters.create();
    if (balanceMsat > 0n) await t.ledger.run((tx) => tx.transfer('deposit', accounts.deposits, accounts.supporter(id), balanceMsat));
    await supporters.setBudget(id, budgetSat);
    return id;
  }
  const escrow = (h: string) => t.ledger.balance(accounts.escrow(h));

  it("splits the supporter's budget equally over the things flattred, exact to the millisatoshi", async () => {
    const alice = await supporter(100_000n, 10);
    await flattrs.flattr(alice, handle('@Bob'), null);
    await flattrs.flattr(alice, handle('carol'), null);
    await flattrs.flattr(alice, handle('carol'), '1790000000000000000');
    const summary = await flattrs.close();
    expect(summary).toMatchObject({ periodId: 1, supporters: 1, allocatedMsat: '10000' });
    // Things in key order: bob, carol, carol/1790…: the first gets the extra millisatoshi.
    expect(await escrow('bob')).toBe(3_334n);
    expect(await escrow('carol')).toBe(6_666n);
    expect(await t.ledger.balance(accounts.supporter(alice))).toBe(90_000n);
    expect(await t.ledger.sumOfBalances()).toBe(0n);
  });

  it('allocates the same when what it reads ahead is not kept in memory (and it must wait for reads)', async () => {
    const ledger = await t.reopen({ cacheMax: 2 });
    const forgetful = new Flattrs(ledger, log, {});
    const forgetfulSupporters = new Supporters(ledger);
    const { id: alice } = await forgetfulSupporters.create();
    await ledger.run((tx) => tx.transfer('deposit', accounts.deposits, accounts.supporter(alice), 100_000n));
    await forgetfulSupporters.setBudget(alice, 10);
    await forgetful.flattr(alice, handle('@Bob'), null);
    await forgetful.flattr(alice, handle('carol'), null);
    await forgetful.flattr(alice, handle('carol'), '1790000000000000000');
    expect(await forgetful.close()).toMatchObject({ periodId: 1, supporters: 1, allocatedMsat: '10000' });
    expect(await ledger.balance(accounts.escrow('bob'))).toBe(3_334n);
    expect(await ledger.balance(accounts.escrow('carol'))).toBe(6_666n);
    expect(await ledger.read(`handle:carol`)).toMatchObject({ tips: 2, supporters: 1 });
    expect(await ledger.sumOfBalances()).toBe(0n);
  });

  it("announces a close's allocations once per handle, in aggregate, to those who follow it", async () => {
    const events: StoredEvent[] = [];
    t.ledger.onEvents((e) => events.push(...e));
    const alice = await supporter(100_000n, 10);
    const ben = await supporter(100_000n, 3);
    await flattrs.flattr(alice, handle('Bob'), null);
    await flattrs.flattr(alice, handle('Bob'), '1790000000000000000');
    await flattrs.flattr(alice, handle('carol'), null);
    await flattrs.flattr(ben, handle('Bob'), null);
    await flattrs.close();
    const announced = events.filter((e) => e.type.startsWith('handle.'));
    expect(announced.map(({ type, topics, data }) => ({ type, topics, data }))).toEqual([
      { type: 'handle.allocated', topics: ['handle:bob'], data: { handle: 'Bob', periodId: 1, amountMsat: '9667', allocations: 3, pendingMsat: '9667' } },
      { type: 'handle.allocated', topics: ['handle:carol'], data: { handle: 'carol', periodId: 1, amountMsat: '3333', allocations: 1, pendingMsat: '3333' } },
    ]);
    expect(await t.ledger.read('handle:bob')).toEqual(expect.not.objectContaining({ closing: expect.anything() }));
    expect(await t.ledger.read('handle:bob')).toMatchObject({ tips: 3, supporters: 2 });
    // The next close announces only its own.
    await flattrs.flattr(ben, handle('carol'), null);
    await flattrs.close();
    expect(events.filter((e) => e.type === 'handle.allocated').at(-1)?.data).toMatchObject({
      handle: 'carol',
      periodId: 2,
      amountMsat: '3000',
      allocations: 1,
      pendingMsat: '6333',
    });
  });

  it('allocates the balance when it is smaller than the budget, and nothing from an empty account', async () => {
    const poor = await supporter(1_500n, 10);
    const broke = await supporter(0n, 10);
    await flattrs.flattr(poor, handle('dave'), null);
    await flattrs.flattr(broke, handle('dave'), null);
    expect((await flattrs.close())?.allocatedMsat).toBe('1500');
    expect(await escrow('dave')).toBe(1_500n);
    expect(await t.ledger.balance(accounts.supporter(poor))).toBe(0n);
  });

  it('counts the same thing once per period, and two spellings of a handle as one thing', async () => {
    const alice = await supporter(100_000n, 10);
    const first = await flattrs.flattr(alice, handle('Erin'), null);
    const again = await flattrs.flattr(alice, handle('@erin'), null);
    expect(first.created).toBe(true);
    expect(again).toEqual({ flattr: first.flattr, created: false });
    await flattrs.close();
    expect(await escrow('erin')).toBe(10_000n);
  });

  it('leaves out a flattr taken back before the close, and refuses to take one back after', async () => {
    const alice = await supporter(100_000n, 10);
    const kept = await flattrs.flattr(alice, handle('frank'), null);
    const taken = await flattrs.flattr(alice, handle('grace'), null);
    expect(await flattrs.unflattr(alice, taken.flattr.id)).toBe('removed');
    await flattrs.close();
    expect(await escrow('grace')).toBe(0n);
    expect(await escrow('frank')).toBe(10_000n);
    expect(await flattrs.unflattr(alice, kept.flattr.id)).toBe('period_closed');
  });

  it('sends flattrs made after a close to the next period, with the budget in force at that close', async () => {
    const alice = await supporter(100_000n, 10);
    await flattrs.flattr(alice, handle('heidi'), null);
    await flattrs.close();
    await supporters.setBudget(alice, 20);
    const next = await flattrs.flattr(alice, handle('heidi'), null);
    expect(next.flattr.periodId).toBe(2);
    await flattrs.close();
    expect(await escrow('heidi')).toBe(30_000n);
  });

  it.each([
    ['', undefined],
    [', also when nothing it reads ahead stays in memory', 2],
  ])('resumes a close cut short without allocating anybody twice%s', async (_how, cacheMax) => {
    const ids = await Promise.all(Array.from({ length: 30 }, () => supporter(50_000n, 5)));
    for (const id of ids) await flattrs.flattr(id, handle('ivan'), null);
    await flattrs.close();
    expect(await escrow('ivan')).toBe(150_000n);

    // As if tipd had stopped after allocating but before the close was marked done, with the
    // cursor not yet past anybody: every supporter's marker is there, the close is not.
    await t.ledger.run(async (tx) => {
      const close = await tx.get<Record<string, unknown>>(`close:${pad(1)}`);
      tx.put(`close:${pad(1)}`, { ...close, state: 'closing', cursor: null });
    });
    const restarted = new Flattrs(await t.reopen(cacheMax === undefined ? {} : { cacheMax }), log, {});
    await restarted.start();
    restarted.stop();
    expect(await t.ledger.balance(accounts.escrow('ivan'))).toBe(150_000n);
    expect((await t.ledger.read<{ state: string }>(`close:${pad(1)}`))?.state).toBe('closed');
    expect(await t.ledger.sumOfBalances()).toBe(0n);
  });

  it('does not close the next period when a close for a period already closed comes late', async () => {
    const alice = await supporter(100_000n, 10);
    await flattrs.flattr(alice, handle('kim'), null);
    const due = await flattrs.currentPeriod();
    await flattrs.close();
    await flattrs.flattr(alice, handle('kim'), null);
    expect(await flattrs.close(due.id)).toBeUndefined();
    expect((await flattrs.currentPeriod()).id).toBe(due.id + 1);
    expect(await escrow('kim')).toBe(10_000n);
  });

  it('logs how far a long close has got, page by page of flattrs', async () => {
    const lines: { msg: string; flattrsRead?: number; supportersDone?: number }[] = [];
    const logged = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const logging = new Flattrs(t.ledger, logged, { progressEveryMs: 0 });
    const ids = await Promise.all(Array.from({ length: 300 }, () => supporter(1_000_000n, 10)));
    await Promise.all(ids.flatMap((id) => Array.from({ length: 10 }, (_, j) => logging.flattr(id, handle(`h${j}`), null))));
    await logging.close();
    const progress = lines.filter((l) => l.msg === 'period close under way');
    // Pages of 2,000 flattrs: after the first page, and after the last.
    expect(progress.map((l) => l.flattrsRead)).toEqual([2_000, 3_000]);
    expect(progress[0]!.supportersDone).toBeLessThanOrEqual(progress[1]!.supportersDone!);
    expect(lines.map((l) => l.msg).slice(-1)).toEqual(['period closed']);
  });

  it('closes a period by itself when its time is up', async () => {
    const short = new Flattrs(t.ledger, log, { periodMs: 300 });
    const alice = await supporter(100_000n, 7);
    await short.flattr(alice, handle('judy'), null);
    await short.start();
    try {
      await expect.poll(() => escrowOf(t, 'judy'), { timeout: 5_000 }).toBe(7_000n);
      expect((await short.currentPeriod()).id).toBeGreaterThan(1);
    } finally {
      short.stop();
    }
  });
});

const escrowOf = (t: Awaited<ReturnType<typeof tempLedger>>, h: string) => t.ledger.balance(accounts.escrow(h));
