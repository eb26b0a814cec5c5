// The one settle-and-reconcile path of outgoing payments, as a table: every answer LND can give
// about a pending withdrawal or payout, looked up by hash on a real ledger, and what is booked:
// posted on success, voided on LND's final failure, nothing otherwise, and never twice.
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvariantViolation } from '../../src/ledger/invariants.ts';
import { keys } from '../../src/ledger/keys.ts';
import { accounts, type Account, type Ledger } from '../../src/ledger/ledger.ts';
import { hold, pendingAccount } from '../../src/ledger/pending.ts';
import { LndError, type PaymentState } from '../../src/ln/lnd.ts';
import { OutgoingPayments, type OutgoingKind, type OutgoingRecord } from '../../src/payments/outgoing.ts';
import { payoutKind, type PayoutRecord } from '../../src/payouts/records.ts';
import { withdrawalKind, type WithdrawalRecord } from '../../src/withdrawals/records.ts';
import { tempLedger, nextTurn } from './ledger-helpers.ts';
import type { StoredEvent } from '../../src/events/types.ts';

const fundedMsat = 1_000_000n;
const amountMsat = 100_000n;
const reserveMsat = 5_000n;
const heldMsat = amountMsat + reserveMsat;
const paymentHash = 'ab'.repeat(32);
const id = 'pay-1';

/** One kind of outgoing payment as the test sets it up: a pending record, its hold and its index. */
interface KindCase<R extends OutgoingRecord> {
  name: 'withdrawal' | 'payout';
  kind: (ledger: Ledger, kicked: string[]) => OutgoingKind<R>;
  record: (createdAt: string) => R;
  /** Where the money was held from. */
  source: Account;
  outside: Account;
  /** The index of pending ones: its key and value. */
  index: [key: string, value: unknown];
}

const withdrawal: KindCase<WithdrawalRecord> = {
  name: 'withdrawal',
  kind: (ledger) => withdrawalKind(ledger),
  record: (createdAt) => ({
    id,
    supporterId: 'alice',
    paymentRequest: 'lnbcrt1…',
    paymentHash,
    amountMsat: amountMsat.toString(),
    feeReserveMsat: reserveMsat.toString(),
    feeMsat: null,
    state: 'pending',
    failureReason: null,
    createdAt,
    settledAt: null,
  }),
  source: accounts.supporter('alice'),
  outside: accounts.withdrawals,
  index: [keys.pendingWithdrawal(id), 0],
};

const payout: KindCase<PayoutRecord> = {
  name: 'payout',
  kind: (ledger, kicked) => payoutKind(ledger, { retryMs: 1_000, retryMaxMs: 60_000 }, (handleKey) => kicked.push(handleKey)),
  record: (createdAt) => ({
    id,
    handleKey: 'carol',
    nodePubkey: `02${'cc'.repeat(32)}`,
    amountMsat: amountMsat.toString(),
    feeCapMsat: reserveMsat.toString(),
    feeMsat: null,
    preimage: 'cd'.repeat(32),
    paymentHash,
    state: 'pending',
    failureReason: null,
    createdAt,
    settledAt: null,
  }),
  source: accounts.escrow('carol'),
  outside: accounts.payouts,
  index: [keys.openPayout('carol'), id],
};

const succeeded = (paidMsat: bigint, feeMsat: bigint): PaymentState => ({
  state: 'succeeded',
  paymentHash,
  amountMsat: paidMsat,
  feeMsat,
  preimage: 'cd'.repeat(32),
});

