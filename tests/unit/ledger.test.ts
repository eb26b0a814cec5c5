// The ledger's rules on a real (temporary) LevelDB: double entry, no negative balances, atomic
// operations, idempotency keys, group commit, persistence, history.
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { accounts, Ledger, recordRunMax, StoreFormatError, unread, type Account, type Tx } from '../../src/ledger/ledger.ts';
import { openStore, StoreLockedError } from '../../src/ledger/store.ts';
import type { EventType } from '../../src/events/types.ts';
import { inOneBatch, tempLedger } from './ledger-helpers.ts';
import { Refusal } from '../../src/errors.ts';
import { IdempotencyKeys } from '../../src/ledger/idempotency.ts';
import { pino } from 'pino';

const alice = accounts.supporter('alice');
const bob = accounts.supporter('bob');
const carolEscrow = accounts.escrow('carol');

let t: Awaited<ReturnType<typeof tempLedger>>;
beforeEach(async () => {
  t = await tempLedger();
});
afterEach(async () => {
  await t.dispose();
});

/**
 * Makes the store's point reads of the keys `pick` picks (asked once per read) wait, once read,
 * until `release()`; `reads` lists those keys as they are read. The store itself is real.
 */
function holdGets(pick: (key: string) => boolean) {
  const db = t.db as unknown as { get: (...args: unknown[]) => Promise<unknown> };
  const realGet = db.get.bind(db);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let released = false;
  const reads: string[] = [];
  db.get = async (...args: unknown[]) => {
    const key = args[0] as string;
    const picked = pick(key);
    if (picked) reads.push(key);
    const value = await realGet(...args);
    if (picked && !released) await gate;
    return value;
  };
  return {
    reads,
    release() {
      released = true;
      release();
    },
  };
}

const deposit = (account: Account, msat: bigint) => t.ledger.run((tx) => tx.transfer('deposit', accounts.deposits, account, msat), { sync: true });

