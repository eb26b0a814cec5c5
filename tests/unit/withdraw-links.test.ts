// LNURL withdraw links on a real ledger, with an LND that pays as the test says: what a link may
// pay, that redeeming it holds the withdrawal and uses the link in one operation (so a second
// redeem, however close, is refused and books nothing), and that a link is forgotten only when
// it expired unused.
import fc from 'fast-check';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { keys } from '../../src/ledger/keys.ts';
import { accounts } from '../../src/ledger/ledger.ts';
import { feeCap } from '../../src/ledger/money.ts';
import { decodeInvoice } from '../../src/ln/bolt11.ts';
import { LndError, type PaymentState } from '../../src/ln/lnd.ts';
import { Supporters } from '../../src/supporters/supporters.ts';
import { linkIdOf, openLinksMax, WithdrawLinks, type WithdrawLinkRecord } from '../../src/withdrawals/links.ts';
import { Withdrawals, type WithdrawalLnd } from '../../src/withdrawals/withdrawals.ts';
import type { WithdrawalRecord } from '../../src/withdrawals/records.ts';
import { signedInvoice } from './invoice-fixtures.ts';
import { tempLedger } from './ledger-helpers.ts';

const hubPubkey = `02${'aa'.repeat(32)}`;
const fee = { baseMsat: 10_000n, ppm: 5_000n };
const ttlMs = 600_000;
const fundedMsat = 20_000_000n;

/** LND as the test wants it: each payment answered by `answer` (succeeded over a direct channel unless told). */
function stubLnd() {
  const paid: string[] = [];
  const lnd = {
    answer: (paymentHash: string, amountMsat: bigint): Promise<PaymentState> =>
      Promise.resolve({ state: 'succeeded', paymentHash, amountMsat, feeMsat: 1_000n, preimage: 'cd'.repeat(32) }),
    paid,
    ownPubkey: () => Promise.resolve(hubPubkey),
    getPayment: () => Promise.resolve(undefined),
    async payInvoice({ paymentRequest }: { paymentRequest: string }): Promise<PaymentState> {
      paid.push(paymentRequest);
      const decoded = decodeInvoice(paymentRequest)!;
      return lnd.answer(decoded.paymentHash, decoded.amountMsat!);
    },
  };
  return lnd satisfies WithdrawalLnd;
}

let t: Awaited<ReturnType<typeof tempLedger>>;
let lnd: ReturnType<typeof stubLnd>;
let withdrawals: Withdrawals;
let links: WithdrawLinks;
let now: Date;
let supporterId: string;

beforeEach(async () => {
  t = await tempLedger();
  lnd = stubLnd();
  now = new Date();
  const log = pino({ level: 'silent' });
  withdrawals = new Withdrawals(t.ledger, lnd, log, { network: 'regtest', feeBaseMsat: fee.baseMsat, feePpm: fee.ppm, recheckMs: 60_000 });
  links = new WithdrawLinks(t.ledger, withdrawals, log, { ttlMs, now: () => now });
  supporterId = (await new Supporters(t.ledger).create()).id;
  await t.ledger.run((tx) => tx.transfer('deposit', accounts.deposits, accounts.supporter(supporterId), fundedMsat));
});
afterEach(async () => {
  await withdrawals.drained();
  await t.dispose();
});

const balance = () => t.ledger.balance(accounts.supporter(supporterId));
const linkOf = (k1: string) => t.ledger.read<WithdrawLinkRecord>(keys.withdrawLink(linkIdOf(k1)));
const withdrawalOf = async (id: string) => (await t.ledger.read<WithdrawalRecord>(keys.withdrawal(id)))!;
const invoice = (sat: number, network = 'regtest') => signedInvoice({ amountMsat: BigInt(sat) * 1000n, network });
const reserveOf = (amountMsat: bigint) => feeCap(amountMsat, fee);