/** LND's answers to a lookup by hash, and what is booked for each. */
const answers: {
  what: string;
  /** What getPayment answers (or throws); `undefined`: LND never saw the hash. */
  answer: () => PaymentState | undefined;
  /** How long before the lookup the payment was held. */
  ageMs: number;
  state: 'pending' | 'succeeded' | 'failed';
  feeMsat: bigint | null;
  failureReason: string | null;
}[] = [
  {
    what: 'succeeded, with a routing fee',
    answer: () => succeeded(amountMsat, 1_200n),
    ageMs: 5_000,
    state: 'succeeded',
    feeMsat: 1_200n,
    failureReason: null,
  },
  {
    what: 'succeeded over a direct channel, no fee',
    answer: () => succeeded(amountMsat, 0n),
    ageMs: 5_000,
    state: 'succeeded',
    feeMsat: 0n,
    failureReason: null,
  },
  {
    what: 'succeeded, the whole reserve spent',
    answer: () => succeeded(amountMsat, reserveMsat),
    ageMs: 5_000,
    state: 'succeeded',
    feeMsat: reserveMsat,
    failureReason: null,
  },
  {
    what: 'failed (its own final word)',
    answer: () => ({ state: 'failed', paymentHash, reason: 'route_not_found' }),
    ageMs: 5_000,
    state: 'failed',
    feeMsat: null,
    failureReason: 'route_not_found',
  },
  { what: 'in flight', answer: () => ({ state: 'in_flight', paymentHash }), ageMs: 120_000, state: 'pending', feeMsat: null, failureReason: null },
  {
    what: 'nothing in time (unknown)',
    answer: () => ({ state: 'unknown', paymentHash, reason: 'getPayment: no final answer from LND within 1000 ms' }),
    ageMs: 120_000,
    state: 'pending',
    feeMsat: null,
    failureReason: null,
  },
  {
    what: 'nothing: it cannot be reached',
    answer: () => {
      throw new LndError('lnd_unavailable', 'getPayment: no answer from LND within 1000 ms');
    },
    ageMs: 120_000,
    state: 'pending',
    feeMsat: null,
    failureReason: null,
  },
  { what: 'it never saw the hash, 30 s after the hold', answer: () => undefined, ageMs: 30_000, state: 'pending', feeMsat: null, failureReason: null },
  {
    what: 'it never saw the hash, a minute and more after the hold',
    answer: () => undefined,
    ageMs: 61_000,
    state: 'failed',
    feeMsat: null,
    failureReason: 'never sent (tipd stopped before paying)',
  },
];

