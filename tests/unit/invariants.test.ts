// A broken money invariant stops the ledger, loudly, on a real (temporary) LevelDB: nothing of the
// batch that broke it is written, it and every operation queued or yet to come are refused, and
// `onBroken` is told once. Not having the money is no invariant: it stays a refusal.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { accounts, InvariantViolation, Ledger, type RunOptions, StoreFormatError, type Tx } from '../../src/ledger/ledger.ts';
import { Refusal } from '../../src/errors.ts';
import type { Store } from '../../src/ledger/store.ts';
import { tempLedger, nextTurn } from './ledger-helpers.ts';

const alice = accounts.supporter('alice');
const dora = accounts.supporter('dora');
const carolEscrow = accounts.escrow('carol');
const eveEscrow = accounts.escrow('eve');

let t: Awaited<ReturnType<typeof tempLedger>>;
let broken: InvariantViolation[];
beforeEach(async () => {
  broken = [];
  t = await tempLedger({ onBroken: (error) => broken.push(error), batchSizeMax: 3 });
  await t.ledger.run((tx) => tx.transfer('deposit', accounts.deposits, alice, 10_000n), { sync: true });
});
afterEach(async () => {
  await t.dispose();
});

interface Breach {
  /** Puts into the store what the operation then finds broken (the ledger is open, and has not read it). */
  store?: (db: Store) => Promise<void>;
  breaks: (tx: Tx) => unknown;
  options?: RunOptions;
  error: RegExp;
}

const breaches: Record<string, Breach> = {
  'a transfer of no money': { breaks: (tx) => tx.transfer('tip', alice, carolEscrow, 0n), error: /must be positive/ },
  'a transfer of less than no money': { breaks: (tx) => tx.transfer('tip', alice, carolEscrow, -5n), error: /must be positive/ },
  'a transfer to itself': { breaks: (tx) => tx.transfer('tip', alice, alice, 1n), error: /from supporter:alice to itself/ },
  'a broken transfer its operation catches': {
    breaks: async (tx) => {
      await tx.transfer('tip', alice, carolEscrow, 0n).catch(() => {});
      return 'carried on';
    },
    error: /must be positive/,
  },
  'balance changes that do not sum to zero (a stale balance passed to transferKnown)': {
    breaks: async (tx) => {
      const carolMsat = await tx.balance(carolEscrow);
      await tx.balance(alice);
      tx.transferKnown('tip', alice, carolEscrow, 1n, undefined, 1_000_000n, carolMsat);
    },
    // alice's 9,000 (after the good tip before it) taken as 1,000,000: 991,000 msat made up.
    error: /balance changes of a batch sum to 991000 msat, not zero/,
  },
  'a supporter taken below zero where the refusal does not look (credited)': {
    store: async (db) => db.batch().put('bal:supporter:dora', '-5').put('bal:escrow:eve', '5').write(),
    breaks: (tx) => tx.transfer('refund', eveEscrow, dora, 1n),
    error: /leave supporter:dora at -4 msat/,
  },
  'a balance in the store that is not a decimal integer': {
    store: (db) => db.put('bal:supporter:dora', '1e3'),
    breaks: (tx) => tx.transfer('tip', dora, carolEscrow, 1n),
    error: /a string as the balance of supporter:dora/,
  },
  'a balance in the store that is a number, read ahead': {
    store: (db) => db.put('bal:supporter:dora', 1000),
    breaks: (tx) => tx.transfer('tip', dora, carolEscrow, 1n),
    options: { balances: [dora, carolEscrow] },
    error: /a number as the balance of supporter:dora/,
  },
  'an idempotency record in the store of another shape': {
    store: (db) => db.put('idem:alice:k1', 'paid'),
    breaks: (tx) => tx.transfer('tip', alice, carolEscrow, 1n),
    options: { idempotency: { scope: 'alice', key: 'k1', fingerprint: 'tip 1' } },
    error: /not an idempotency record/,
  },
  'a violation the operation finds itself (a pending record in an impossible state)': {
    breaks: () => {
      throw new InvariantViolation('payout 7 is pending and settled at once');
    },
    error: /payout 7 is pending and settled/,
  },
};