describe('the most a link may pay', () => {
  it('is the largest whole-sat amount whose fee reserve fits beside it in the balance', () => {
    fc.assert(
      fc.property(fc.bigInt(0n, 10n ** 15n), (balanceMsat) => {
        const amountMsat = withdrawals.largestCoveredMsat(balanceMsat);
        if (amountMsat === 0n) return 1_000n + reserveOf(1_000n) > balanceMsat;
        const next = amountMsat + 1_000n;
        return amountMsat % 1_000n === 0n && amountMsat + reserveOf(amountMsat) <= balanceMsat && next + reserveOf(next) > balanceMsat;
      }),
      { numRuns: 2_000 },
    );
  });

  it.each([
    { what: 'no balance', balanceMsat: 0n, amountMsat: 0n },
    { what: 'the reserve base alone', balanceMsat: 10_000n, amountMsat: 0n },
    { what: 'one sat and its reserve', balanceMsat: 11_005n, amountMsat: 1_000n },
    { what: 'one msat short of that', balanceMsat: 11_004n, amountMsat: 0n },
    { what: '20,000 sats', balanceMsat: 20_000_000n, amountMsat: 19_890_000n },
  ])('$what ($balanceMsat msat) → $amountMsat msat', ({ balanceMsat, amountMsat }) => {
    expect(withdrawals.largestCoveredMsat(balanceMsat)).toBe(amountMsat);
  });
});