// Each kind is run by the same harness, which sees only the fields every outgoing record has.
describe.each([withdrawal, payout] as unknown as KindCase<OutgoingRecord>[])('a pending $name looked up by hash', (c) => {
  let t: Awaited<ReturnType<typeof tempLedger>>;
  let logs: { level: number; msg: string; [field: string]: unknown }[];
  let events: StoredEvent[];
  let kicked: string[];
  let lookups: number;
  let answer: () => PaymentState | undefined;
  let payments: OutgoingPayments<OutgoingRecord>;
  /** What the ledger stopped for (a broken invariant stops tipd). */
  let broken: InvariantViolation[];

  beforeEach(async () => {
    broken = [];
    t = await tempLedger({ onBroken: (violation) => broken.push(violation) });
    logs = [];
    events = [];
    kicked = [];
    lookups = 0;
    const log = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
    t.ledger.onEvents((batch) => events.push(...batch));
    const lnd = {
      getPayment: async (hash: string) => {
        lookups += 1;
        expect(hash).toBe(paymentHash);
        return answer();
      },
    };
    payments = new OutgoingPayments(t.ledger, lnd, log, c.kind(t.ledger, kicked));
  });
  afterEach(() => t.dispose());

  /** Funds the source, then holds amount and reserve with the record and its index, as sending does. */
  async function held(ageMs: number, now: Date): Promise<void> {
    const kind = c.kind(t.ledger, kicked);
    const record = c.record(new Date(now.getTime() - ageMs).toISOString());
    await t.ledger.run(async (tx) => {
      await tx.transfer('deposit', accounts.deposits, c.source, fundedMsat);
      await hold(tx, kind.pending, kind.held(record));
      tx.put(kind.key(id), record);
      tx.put(c.index[0], c.index[1]);
    });
  }

  const balances = async () => ({
    source: await t.ledger.balance(c.source),
    pending: await t.ledger.balance(pendingAccount(c.kind(t.ledger, kicked).pending, id)),
    outside: await t.ledger.balance(c.outside),
    fees: await t.ledger.balance(accounts.fees),
  });
  const stored = async () => (await t.ledger.read<OutgoingRecord>(c.kind(t.ledger, kicked).key(id)))!;
  const settledLines = () => logs.filter((line) => line.msg === `${c.name} settled`);

  it.each(answers)('when LND says $what, it is $state', async (row) => {
    const now = new Date();
    await held(row.ageMs, now);
    answer = row.answer;
    await payments.reconcile(now);

    expect(lookups).toBe(1);
    const record = await stored();
    expect(record).toMatchObject({ state: row.state, feeMsat: row.feeMsat?.toString() ?? null, failureReason: row.failureReason });
    const feeMsat = row.feeMsat ?? 0n;
    expect(await balances()).toEqual(
      {
        succeeded: { source: fundedMsat - amountMsat - feeMsat, pending: 0n, outside: amountMsat, fees: feeMsat },
        failed: { source: fundedMsat, pending: 0n, outside: 0n, fees: 0n },
        pending: { source: fundedMsat - heldMsat, pending: heldMsat, outside: 0n, fees: 0n },
      }[row.state],
    );
    // The index of pending ones goes with the booking, in the same batch.
    expect(await t.ledger.read(c.index[0])).toEqual(row.state === 'pending' ? c.index[1] : undefined);
    expect(events.map((e) => e.type)).toEqual(row.state === 'pending' ? [] : [`${c.name}.${row.state}`]);
    expect(settledLines()).toHaveLength(row.state === 'pending' ? 0 : 1);
    if (row.state !== 'pending') expect(record.settledAt).not.toBeNull();
    const errors = logs.filter((line) => line.msg === `could not settle a pending ${c.name}; will try again`);
    expect(errors).toHaveLength(row.what.includes('cannot be reached') ? 1 : 0);
  });

  it('books an outcome once: asked again, and looked up again, it changes nothing', async () => {
    const now = new Date();
    await held(5_000, now);
    answer = () => succeeded(amountMsat, 1_200n);
    await payments.reconcile(now);
    const after = await balances();
    expect((await payments.settle(id, succeeded(amountMsat, 1_200n))).state).toBe('succeeded');
    expect((await payments.settle(id, { state: 'failed', paymentHash, reason: 'route_not_found' })).state).toBe('succeeded');
    await payments.reconcile(now);
    expect(await balances()).toEqual(after);
    expect(lookups).toBe(1);
    expect(events).toHaveLength(1);
    expect(settledLines()).toHaveLength(1);
  });

  it('leaves alone a payment this process is sending: not even looked up', async () => {
    const now = new Date();
    await held(120_000, now);
    answer = () => undefined;
    await payments.sending(id, () => payments.reconcile(now));
    expect(lookups).toBe(0);
    expect((await stored()).state).toBe('pending');
    // Once the call sending it is done, the recheck takes it over.
    await payments.reconcile(now);
    expect((await stored()).state).toBe('failed');
  });

  const contradictions = [
    { what: 'another amount than was held', outcome: succeeded(amountMsat + 1n, 0n) },
    { what: 'a fee above the reserve', outcome: succeeded(amountMsat, reserveMsat + 1n) },
    { what: 'another payment hash', outcome: { ...succeeded(amountMsat, 0n), paymentHash: 'ef'.repeat(32) } },
  ];
  it.each(
    contradictions.flatMap((row) => [
      { ...row, via: 'the call that sent it' },
      { ...row, via: 'the recheck' },
    ]),
  )('refuses to book $what, told by $via: a broken invariant stops the ledger, nothing booked', async ({ outcome, via }) => {
    const now = new Date();
    await held(5_000, now);
    const before = await balances();
    answer = () => outcome;
    // Found by the recheck, it is not taken for a passing failure either.
    await expect(via === 'the recheck' ? payments.reconcile(now) : payments.settle(id, outcome)).rejects.toThrow(InvariantViolation);
    await nextTurn();
    expect(broken).toHaveLength(1);
    expect(await balances()).toEqual(before);
    expect((await stored()).state).toBe('pending');
    expect(events).toEqual([]);
  });

  it('refuses a pending record whose account does not hold what it says: the ledger stops', async () => {
    const now = new Date();
    await held(5_000, now);
    await t.ledger.run((tx) => tx.transfer('test', pendingAccount(c.kind(t.ledger, kicked).pending, id), c.source, 1n));
    await expect(payments.settle(id, succeeded(amountMsat, 0n))).rejects.toThrow(InvariantViolation);
    await nextTurn();
    expect(broken).toHaveLength(1);
    expect((await stored()).state).toBe('pending');
  });

  it.each(['the recheck', 'the call that sent it'])('refuses a record of the wrong shape, read by %s: the ledger stops', async (via) => {
    const now = new Date();
    await held(5_000, now);
    await t.ledger.run(async (tx) =>
      tx.put(c.kind(t.ledger, kicked).key(id), { ...(await tx.get<object>(c.kind(t.ledger, kicked).key(id))), amountMsat: 100_000 }),
    );
    answer = () => succeeded(amountMsat, 0n);
    await expect(via === 'the recheck' ? payments.reconcile(now) : payments.settle(id, succeeded(amountMsat, 0n))).rejects.toThrow(InvariantViolation);
    await nextTurn();
    expect(broken).toHaveLength(1);
    expect(events).toEqual([]);
  });

  it('says so loudly when one booked as failed is then reported paid', async () => {
    const now = new Date();
    await held(5_000, now);
    await payments.settle(id, { state: 'failed', paymentHash, reason: 'route_not_found' });
    const after = await balances();
    await payments.settle(id, succeeded(amountMsat, 0n));
    expect(await balances()).toEqual(after);
    const fatal = logs.filter((line) => line.level === 60);
    expect(fatal).toHaveLength(1);
    expect(fatal[0]!.msg).toBe(`a ${c.name} booked as failed was paid by LND: check this ${c.name === 'payout' ? 'handle' : 'supporter'} by hand`);
  });
});