describe('the ledger', () => {
  it('moves money from one account to another, and all balances still sum to zero', async () => {
    await deposit(alice, 5_000n);
    await t.ledger.run((tx) => tx.transfer('tip', alice, carolEscrow, 1_500n));
    expect(await t.ledger.balance(alice)).toBe(3_500n);
    expect(await t.ledger.balance(carolEscrow)).toBe(1_500n);
    expect(await t.ledger.balance(accounts.deposits)).toBe(-5_000n);
    expect(await t.ledger.sumOfBalances()).toBe(0n);
  });

  it('refuses to take a supporter below zero, and writes nothing of that operation', async () => {
    await deposit(alice, 1_000n);
    const overspend = t.ledger.run(async (tx) => {
      await tx.transfer('tip', alice, carolEscrow, 600n);
      await tx.transfer('tip', alice, carolEscrow, 600n);
    });
    await expect(overspend).rejects.toMatchObject({ code: 'insufficient_balance' });
    expect(await t.ledger.balance(alice)).toBe(1_000n);
    expect(await t.ledger.balance(carolEscrow)).toBe(0n);
    expect(await t.ledger.history(alice, 10)).toHaveLength(1);
  });

  it('refuses amounts that are not positive, as a programming error', async () => {
    // Each stops its ledger (invariants.test.ts): one ledger for each.
    await expect((await t.reopen({ onBroken: () => {} })).run((tx) => tx.transfer('tip', alice, carolEscrow, 0n))).rejects.toThrow(/must be positive/);
    await expect((await t.reopen({ onBroken: () => {} })).run((tx) => tx.transfer('tip', alice, alice, 1n))).rejects.toThrow(/to itself/);
  });

  it.each([
    ['appends', (tx: Tx) => tx.append('rec:bad', { amount: 1n })],
    ['puts', (tx: Tx) => tx.put('val:bad', { amount: 1n })],
  ])('fails a whole batch, and writes none of it, when an operation %s a value that cannot be stored', async (_, writeBad) => {
    await deposit(alice, 10_000n);
    // The first operation holds the writer (it reads), so the next two share one batch.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const first = t.ledger.run(async () => held);
    const tip = t.ledger.run((tx) => tx.transfer('tip', alice, carolEscrow, 1_000n));
    const bad = t.ledger.run((tx) => writeBad(tx));
    release();
    await first;
    await expect(tip).rejects.toThrow(/BigInt/);
    await expect(bad).rejects.toThrow(/BigInt/);
    // The writer goes on, and nothing of the failed batch is on disk.
    await t.ledger.run((tx) => tx.transfer('tip', alice, carolEscrow, 1_000n));
    const reopened = await t.reopen();
    expect(await reopened.balance(alice)).toBe(9_000n);
    expect(await reopened.balance(carolEscrow)).toBe(1_000n);
    expect(await reopened.history(alice, 10)).toHaveLength(2);
  });

  it('applies an idempotency key once, returns the first result to a retry, and refuses it for another request', async () => {
    await deposit(alice, 10_000n);
    const tip = (fingerprint: string) =>
      t.ledger.run(async (tx) => (await tx.transfer('tip', alice, carolEscrow, 1_000n)).id, { idempotency: { scope: 'alice', key: 'k1', fingerprint } });
    const first = await tip('same body');
    const results = await Promise.all(Array.from({ length: 50 }, () => tip('same body')));
    expect(new Set(results)).toEqual(new Set([first]));
    expect(await t.ledger.balance(alice)).toBe(9_000n);
    await expect(tip('another body')).rejects.toMatchObject({ code: 'idempotency_key_reused' });
  });

  it('remembers an idempotency key for the time kept, then forgets it: a retry after that is a new request', async () => {
    await deposit(alice, 10_000n);
    const hour = 3600_000;
    let now = Date.now();
    const idempotencyKeys = new IdempotencyKeys(t.ledger, pino({ level: 'silent' }), { keepMs: 24 * hour, now: () => new Date(now) });
    const tip = () =>
      t.ledger.run(async (tx) => (await tx.transfer('tip', alice, carolEscrow, 1_000n)).id, {
        idempotency: { scope: 'alice', key: 'k1', fingerprint: 'body' },
      });
    const first = await tip();
    now += 23 * hour;
    expect(await idempotencyKeys.forgetOld()).toBe(0);
    expect(await tip()).toBe(first);
    expect(await t.ledger.balance(alice)).toBe(9_000n);

    now += 2 * hour;
    expect(await idempotencyKeys.forgetOld()).toBe(1);
    expect(await t.db.keys({ gte: 'idem', lt: 'idem\xff' }).all()).toEqual([]);
    const second = await tip();
    expect(second).not.toBe(first);
    expect(await t.ledger.balance(alice)).toBe(8_000n);
    expect(await t.db.keys({ gte: 'idem', lt: 'idem\xff' }).all()).toEqual([
      expect.stringMatching(/^idem:alice:k1$/),
      expect.stringMatching(/^idemat:.*:idem:alice:k1$/),
    ]);
  });

  it('forgets in time, too, the idempotency keys stored before their time was kept (once over them all)', async () => {
    const written = new Date(Date.now() - 48 * 3600_000).toISOString();
    await t.db.batch([
      { type: 'put', key: 'idem:alice:old', value: { fingerprint: 'f', result: 'r', at: written } },
      { type: 'put', key: 'idem:bob:new', value: { fingerprint: 'f', result: 'r', at: new Date().toISOString() } },
    ]);
    const idempotencyKeys = new IdempotencyKeys(t.ledger, pino({ level: 'silent' }), { keepMs: 24 * 3600_000 });
    expect(await idempotencyKeys.indexEarlier()).toBe(2);
    expect(await idempotencyKeys.indexEarlier()).toBe(0);
    expect(await idempotencyKeys.forgetOld()).toBe(1);
    expect(await t.db.keys({ gte: 'idem:', lt: 'idem:\xff' }).all()).toEqual(['idem:bob:new']);

    // An entry left over for a key used again since: the entry goes, the newer record stays.
    await t.db.put(`idemat:${written}:idem:bob:new`, 0);
    expect(await idempotencyKeys.forgetOld()).toBe(1);
    expect(await t.db.keys({ gte: 'idem', lt: 'idem\xff' }).all()).toEqual(['idem:bob:new', expect.stringMatching(/^idemat:.*:idem:bob:new$/)]);
  });

  it('lets only as many of 1,000 parallel tips through as the balance holds', async () => {
    await deposit(alice, 100_000n);
    const tips = await Promise.allSettled(Array.from({ length: 1_000 }, () => t.ledger.run((tx) => tx.transfer('tip', alice, carolEscrow, 1_000n))));
    expect(tips.filter((r) => r.status === 'fulfilled')).toHaveLength(100);
    const refused = tips.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(refused.every((r) => r.reason instanceof Refusal && r.reason.code === 'insufficient_balance')).toBe(true);
    expect(await t.ledger.balance(alice)).toBe(0n);
    expect(await t.ledger.balance(carolEscrow)).toBe(100_000n);
  });

  it('commits operations that queue up together in few batches', async () => {
    await deposit(alice, 1_000_000n);
    const before = t.ledger.stats.batches;
    await Promise.all(Array.from({ length: 1_000 }, () => t.ledger.run((tx) => tx.transfer('tip', alice, carolEscrow, 1n))));
    const batches = t.ledger.stats.batches - before;
    expect(batches).toBeGreaterThan(0);
    expect(batches).toBeLessThan(20);
  });

  it('keeps everything across a close and reopen, and numbers transfers on from where it was', async () => {
    await deposit(alice, 7_000n);
    const first = await t.ledger.run((tx) => tx.transfer('tip', alice, carolEscrow, 2_000n));
    const ledger = await t.reopen();
    expect(await ledger.balance(alice)).toBe(5_000n);
    const second = await ledger.run((tx) => tx.transfer('tip', alice, carolEscrow, 1n));
    expect(BigInt(second.id)).toBeGreaterThan(BigInt(first.id));
    expect(await ledger.sumOfBalances()).toBe(0n);
  });

  it('pages through an account’s history newest first', async () => {
    await deposit(alice, 10_000n);
    for (let i = 1; i <= 5; i++) await t.ledger.run((tx) => tx.transfer('tip', alice, i % 2 ? carolEscrow : bob, BigInt(i)));
    const page1 = await t.ledger.history(alice, 4);
    const page2 = await t.ledger.history(alice, 4, page1.at(-1)!.id);
    expect([...page1, ...page2].map((x) => x.amountMsat)).toEqual([5n, 4n, 3n, 2n, 1n, 10_000n]);
    expect(page2).toHaveLength(2);
  });

  it('stores the transfers one operation makes for a supporter in a row under one key, and pages through them exactly', async () => {
    await deposit(alice, 100_000n);
    await deposit(bob, 100_000n);
    // Like a close's shares: 1..7 from alice in a row, then 8 from bob, then 9 and 10 from alice.
    await t.ledger.run(async (tx) => {
      for (let i = 1; i <= 7; i++) await tx.transfer('allocation', alice, accounts.escrow(`h${i}`), BigInt(i));
      await tx.transfer('allocation', bob, carolEscrow, 8n);
      for (const i of [9, 10]) await tx.transfer('allocation', alice, carolEscrow, BigInt(i));
    });
    // One that fails after three transfers leaves none of them.
    await expect(
      t.ledger.run(async (tx) => {
        for (let i = 0; i < 3; i++) await tx.transfer('allocation', alice, carolEscrow, 11n);
        throw new Error('no');
      }),
    ).rejects.toThrow('no');
    await t.ledger.run((tx) => tx.transfer('tip', alice, carolEscrow, 12n));

    const newestFirst = [12n, 10n, 9n, 7n, 6n, 5n, 4n, 3n, 2n, 1n, 100_000n];
    for (const limit of [1, 2, 3, 4, 20]) {
      const seen: bigint[] = [];
      const ids: string[] = [];
      let before: string | undefined;
      for (;;) {
        const page = await t.ledger.history(alice, limit, before);
        expect(page.length).toBeLessThanOrEqual(limit);
        seen.push(...page.map((x) => x.amountMsat));
        ids.push(...page.map((x) => x.id));
        if (page.length < limit) break;
        before = page.at(-1)!.id;
      }
      expect(seen, `pages of ${limit}`).toEqual(newestFirst);
      expect(ids, `pages of ${limit}`).toEqual([...ids].sort().reverse());
    }
    const shares = (await t.ledger.history(alice, 20)).filter((x) => x.kind === 'allocation');
    expect(shares.map((x) => x.credit)).toEqual([carolEscrow, carolEscrow, ...[7, 6, 5, 4, 3, 2, 1].map((i) => accounts.escrow(`h${i}`))]);
    expect((await t.ledger.history(bob, 20)).map((x) => x.amountMsat)).toEqual([8n, 100_000n]);
    // The deposit, the run of 7, the run of 2 and the tip: four keys for eleven transfers.
    expect(await t.db.keys({ gt: `hist:${alice}:`, lt: `hist:${alice}:\xff` }).all()).toHaveLength(4);
  });

  it('fails operations, and only them, when its store was closed under it', async () => {
    await t.db.close();
    // Were the error to escape the writer, it would be an unhandled rejection, which fails this run.
    await expect(t.ledger.run((tx) => tx.put('k', 1))).rejects.toThrow(/not open/);
    await expect(t.ledger.run((tx) => tx.append('r', 1))).rejects.toThrow(/not open/);
  });

  it('cuts a long run of one operation into keys of at most 100 transfers', async () => {
    await deposit(alice, 100_000n);
    await t.ledger.run(async (tx) => {
      for (let i = 1; i <= 250; i++) await tx.transfer('allocation', alice, carolEscrow, BigInt(i));
    });
    expect(await t.db.keys({ gt: `hist:${alice}:`, lt: `hist:${alice}:\xff` }).all()).toHaveLength(4);
    const seen: bigint[] = [];
    for (let before: string | undefined; ;) {
      const page = await t.ledger.history(alice, 30, before);
      seen.push(...page.map((x) => x.amountMsat));
      if (page.length < 30) break;
      before = page.at(-1)!.id;
    }
    expect(seen).toEqual([...Array.from({ length: 250 }, (_, i) => BigInt(250 - i)), 100_000n]);
  });

  it('never lets a read from outside the writer put a stale balance in its cache', async () => {
    await deposit(alice, 10_000n);
    const ledger = await t.reopen();
    let first = true;
    const held = holdGets(() => {
      const hold = first;
      first = false;
      return hold;
    });

    const slowRead = ledger.balance(carolEscrow); // reads 0 from disk, then waits
    await ledger.run((tx) => tx.transfer('tip', alice, carolEscrow, 1_000n)); // commits 1,000
    held.release();
    expect(await slowRead).toBe(0n);
    await ledger.run((tx) => tx.transfer('tip', alice, carolEscrow, 1_000n));
    expect(await ledger.balance(carolEscrow)).toBe(2_000n);
    expect(await ledger.sumOfBalances()).toBe(0n);
  });

  it('keeps a read from outside the writer that commits of other keys overtook, but not an absent key', async () => {
    await deposit(alice, 10_000n);
    await t.ledger.run((tx) => tx.put('tok:a', 'alice'));
    const ledger = await t.reopen();
    const held = holdGets((key) => key.startsWith('tok:'));

    // Both read from disk, then wait while two batches that change neither commit.
    const present = ledger.read('tok:a');
    const absent = ledger.read('tok:b');
    await ledger.run((tx) => tx.transfer('tip', alice, carolEscrow, 1_000n));
    await ledger.run((tx) => tx.transfer('tip', alice, carolEscrow, 1_000n));
    held.release();
    expect(await present).toBe('alice');
    expect(await absent).toBeUndefined();
    held.reads.length = 0;
    expect(await ledger.read('tok:a')).toBe('alice');
    expect(await ledger.read('tok:b')).toBeUndefined();
    // The present one was kept; the absent one is read again (it might have been appended meanwhile).
    expect(held.reads).toEqual(['tok:b']);
  });

  it('stores what the operations of one batch add to a run as values of at most 100, without what failed operations added', async () => {
    const outcomes = await inOneBatch(t.ledger, () =>
      Array.from({ length: 250 }, (_, i) =>
        t.ledger.run((tx) => {
          tx.appendToRun('run:a:', String(1_000 + i), i);
          if (i % 2 === 0) tx.appendToRun('run:b:', String(1_000 + i), `b${i}`);
          if (i === 7) throw new Error('no');
        }),
      ),
    );
    expect(outcomes[7]).toMatchObject({ status: 'rejected', reason: { message: 'no' } });
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(249);

    const stored = await t.db.iterator({ gt: 'run:', lt: 'run;' }).all();
    const time = (stored[0]![1] as unknown[])[0];
    expect(typeof time).toBe('string');
    const a = Array.from({ length: 250 }, (_, i) => i).filter((i) => i !== 7);
    const b = a.filter((i) => i % 2 === 0);
    expect(recordRunMax).toBe(100);
    expect(stored).toEqual([
      ['run:a:1000', [time, ...a.slice(0, 100)]],
      [`run:a:${1_000 + a[100]!}`, [time, ...a.slice(100, 200)]],
      [`run:a:${1_000 + a[200]!}`, [time, ...a.slice(200)]],
      ['run:b:1000', [time, ...b.slice(0, 100).map((i) => `b${i}`)]],
      [`run:b:${1_000 + b[100]!}`, [time, ...b.slice(100).map((i) => `b${i}`)]],
    ]);

    // Ids that do not grow would write one run over another: the whole batch fails instead.
    await expect(
      t.ledger.run((tx) => {
        tx.put('with-it', 1);
        tx.appendToRun('run:c:', '2', 'x');
        tx.appendToRun('run:c:', '1', 'y');
      }),
    ).rejects.toThrow(/ids must grow/);
    expect(await t.db.get('with-it')).toBeUndefined();
    expect(await t.db.keys({ gt: 'run:c:', lt: 'run:c;' }).all()).toEqual([]);
  });

  it('fails a batch run on top of one that could not be written, and keeps neither in memory', async () => {
    const first = await deposit(alice, 10_000n);
    // One operation per batch, so that the second runs while the first is being written.
    const piped = await t.reopen({ batchSizeMax: 1 });
    type Batch = { write: (...args: unknown[]) => Promise<void>; put: (key: string, value: unknown) => void };
    const db = t.db as unknown as { batch: () => Batch };
    const realBatch = db.batch.bind(db);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let failNext = true;
    const made: Batch[] = [];
    db.batch = () => {
      const batch = realBatch();
      made.push(batch);
      if (failNext) {
        failNext = false;
        batch.write = async () => {
          await gate;
          throw new Error('disk full');
        };
      }
      return batch;
    };

    const tip = () => piped.run((tx) => tx.transfer('tip', alice, carolEscrow, 4_000n), { sync: true });
    const doomed = tip(); // its write waits, then fails
    const dependent = tip(); // runs meanwhile, seeing alice at 6,000 through the first batch
    release();
    await expect(doomed).rejects.toThrow('disk full');
    await expect(dependent).rejects.toThrow(/earlier batch/);
    expect(await piped.balance(alice)).toBe(10_000n);
    expect(await piped.balance(carolEscrow)).toBe(0n);
    // Neither LevelDB batch was written, and neither is left open holding what it was given.
    expect(made).toHaveLength(2);
    for (const batch of made) expect(() => batch.put('late', 1)).toThrow(expect.objectContaining({ code: 'LEVEL_BATCH_NOT_OPEN' }));

    // The writer goes on from what is on disk, numbering included.
    const next = await tip();
    expect(BigInt(next.id)).toBe(BigInt(first.id) + 1n);
    expect(await piped.balance(alice)).toBe(6_000n);
    const reopened = await t.reopen();
    expect(await reopened.balance(alice)).toBe(6_000n);
    expect(await reopened.history(alice, 10)).toHaveLength(2);
    expect(await reopened.sumOfBalances()).toBe(0n);
  });

  it('loses no update when operations read ahead what the batches before them write', async () => {
    const counters = ['c0', 'c1', 'c2'];
    const total = async (ledger: Awaited<ReturnType<typeof t.reopen>>) =>
      (await Promise.all(counters.map((c) => ledger.read<number>(c)))).reduce<number>((a, b) => a + (b ?? 0), 0);
    let expected = 0;
    for (const batchSizeMax of [1, 2, 3, 50]) {
      // A tiny cache, so that what is read ahead is used rather than what is kept in memory.
      const ledger = await t.reopen({ batchSizeMax, cacheMax: 2 });
      // Each reads a counter (named to be read ahead) and writes it plus one; all queued at once.
      await Promise.all(
        Array.from({ length: 200 }, (_, i) => {
          const counter = counters[i % counters.length]!;
          return ledger.run(
            async (tx) => {
              tx.put(counter, ((await tx.get<number>(counter)) ?? 0) + 1);
              await tx.transfer('tip', accounts.deposits, carolEscrow, 1n);
            },
            { prefetch: [counter], balances: [carolEscrow, accounts.deposits] },
          );
        }),
      );
      expected += 200;
      expect(await total(ledger)).toBe(expected);
      expect(await ledger.balance(carolEscrow)).toBe(BigInt(expected));
    }
    const reopened = await t.reopen();
    expect(await total(reopened)).toBe(expected);
    expect(await reopened.sumOfBalances()).toBe(0n);
  });

  it('takes values its callers read themselves, unless a batch committed since changed them', async () => {
    const ledger = t.ledger;
    await ledger.run((tx) => tx.put('mark', 'stored'));
    // Read now, and (as a test of which one is used) given as something else.
    const readNow = { generation: ledger.generation, values: new Map<string, unknown>([['mark', 'as the caller read it']]) };
    const used = await ledger.run((tx) => tx.known('mark'), { prefetch: ['mark'], known: readNow });
    expect(used).toBe('as the caller read it');
    // It was for that batch: not kept in memory for the next.
    expect(ledger.cached('mark')).toBe(unread);
    // Read before a batch that changes the key: stale, so the ledger reads it itself.
    const readBefore = {
      generation: ledger.generation,
      values: new Map<string, unknown>([['mark', 'stored']]),
      balances: new Map<string, unknown>([[carolEscrow, '0']]),
    };
    await ledger.run(async (tx) => {
      tx.put('mark', 'changed');
      await tx.transfer('tip', accounts.deposits, carolEscrow, 5n);
    });
    const seen = await ledger.run(async (tx) => [await tx.get('mark'), await tx.balance(carolEscrow)], {
      prefetch: ['mark'],
      balances: [carolEscrow],
      known: readBefore,
    });
    expect(seen).toEqual(['changed', 5n]);
    // A balance is named by account: as a bal: key it would be kept as a value, never updated.
    await expect(ledger.run(() => 'ran', { prefetch: [`bal:${carolEscrow}`] })).rejects.toThrow('RunOptions.balances');
  });

  it('numbers events, pages through them from any point, and finds the old ones to prune', async () => {
    let clock = new Date('2026-01-01T00:00:00Z');
    const ledger = await t.reopen({ now: () => clock });
    const emit = (n: number) =>
      Promise.all(Array.from({ length: n }, (_, i) => ledger.run((tx) => tx.emit('test' as EventType, [`account:${i}`], { i } as never))));
    await emit(600); // one batch: its events stored as several runs
    clock = new Date('2026-01-02T00:00:00Z');
    await emit(10);
    const all = await ledger.eventsAfter(0, 10_000);
    expect(all.map((e) => e.seq)).toEqual(Array.from({ length: 610 }, (_, i) => i + 1));
    const paged: number[] = [];
    for (let after = 123; ;) {
      const page = await ledger.eventsAfter(after, 100);
      paged.push(...page.map((e) => e.seq));
      if (page.length < 100) break;
      after = page.at(-1)!.seq;
    }
    expect(paged).toEqual(Array.from({ length: 610 - 123 }, (_, i) => i + 124));

    const old = await ledger.eventKeysBefore(new Date('2026-01-01T12:00:00Z'), 100);
    expect(old.length).toBeGreaterThan(1);
    await ledger.run((tx) => old.forEach((key) => tx.del(key)));
    expect((await ledger.eventsAfter(0, 10_000)).map((e) => e.seq)).toEqual(Array.from({ length: 10 }, (_, i) => i + 601));
  });

  it('marks its store with the format it writes, and refuses a store of another format instead of misreading it', async () => {
    await deposit(alice, 1_000n);
    await t.reopen();
    expect(await t.ledger.balance(alice)).toBe(1_000n);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tipd-old-store-'));
    const old = await openStore(dir);
    try {
      // A store of tipd 0.1 (format 1): data, and no format mark.
      await old.put('hist:supporter:alice:0000000000000001', 0);
      await expect(Ledger.open(old)).rejects.toThrow(/format 1\).*new TIPD_DATA_DIR/);
      await old.put('meta:format', 99);
      await expect(Ledger.open(old)).rejects.toBeInstanceOf(StoreFormatError);
      // Formats 2 to 4 differ only by having no history runs (2), no runs of lots (2, 3) and
      // no events shared by a supporter and a handle's followers (2 to 4): opened, and marked 5
      // so that a tipd that reads only an older one no longer opens them.
      for (const format of [2, 3, 4]) {
        await old.put('meta:format', format);
        await Ledger.open(old);
        expect(await old.get('meta:format')).toBe(5);
      }
    } finally {
      await old.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('cannot be opened twice: a second opener is told the folder is in use', async () => {
    await expect(openStore(t.dir)).rejects.toBeInstanceOf(StoreLockedError);
  });

  it('keeps every balance ≥ 0 and the sum at zero over random sequences of operations', async () => {
    const people = [alice, bob, accounts.supporter('dan')];
    const handles = [carolEscrow, accounts.escrow('dave')];
    const op = fc.oneof(
      fc.record({ kind: fc.constant('deposit' as const), to: fc.constantFrom(...people), msat: fc.bigInt({ min: 1n, max: 5_000n }) }),
      fc.record({
        kind: fc.constant('tip' as const),
        from: fc.constantFrom(...people),
        to: fc.constantFrom(...handles),
        msat: fc.bigInt({ min: 1n, max: 3_000n }),
      }),
      fc.record({
        kind: fc.constant('refund' as const),
        from: fc.constantFrom(...handles),
        to: fc.constantFrom(...people),
        msat: fc.bigInt({ min: 1n, max: 3_000n }),
      }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 60 }), async (ops) => {
        const run = await tempLedger();
        try {
          const model = new Map<Account, bigint>();
          const get = (a: Account) => model.get(a) ?? 0n;
          // All at once, so they share batches, in the order given.
          const results = await Promise.allSettled(
            ops.map((o) =>
              run.ledger.run((tx) =>
                o.kind === 'deposit' ? tx.transfer('deposit', accounts.deposits, o.to, o.msat) : tx.transfer(o.kind, o.from, o.to, o.msat),
              ),
            ),
          );
          ops.forEach((o, i) => {
            const from = o.kind === 'deposit' ? accounts.deposits : o.from;
            const fits = o.kind === 'deposit' || get(from) >= o.msat;
            expect(results[i]!.status).toBe(fits ? 'fulfilled' : 'rejected');
            if (fits) {
              model.set(from, get(from) - o.msat);
              model.set(o.to, get(o.to) + o.msat);
            }
          });
          for (const account of [...people, ...handles]) {
            const balance = await run.ledger.balance(account);
            expect(balance).toBe(get(account));
            expect(balance).toBeGreaterThanOrEqual(0n);
          }
          expect(await run.ledger.sumOfBalances()).toBe(0n);
        } finally {
          await run.dispose();
        }
      }),
      { numRuns: 40 },
    );
  });
});