describe('a broken money invariant', () => {
  it.each(Object.entries(breaches))('stops the ledger: %s', async (_, breach) => {
    await breach.store?.(t.db);
    const { ledger, db } = t;
    // The writer is held by a batch of its own (written while the next one runs); then the
    // breaking operation is queued between two good ones, and two more after them (batches of 3).
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const before = ledger.run(async (tx) => {
      await gate;
      tx.put('mark:before', 1);
    });
    const good = (mark: string) =>
      ledger.run(async (tx) => {
        tx.put(`mark:${mark}`, 1);
        await tx.transfer('tip', alice, carolEscrow, 1_000n);
      });
    const queued = [good('a'), ledger.run(breach.breaks, breach.options), good('c'), good('d'), good('e')];
    release();
    await before;
    const outcomes = await Promise.allSettled(queued);

    // Every one refused, with the violation, and onBroken told of it once.
    await nextTurn();
    expect(broken).toHaveLength(1);
    expect(broken[0]).toBeInstanceOf(InvariantViolation);
    expect(broken[0]!.message).toMatch(breach.error);
    expect(outcomes).toEqual(queued.map(() => ({ status: 'rejected', reason: broken[0] })));
    // Nothing of that batch, nor of those queued after it, is on disk; the batch before it is.
    expect(await db.get('mark:before')).toBe(1);
    for (const mark of ['a', 'c', 'd', 'e']) expect(await db.get(`mark:${mark}`)).toBeUndefined();
    expect(await db.get('bal:supporter:alice')).toBe('10000');
    expect(await db.get('bal:escrow:carol')).toBeUndefined();
    expect(await db.get('seq:xfer')).toBe('1');
    // And it stays stopped: later operations are refused at once, and onBroken is not told again.
    await expect(ledger.run((tx) => tx.put('mark:later', 1))).rejects.toBe(broken[0]);
    expect(await db.get('mark:later')).toBeUndefined();
    await nextTurn();
    expect(broken).toHaveLength(1);
  });

  it('tells onBroken only once the callers of the batch that landed before it have their answers', async () => {
    const order: string[] = [];
    await t.reopen({ onBroken: () => order.push('onBroken told') });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    // A tip in the batch being written, a transfer of no money in the next: the tip lands.
    const tip = t.ledger.run(async (tx) => {
      await gate;
      await tx.transfer('tip', alice, carolEscrow, 1_000n);
    });
    const breaking = t.ledger.run((tx) => tx.transfer('tip', alice, carolEscrow, 0n));
    void tip.then(() => order.push('tip answered'));
    const refused = expect(breaking).rejects.toThrow(InvariantViolation);
    release();
    await refused;
    await nextTurn();
    expect(order).toEqual(['tip answered', 'onBroken told']);
    expect(await t.db.get('bal:escrow:carol')).toBe('1000');
  });

  it('stops the ledger when a reader finds it outside the writer (halt): nothing more is written', async () => {
    const { ledger, db } = t;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    // One operation is being run by the writer, another waits behind it.
    const outcomes = Promise.allSettled([
      ledger.run(async (tx) => {
        await gate;
        tx.put('mark:running', 1);
      }),
      ledger.run((tx) => tx.put('mark:queued', 1)),
    ]);
    const violation = new InvariantViolation('wd:x: the stored record is not what tipd wrote');
    ledger.halt(violation);
    ledger.halt(new InvariantViolation('told twice'));
    release();
    expect(await outcomes).toEqual([
      { status: 'rejected', reason: violation },
      { status: 'rejected', reason: violation },
    ]);
    await nextTurn();
    expect(broken).toEqual([violation]);
    expect(await db.get('mark:running')).toBeUndefined();
    expect(await db.get('mark:queued')).toBeUndefined();
    await expect(ledger.run((tx) => tx.put('mark:later', 1))).rejects.toBe(violation);
    expect(await db.get('bal:supporter:alice')).toBe('10000');
  });

  it('is told once, with the first reason, when a batch run while it was halted breaks one too; and after the batch being written is answered', async () => {
    const told: string[] = [];
    await t.reopen({ onBroken: (violation) => told.push(violation.message) });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let running!: () => void;
    const breakingRuns = new Promise<void>((resolve) => (running = resolve));
    // A tip in the batch being written, and, run meanwhile, a transfer of no money: halted in between.
    const tip = t.ledger.run((tx) => tx.transfer('tip', alice, carolEscrow, 1_000n));
    void tip.then(() => told.push('tip answered'));
    const breaking = t.ledger.run(async (tx) => {
      running();
      await gate;
      await tx.transfer('tip', alice, carolEscrow, 0n);
    });
    const outcome = Promise.allSettled([breaking]);
    await breakingRuns;
    t.ledger.halt(new InvariantViolation('found outside'));
    release();
    expect((await outcome)[0]).toMatchObject({ status: 'rejected', reason: { message: 'found outside' } });
    await tip;
    await nextTurn();
    await nextTurn();
    expect(told).toEqual(['tip answered', 'found outside']);
    expect(await t.db.get('bal:escrow:carol')).toBe('1000');
  });

  it('ends the process by default, with the violation', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tipd-broken-'));
    const ledgerModule = path.resolve('src/ledger/ledger.ts');
    const storeModule = path.resolve('src/ledger/store.ts');
    const script = `
      const { Ledger, accounts } = await import(${JSON.stringify(ledgerModule)});
      const { openStore } = await import(${JSON.stringify(storeModule)});
      const ledger = await Ledger.open(await openStore(${JSON.stringify(dir)}));
      await ledger.run((tx) => tx.transfer('tip', accounts.supporter('a'), accounts.escrow('b'), 0n)).catch(() => {});
      setTimeout(() => console.log('still running'), 1000);`;
    try {
      const run = promisify(execFile)(process.execPath, ['--input-type=module', '-e', script]);
      const failed = await run.then(
        () => undefined,
        (error: unknown) => error as { code: number; stdout: string; stderr: string },
      );
      expect(failed?.code).toBe(1);
      expect(failed?.stdout).toBe('');
      expect(failed?.stderr).toMatch(/InvariantViolation: transfer of 0 msat: amounts must be positive/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('not having the money', () => {
  it('is a refusal of that operation only: its batch is written, and the ledger goes on', async () => {
    const { ledger, db } = t;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const before = ledger.run(() => gate);
    const tip = (mark: string, msat: bigint) =>
      ledger.run(async (tx) => {
        tx.put(`mark:${mark}`, 1);
        return (await tx.transfer('tip', alice, carolEscrow, msat)).amountMsat;
      });
    const queued = [tip('a', 1_000n), tip('b', 1_000_000n), tip('c', 2_000n)];
    release();
    await before;
    const [a, b, c] = await Promise.allSettled(queued);
    expect([a, c]).toEqual([
      { status: 'fulfilled', value: 1_000n },
      { status: 'fulfilled', value: 2_000n },
    ]);
    expect(b).toMatchObject({ status: 'rejected', reason: { code: 'insufficient_balance', message: 'supporter:alice holds 9000 msat, 1000000 msat needed' } });
    expect((b as PromiseRejectedResult).reason).toBeInstanceOf(Refusal);
    await nextTurn();
    expect(broken).toEqual([]);
    expect(await db.get('mark:a')).toBe(1);
    expect(await db.get('mark:b')).toBeUndefined();
    expect(await db.get('bal:supporter:alice')).toBe('7000');
    expect(await ledger.run((tx) => tx.transfer('tip', alice, carolEscrow, 7_000n))).toMatchObject({ amountMsat: 7_000n });
  });
});

describe('what is read back from the store', () => {
  const reads: Record<string, { store: (db: Store) => Promise<void>; read: (ledger: Ledger) => Promise<unknown>; error: RegExp }> = {
    'a transfer of a history that is not one': {
      store: (db) => db.put('hist:supporter:alice:0000000000000009', ['tip', 'supporter:alice', 'escrow:carol', '1.5', '2026-01-01T00:00:00.000Z']),
      read: (ledger) => ledger.history(alice, 10),
      error: /as the transfer hist:supporter:alice:0000000000000009/,
    },
    'a run of events that is not one': {
      store: (db) => db.put('evt:0000000000000009', [{ seq: '9', type: 'tip.sent' }]),
      read: (ledger) => ledger.eventsAfter(0, 10),
      error: /as the events evt:0000000000000009/,
    },
    'a balance, summed': {
      store: (db) => db.put('bal:supporter:dora', ' 5'),
      read: (ledger) => ledger.totalsByKind(),
      error: /a string as the balance of supporter:dora/,
    },
    'a balance, read alone': {
      store: (db) => db.put('bal:supporter:dora', { msat: '5' }),
      read: (ledger) => ledger.balance(dora),
      error: /an object as the balance of supporter:dora/,
    },
  };

  it.each(Object.entries(reads))('is refused as a broken invariant, not misread: %s', async (_, { store, read, error }) => {
    await store(t.db);
    const refused = read(t.ledger);
    await expect(refused).rejects.toBeInstanceOf(InvariantViolation);
    await expect(refused).rejects.toThrow(error);
  });

  it('is checked at start: sequence numbers and the format mark', async () => {
    await t.db.put('seq:xfer', 'twelve');
    await expect(t.reopen()).rejects.toThrow(/a string as the last xfer number/);
    await t.db.put('seq:xfer', '1');
    await t.db.put('meta:format', '5');
    await expect(Ledger.open(t.db)).rejects.toBeInstanceOf(StoreFormatError);
    await expect(Ledger.open(t.db)).rejects.toThrow(/its format mark, meta:format, is "5"/);
    await t.db.put('meta:format', 5);
    await expect(Ledger.open(t.db)).resolves.toBeInstanceOf(Ledger);
  });
});