describe('a withdraw link', () => {
  it('made without an amount pays from 1 sat up to what the balance covers, until it expires', async () => {
    const { k1, link } = await links.create(supporterId);
    expect(k1).toMatch(/^[0-9a-f]{64}$/);
    expect(link).toMatchObject({ minWithdrawableMsat: '1000', maxWithdrawableMsat: '19890000', withdrawalId: null });
    expect(Date.parse(link.expiresAt) - now.getTime()).toBe(ttlMs);
    // The store holds its hash, never the k1.
    expect(await linkOf(k1)).toEqual(link);
    expect(link.id).not.toContain(k1);
    expect(await links.bounds(k1)).toEqual({ minWithdrawableMsat: 1_000n, maxWithdrawableMsat: 19_890_000n });
  });

  it('made for an amount pays exactly that; one the balance does not cover is refused', async () => {
    const { k1 } = await links.create(supporterId, 5_000_000n);
    expect(await links.bounds(k1)).toEqual({ minWithdrawableMsat: 5_000_000n, maxWithdrawableMsat: 5_000_000n });
    await expect(links.create(supporterId, 19_900_000n)).rejects.toMatchObject({ code: 'insufficient_balance' });
    const broke = (await new Supporters(t.ledger).create()).id;
    await expect(links.create(broke)).rejects.toMatchObject({ code: 'insufficient_balance' });
  });

  it('shows a wallet the most lowered to what the balance covers now, and refuses when not even its least fits', async () => {
    const { k1 } = await links.create(supporterId);
    const fixed = await links.create(supporterId, 5_000_000n);
    await t.ledger.run((tx) => tx.transfer('tip', accounts.supporter(supporterId), accounts.escrow('carol'), 16_000_000n));
    expect((await links.bounds(k1)).maxWithdrawableMsat).toBe(withdrawals.largestCoveredMsat(4_000_000n));
    await expect(links.bounds(fixed.k1)).rejects.toMatchObject({ code: 'insufficient_balance' });
  });

  it('redeemed: the withdrawal held and the link used in one operation, answered before LND pays, then booked', async () => {
    const { k1 } = await links.create(supporterId);
    let release!: () => void;
    const paying = new Promise<void>((resolve) => (release = resolve));
    const answer = lnd.answer;
    lnd.answer = async (hash, amount) => {
      await paying;
      return answer(hash, amount);
    };
    const held = await links.redeem(k1, invoice(4_000));
    expect(held).toMatchObject({ state: 'pending', amountMsat: '4000000', feeReserveMsat: String(reserveOf(4_000_000n)) });
    expect(await balance()).toBe(fundedMsat - 4_000_000n - reserveOf(4_000_000n));
    expect((await linkOf(k1))?.withdrawalId).toBe(held.id);
    expect(await links.get(supporterId, linkIdOf(k1))).toMatchObject({ state: 'used', withdrawal: { id: held.id, state: 'pending' } });

    release();
    await withdrawals.drained();
    expect(await withdrawalOf(held.id)).toMatchObject({ state: 'succeeded', feeMsat: '1000' });
    expect(await balance()).toBe(fundedMsat - 4_000_000n - 1_000n);
    expect(await withdrawals.get(supporterId, held.id)).toMatchObject({ state: 'succeeded' });
  });

  it('redeemed twice, one after the other: the second is refused, and nothing more is held or paid', async () => {
    const { k1 } = await links.create(supporterId);
    await links.redeem(k1, invoice(1_000));
    await withdrawals.drained();
    const after = await balance();
    await expect(links.redeem(k1, invoice(1_000))).rejects.toMatchObject({ code: 'withdraw_link_used' });
    await expect(links.bounds(k1)).rejects.toMatchObject({ code: 'withdraw_link_used' });
    expect(await balance()).toBe(after);
    expect(lnd.paid).toHaveLength(1);
  });

  it('called back again with the same invoice (a wallet retrying): OK again with the one withdrawal, nothing written, paid once', async () => {
    const { k1 } = await links.create(supporterId);
    const request = invoice(2_000);
    const first = await links.redeem(k1, request);
    const after = await balance();
    expect(await links.redeem(k1, request)).toMatchObject({ id: first.id });
    await withdrawals.drained();
    expect(await links.redeem(k1, request)).toMatchObject({ id: first.id, state: 'succeeded' });
    expect(lnd.paid).toEqual([request]);
    expect(await balance()).toBe(after + reserveOf(2_000_000n) - 1_000n);
    // The same k1 with another invoice: used.
    await expect(links.redeem(k1, invoice(2_000))).rejects.toMatchObject({ code: 'withdraw_link_used' });
    expect(lnd.paid).toHaveLength(1);
  });

  it('called back ten times at once with the same invoice: all answered with the one withdrawal, paid once', async () => {
    const { k1 } = await links.create(supporterId);
    const request = invoice(1_000);
    const answers = await Promise.all(Array.from({ length: 10 }, () => links.redeem(k1, request)));
    await withdrawals.drained();
    expect(new Set(answers.map((a) => a.id)).size).toBe(1);
    expect(lnd.paid).toEqual([request]);
    expect(await balance()).toBe(fundedMsat - 1_000_000n - 1_000n);
  });

  it('called back again with the same invoice after its payment failed: refused as used, nothing sent again', async () => {
    lnd.answer = (paymentHash) => Promise.resolve({ state: 'failed', paymentHash, reason: 'no_route' });
    const { k1 } = await links.create(supporterId);
    const request = invoice(1_000);
    await links.redeem(k1, request);
    await withdrawals.drained();
    await expect(links.redeem(k1, request)).rejects.toMatchObject({ code: 'withdraw_link_used' });
    expect(lnd.paid).toHaveLength(1);
    expect(await balance()).toBe(fundedMsat);
  });

  it('redeemed by ten wallets at once: one withdrawal, the others refused as used', async () => {
    const { k1 } = await links.create(supporterId);
    const answers = await Promise.allSettled(Array.from({ length: 10 }, () => links.redeem(k1, invoice(1_000))));
    await withdrawals.drained();
    expect(answers.filter((a) => a.status === 'fulfilled')).toHaveLength(1);
    for (const a of answers.filter((a) => a.status === 'rejected')) expect(a.reason).toMatchObject({ code: 'withdraw_link_used' });
    expect(lnd.paid).toHaveLength(1);
    expect(await balance()).toBe(fundedMsat - 1_000_000n - 1_000n);
  });

  it.each([
    { what: 'an unknown k1', k1: () => 'ab'.repeat(32), request: () => invoice(1_000), code: 'withdraw_link_unknown' },
    { what: 'an expired link', k1: 'expired', request: () => invoice(1_000), code: 'withdraw_link_expired' },
    { what: 'an invoice above the most', request: () => invoice(19_891), code: 'amount_out_of_range' },
    { what: 'an invoice below the least of a link for an amount', amountMsat: 2_000_000n, request: () => invoice(1_000), code: 'amount_out_of_range' },
    { what: 'a mainnet invoice', request: () => invoice(1_000, 'bitcoin'), code: 'wrong_network' },
    { what: 'something that is not an invoice', request: () => 'lnbcrt1nonsense', code: 'invalid_payment_request' },
    {
      what: 'an expired invoice',
      request: () => signedInvoice({ amountMsat: 1_000_000n, createdAt: new Date(Date.now() - 7200_000), expiresAt: new Date(Date.now() - 3600_000) }),
      code: 'invoice_expired',
    },
    {
      what: 'an invoice expiring within a minute',
      request: () => signedInvoice({ amountMsat: 1_000_000n, createdAt: new Date(Date.now() - 3540_000), expiresAt: new Date(Date.now() + 30_000) }),
      code: 'invoice_expired',
    },
  ])('refuses $what ($code): nothing held, the link still open', async ({ k1: k1Of, amountMsat, request, code }) => {
    const { k1 } = await links.create(supporterId, amountMsat);
    if (k1Of === 'expired') now = new Date(now.getTime() + ttlMs);
    await expect(links.redeem(typeof k1Of === 'function' ? k1Of() : k1, request())).rejects.toMatchObject({ code });
    expect(await balance()).toBe(fundedMsat);
    expect((await linkOf(k1))?.withdrawalId).toBeNull();
    expect(lnd.paid).toHaveLength(0);
  });

  it('refuses an invoice a withdrawal pays already, and one the balance no longer covers, leaving the link open', async () => {
    const { k1 } = await links.create(supporterId);
    const request = invoice(1_000);
    await withdrawals.create(supporterId, request);
    await expect(links.redeem(k1, request)).rejects.toMatchObject({ code: 'invoice_already_used' });
    await t.ledger.run((tx) => tx.transfer('tip', accounts.supporter(supporterId), accounts.escrow('carol'), 15_000_000n));
    await expect(links.redeem(k1, invoice(15_000))).rejects.toMatchObject({ code: 'insufficient_balance' });
    expect((await linkOf(k1))?.withdrawalId).toBeNull();
    expect(lnd.paid).toHaveLength(1);
  });

  it('stays used with its withdrawal pending when LND gives no answer: the recheck looks it up', async () => {
    lnd.answer = () => Promise.reject(new LndError('lnd_unavailable', 'payInvoice: no answer'));
    const { k1 } = await links.create(supporterId);
    const held = await links.redeem(k1, invoice(2_000));
    await withdrawals.drained();
    expect(await withdrawalOf(held.id)).toMatchObject({ state: 'pending' });
    expect(await t.ledger.read(keys.pendingWithdrawal(held.id))).toBe(0);
    expect((await linkOf(k1))?.withdrawalId).toBe(held.id);
    await expect(links.redeem(k1, invoice(2_000))).rejects.toMatchObject({ code: 'withdraw_link_used' });
  });

  it('is forgotten an hour after it expired unused; a used one is kept', async () => {
    const unused = await links.create(supporterId);
    const used = await links.create(supporterId, 1_000_000n);
    await links.redeem(used.k1, invoice(1_000));
    now = new Date(now.getTime() + ttlMs);
    expect(await links.get(supporterId, unused.link.id)).toMatchObject({ state: 'expired', withdrawal: null });
    expect(await links.forgetExpired()).toBe(0);
    now = new Date(now.getTime() + 3600_000 + 1);
    expect(await links.forgetExpired()).toBe(1);
    expect(await linkOf(unused.k1)).toBeUndefined();
    expect(await links.get(supporterId, unused.link.id)).toBeUndefined();
    await expect(links.redeem(unused.k1, invoice(1_000))).rejects.toMatchObject({ code: 'withdraw_link_unknown' });
    expect(await links.get(supporterId, used.link.id)).toMatchObject({ state: 'used' });
    expect(await t.ledger.db.keys({ gt: 'wlinkexp:', lt: 'wlinkexp:\xff' }).all()).toEqual([]);
    expect(await t.ledger.db.keys({ gt: 'wlinkopen:', lt: 'wlinkopen:\xff' }).all()).toEqual([]);
  });

  it('expired unused by the thousands: one pass drains a backlog of up to 10,000, the next the rest', async () => {
    const expiresAt = new Date(now.getTime() - 3600_000 - 60_000).toISOString();
    for (let chunk = 0; chunk < 11; chunk += 1) {
      await t.ledger.run((tx) => {
        for (let i = 0; i < (chunk < 10 ? 1_000 : 500); i += 1) {
          const id = `stale-${chunk}-${i}`;
          tx.put(keys.withdrawLink(id), {
            id,
            supporterId,
            minWithdrawableMsat: '1000',
            maxWithdrawableMsat: '1000',
            createdAt: expiresAt,
            expiresAt,
            withdrawalId: null,
          });
          tx.put(keys.withdrawLinkExpiry(expiresAt, id), 0);
        }
      });
    }
    expect(await links.forgetExpired()).toBe(10_000);
    expect(await links.forgetExpired()).toBe(500);
    expect(await links.forgetExpired()).toBe(0);
    expect(await t.ledger.db.keys({ gt: 'wlink:', lt: 'wlink:\xff' }).all()).toEqual([]);
  });

  it(`may be held by a supporter ${openLinksMax} at a time, unused and unexpired: another is refused until one is used or expires`, async () => {
    const made = await Promise.allSettled(Array.from({ length: openLinksMax + 5 }, () => links.create(supporterId, 1_000_000n)));
    const open = made.flatMap((m) => (m.status === 'fulfilled' ? [m.value] : []));
    expect(open).toHaveLength(openLinksMax);
    for (const m of made.filter((m) => m.status === 'rejected')) expect(m.reason).toMatchObject({ code: 'too_many_withdraw_links' });
    // Another supporter is not held up by this one's links.
    const other = (await new Supporters(t.ledger).create()).id;
    await t.ledger.run((tx) => tx.transfer('deposit', accounts.deposits, accounts.supporter(other), 1_000_000n));
    await expect(links.create(other)).resolves.toBeDefined();

    await links.redeem(open[0]!.k1, invoice(1_000));
    await links.create(supporterId, 1_000_000n);
    await expect(links.create(supporterId, 1_000_000n)).rejects.toMatchObject({ code: 'too_many_withdraw_links' });
    // Expired, they no longer count (before they are forgotten).
    now = new Date(now.getTime() + ttlMs);
    await expect(links.create(supporterId, 1_000_000n)).resolves.toBeDefined();
    expect(await links.get(supporterId, open[1]!.link.id)).toMatchObject({ state: 'expired' });
  });

  it('is shown only to its own supporter', async () => {
    const { link } = await links.create(supporterId);
    expect(await links.get('someone-else', link.id)).toBeUndefined();
  });
});

