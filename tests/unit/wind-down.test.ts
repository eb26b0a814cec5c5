// Winding tipd down, on a real (temporary) LevelDB: said once and kept across a restart, told to
// every websocket client by one event, the routes that bring money in refused with `winding_down`
// (and nothing else), every unclaimed lot back with its supporter at once whatever its age, and
// what is still owed listed until it is zero.
import type { AddressInfo } from 'node:net';
import express from 'express';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { errorHandler } from '../../src/api/errors.ts';
import { Api } from '../../src/api/openapi.ts';
import { parseHandle } from '../../src/escrow/handles.ts';
import { Refunds } from '../../src/escrow/refunds.ts';
import { Tips } from '../../src/escrow/tips.ts';
import type { StoredEvent } from '../../src/events/types.ts';
import { accounts } from '../../src/ledger/ledger.ts';
import { WindDown } from '../../src/winddown/wind-down.ts';
import { tempLedger } from './ledger-helpers.ts';
import { z } from 'zod';

const log = pino({ level: 'silent' });
const dayMs = 24 * 3600_000;

describe('winding down', () => {
  let t: Awaited<ReturnType<typeof tempLedger>>;
  const events: StoredEvent[] = [];
  beforeEach(async () => {
    events.length = 0;
    t = await tempLedger();
    t.ledger.onEvents((e) => events.push(...e));
  });
  afterEach(async () => {
    await t.dispose();
  });

  const deposit = (id: string, msat: bigint) => t.ledger.run((tx) => tx.transfer('deposit', accounts.deposits, accounts.supporter(id), msat));
  const tip = (id: string, handle: string, msat: bigint) =>
    new Tips(t.ledger).tip({ supporterId: id, handle: parseHandle(handle)!, amountMsat: msat, tweetId: null });

  it('begins once, for good: kept across a restart, and told to everyone by one event', async () => {
    const windDown = await WindDown.open(t.ledger, log);
    expect(windDown.state).toBeUndefined();
    expect(() => windDown.assertOpen()).not.toThrow();
    let told = 0;
    windDown.onStart(() => (told += 1));

    const first = await windDown.start('the operator retires');
    expect(first).toMatchObject({ started: true, state: { reason: 'the operator retires' } });
    const again = await windDown.start('another reason');
    expect(again).toEqual({ started: false, state: first.state });
    expect(told).toBe(1);
    expect(() => windDown.assertOpen()).toThrow(expect.objectContaining({ code: 'winding_down' }));
    const announced = events.filter((e) => e.type === 'service.winding_down');
    expect(announced).toHaveLength(1);
    expect(announced[0]).toMatchObject({ topics: ['service'], data: first.state });

    await t.reopen();
    expect((await WindDown.open(t.ledger, log)).state).toEqual(first.state);
  });

  it('refuses only the routes that bring money in or claim, with winding_down', async () => {
    const windDown = await WindDown.open(t.ledger, log);
    const api = new Api(windDown);
    const ok = (_req: express.Request, res: express.Response) => void res.json({ ok: true });
    const okView = z.object({ ok: z.literal(true) });
    api.route({ method: 'post', path: '/in', summary: 'money in', auth: 'none', responses: { 200: 'ok' }, returns: okView, refusedWhileWindingDown: true }, ok);
    api.route({ method: 'post', path: '/out', summary: 'money out', auth: 'none', responses: { 200: 'ok' }, returns: okView }, ok);
    const app = express().use(api.router).use(errorHandler(log, t.ledger));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const post = async (path: string) => {
        const res = await fetch(`${url}${path}`, { method: 'POST' });
        return { status: res.status, body: await res.json() };
      };
      expect(await post('/in')).toEqual({ status: 200, body: { ok: true } });
      await windDown.start('closing');
      expect(await post('/in')).toEqual({ status: 503, body: { error: { code: 'winding_down', message: expect.stringContaining('winding down') } } });
      expect(await post('/out')).toEqual({ status: 200, body: { ok: true } });
    } finally {
      server.close();
    }
  });

  it('returns every unclaimed lot at once, whatever its age, and lists what is owed until it is zero', async () => {
    const windDown = await WindDown.open(t.ledger, log);
    const refunds = new Refunds(t.ledger, log, {
      returnAfterMs: 180 * dayMs,
      warnBeforeMs: 7 * dayMs,
      intervalMs: dayMs,
      allDue: () => windDown.state !== undefined,
    });
    await deposit('ann', 10_000n);
    await deposit('ben', 5_000n);
    await tip('ann', 'quiet', 3_001n);
    await tip('ben', 'quiet', 2_000n);
    await tip('ann', '@Other', 999n);
    // Not due yet: a day old at most.
    expect(await refunds.sweep()).toMatchObject({ returned: 0 });
    expect(await windDown.owed()).toMatchObject({
      supporters: { count: 2, totalMsat: String(10_000 - 3_001 - 999 + 5_000 - 2_000) },
      escrow: {
        count: 2,
        totalMsat: '6000',
        largest: [
          { handle: 'quiet', claimed: false, amountMsat: '5001' },
          { handle: 'Other', claimed: false, amountMsat: '999' },
        ],
      },
      totalMsat: '15000',
    });

    await windDown.start('closing');
    expect(await refunds.sweep()).toMatchObject({ returned: 3, returnedMsat: 6_000n });
    expect(await t.ledger.balance(accounts.supporter('ann'))).toBe(10_000n);
    expect(await t.ledger.balance(accounts.supporter('ben'))).toBe(5_000n);
    expect((await windDown.owed()).escrow).toEqual({ count: 0, totalMsat: '0', largest: [] });
    // Nothing twice.
    expect(await refunds.sweep()).toMatchObject({ returned: 0 });

    // The supporters withdraw (as the ledger books a withdrawal): nothing is owed any more.
    await t.ledger.run(async (tx) => {
      await tx.transfer('withdrawal', accounts.supporter('ann'), accounts.withdrawals, 10_000n);
      await tx.transfer('withdrawal', accounts.supporter('ben'), accounts.withdrawals, 5_000n);
    });
    expect(await windDown.owed()).toEqual({
      supporters: { count: 0, totalMsat: '0', largest: [] },
      escrow: { count: 0, totalMsat: '0', largest: [] },
      inFlightMsat: '0',
      totalMsat: '0',
    });
  });

  it('counts and sums every creditor but names only the 100 largest, largest first', async () => {
    const windDown = await WindDown.open(t.ledger, log);
    // 150 supporters in an order unrelated to their balances.
    const balances = Array.from({ length: 150 }, (_, i) => BigInt(((i * 37) % 150) + 1) * 1_000n);
    await t.ledger.run(async (tx) => {
      for (const [i, msat] of balances.entries()) await tx.transfer('deposit', accounts.deposits, accounts.supporter(`s${String(i).padStart(3, '0')}`), msat);
    });
    const { supporters } = await windDown.owed();
    expect(supporters.count).toBe(150);
    expect(supporters.totalMsat).toBe(String(balances.reduce((a, b) => a + b, 0n)));
    expect(supporters.largest.map((s) => BigInt(s.balanceMsat))).toEqual([...balances].sort((a, b) => (a > b ? -1 : 1)).slice(0, 100));
  });
});