describe('what a payout keeps of its own', () => {
  let t: Awaited<ReturnType<typeof tempLedger>>;
  afterEach(() => t.dispose());

  it('a failure makes the next payout of the handle wait, doubling; a success clears the wait; each time the handle is looked at again', async () => {
    t = await tempLedger();
    const kicked: string[] = [];
    const payments = new OutgoingPayments(t.ledger, { getPayment: async () => undefined }, pino({ level: 'silent' }), payout.kind(t.ledger, kicked));
    const kind = payout.kind(t.ledger, kicked);
    const holdOne = (payoutId: string) =>
      t.ledger.run(async (tx) => {
        const record = { ...payout.record(tx.now.toISOString()), id: payoutId };
        await tx.transfer('deposit', accounts.deposits, payout.source, heldMsat);
        await hold(tx, kind.pending, kind.held(record));
        tx.put(keys.payout(payoutId), record);
        tx.put(keys.openPayout('carol'), payoutId);
      });
    const waitMs = async () => {
      const retry = await t.ledger.read<{ failures: number; nextAt: string }>(keys.payoutRetry('carol'));
      return (
        retry && {
          failures: retry.failures,
          waitMs: Date.parse(retry.nextAt) - Date.parse((await t.ledger.read<PayoutRecord>(keys.payout(`p${retry.failures}`)))!.settledAt!),
        }
      );
    };
    for (const n of [1, 2]) {
      await holdOne(`p${n}`);
      await payments.settle(`p${n}`, { state: 'failed', paymentHash, reason: 'route_not_found' });
      expect(await t.ledger.read(keys.openPayout('carol'))).toBeUndefined();
    }
    expect(await waitMs()).toEqual({ failures: 2, waitMs: 2_000 });
    await holdOne('p3');
    await payments.settle('p3', succeeded(amountMsat, 0n));
    expect(await t.ledger.read(keys.payoutRetry('carol'))).toBeUndefined();
    expect(kicked).toEqual(['carol', 'carol', 'carol']);
  });
});