describe('when tipd stops', () => {
  afterEach(() => vi.useRealTimers());

  it('a link redeemed as it stops: held and answered, never sent to LND; the next start releases it after a minute', async () => {
    const { k1 } = await links.create(supporterId);
    const request = invoice(3_000);
    const redeeming = links.redeem(k1, request);
    // The stop begins while the callback is on its way to the writer.
    withdrawals.stop();
    const held = await redeeming;
    await withdrawals.drained();
    expect(lnd.paid).toEqual([]);
    expect(await withdrawalOf(held.id)).toMatchObject({ state: 'pending' });
    expect(await balance()).toBe(fundedMsat - 3_000_000n - reserveOf(3_000_000n));

    // The next start: LND never saw it; younger than a minute it is left alone, then released.
    const restarted = new Withdrawals(t.ledger, lnd, pino({ level: 'silent' }), {
      network: 'regtest',
      feeBaseMsat: fee.baseMsat,
      feePpm: fee.ppm,
      recheckMs: 60_000,
    });
    await restarted.reconcile();
    expect(await withdrawalOf(held.id)).toMatchObject({ state: 'pending' });
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 61_000);
    await restarted.reconcile();
    expect(await withdrawalOf(held.id)).toMatchObject({ state: 'failed', failureReason: 'never sent (tipd stopped before paying)' });
    expect(await balance()).toBe(fundedMsat);
    expect(lnd.paid).toEqual([]);
    expect((await linkOf(k1))?.withdrawalId).toBe(held.id);
  });

  it('a payment LND was asked for before the stop is booked before drained() answers', async () => {
    let release!: () => void;
    const paying = new Promise<void>((resolve) => (release = resolve));
    const answer = lnd.answer;
    lnd.answer = async (hash, amount) => {
      await paying;
      return answer(hash, amount);
    };
    const { k1 } = await links.create(supporterId);
    const held = await links.redeem(k1, invoice(2_000));
    await vi.waitFor(() => expect(lnd.paid).toHaveLength(1));
    withdrawals.stop();
    let drained = false;
    const draining = withdrawals.drained().then(() => (drained = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(drained).toBe(false);
    release();
    await draining;
    expect(await withdrawalOf(held.id)).toMatchObject({ state: 'succeeded', feeMsat: '1000' });
  });
});
