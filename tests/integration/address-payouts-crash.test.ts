// Payouts to a Lightning Address across crashes, for real: tipd SIGKILLed at each named point of
// the address path (an invoice fetched, nothing stored; the payout held, LND not asked; LND done,
// nothing booked), then started again on the same data. The creator is dave's address on the
// stack, whose invoices dave's LND makes: dave's real balance rises by exactly what succeeded,
// every invoice is paid at most once (one fetched but never recorded, never), and the ledger sums to zero.
import { describe, expect, it } from 'vitest';
import { channelBalance, claimForAddress, freshHandle, lncli, payoutsOf, succeededPayouts, type Payout } from './creators.ts';
import { api, eventually, fundedSupporter, lndOf, stack, tipdsAcrossCrashes } from './helpers.ts';

const settings = { TIPD_PAYOUT_MIN_SAT: '1000', TIPD_PAYOUT_RETRY_SECONDS: '1' };
const address = () => stack().lightningAddresses[0]!.address;
const tipds = tipdsAcrossCrashes('tipd-address-crash-');

/** dave's invoices as lncli lists them: payment hash, state, add index. */
interface DaveInvoice {
  r_hash: string;
  state: 'OPEN' | 'SETTLED' | 'CANCELED' | 'ACCEPTED';
  add_index: string;
}

/** The add index of dave's newest invoice (0: none yet). */
const daveInvoiceIndex = async (): Promise<number> =>
  Number((await lncli<{ invoices: DaveInvoice[] }>('dave', 'listinvoices', '--max_invoices', '1')).invoices[0]?.add_index ?? 0);

/** dave's invoices made after add index `index`, oldest first. */
const daveInvoicesAfter = async (index: number): Promise<DaveInvoice[]> =>
  (await lncli<{ invoices: DaveInvoice[] }>('dave', 'listinvoices', '--paginate-forwards', '--index_offset', String(index), '--max_invoices', '100')).invoices;

/**
 * A tipd on a data folder of the test's own that SIGKILLs itself at `crashAt`, a handle claimed for
 * dave's address (nothing in escrow yet, so nothing paid), and a funded supporter.
 */
async function claimedForDave(crashAt: string) {
  const { url } = await tipds.start({ ...settings, TIPD_CRASH_AT: crashAt });
  const handle = freshHandle('acrash');
  const supporter = await fundedSupporter(url, 5_000);
  expect((await claimForAddress(url, handle, address())).proof.status).toBe(200);
  return { handle, token: supporter.token, url };
}

/** A tip of 3,000 sat to `handle`: its payout starts, and tipd kills itself at the armed point. */
async function tipAndCrash(url: string, token: string, handle: string): Promise<void> {
  expect((await api(url, 'POST', '/v1/tips', { token, body: { handle, amountSat: 3_000 } })).status).toBe(201);
  // Killed by its own SIGKILL: no exit code.
  expect(await tipds.latest.exited).toBeNull();
}

/**
 * `count` payouts of `handle` succeeded, and it stays so: each succeeded payout's invoice paid once by
 * the hub and settled by dave, each failed one never sent, dave's balance up by exactly their sum,
 * the ledger balanced. The payouts, newest first.
 */
async function expectPaidOnce(url: string, handle: string, daveBefore: bigint, count: number): Promise<Payout[]> {
  const succeeded = await succeededPayouts(url, handle, count, 110_000);
  const paidMsat = succeeded.reduce((sum, p) => sum + BigInt(p.amountMsat), 0n);
  await eventually(async () => ((await channelBalance('dave')) - daveBefore === paidMsat ? true : undefined), 20_000);
  // And it stays so: nothing is sent again.
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  const payouts = await payoutsOf(url, handle);
  expect(payouts.filter((p) => p.state === 'succeeded')).toHaveLength(count);
  expect(payouts.filter((p) => p.state === 'pending')).toEqual([]);
  for (const payout of payouts) {
    const [sent, invoice] = [await lndOf('hub').getPayment(payout.paymentHash), await lndOf('dave').getInvoice(payout.paymentHash)];
    if (payout.state === 'succeeded') expect([sent?.state, invoice?.state]).toEqual(['succeeded', 'settled']);
    else expect([sent, invoice?.state]).toEqual([undefined, 'open']);
  }
  expect((await channelBalance('dave')) - daveBefore).toBe(paidMsat);
  const audit = await api(url, 'GET', '/v1/admin/audit', { headers: { authorization: `Bearer ${stack().tipd.adminToken}` } });
  expect(audit.body.ledger).toMatchObject({ sumMsat: '0', balanced: true });
  return payouts;
}

describe('a payout to a Lightning Address across a crash', () => {
  it('killed with an invoice fetched and nothing stored: a new invoice is fetched and paid at the next start; the first is never paid', async () => {
    const { handle, token, url } = await claimedForDave('payout.prepared-not-held');
    const daveBefore = await channelBalance('dave');
    const invoiceIndex = await daveInvoiceIndex();
    await tipAndCrash(url, token, handle);
    // dave's server made the invoice tipd fetched before it died; nothing of it reached tipd's disk.
    const [first, ...others] = await daveInvoicesAfter(invoiceIndex);
    expect([first?.state, others]).toEqual(['OPEN', []]);

    const restarted = await tipds.start(settings);
    const [payout, ...more] = await expectPaidOnce(restarted.url, handle, daveBefore, 1);
    expect(more).toEqual([]);
    expect(payout!.paymentHash).not.toBe(first!.r_hash);
    expect((await daveInvoicesAfter(invoiceIndex)).map((i) => [i.r_hash, i.state])).toEqual([
      [first!.r_hash, 'OPEN'],
      [payout!.paymentHash, 'SETTLED'],
    ]);
    expect(await lndOf('hub').getPayment(first!.r_hash)).toBeUndefined();
  });

  it(
    'killed after the escrow was held, before LND was asked: found never sent, voided after the grace minute, and paid by a new payout',
    { timeout: 150_000 },
    async () => {
      const { handle, token, url } = await claimedForDave('payout.held-not-sent');
      const daveBefore = await channelBalance('dave');
      await tipAndCrash(url, token, handle);

      const restarted = await tipds.start(settings);
      const [held, ...others] = await payoutsOf(restarted.url, handle);
      expect([held?.state, others]).toEqual(['pending', []]);
      expect(await lndOf('hub').getPayment(held!.paymentHash)).toBeUndefined();
      // LND never saw it; after a minute (a request could still have been on its way) it is void.
      const payouts = await expectPaidOnce(restarted.url, handle, daveBefore, 1);
      expect(payouts.map((p) => [p.id, p.state])).toEqual([
        [payouts[0]!.id, 'succeeded'],
        [held!.id, 'failed'],
      ]);
      expect(payouts[0]!.paymentHash).not.toBe(held!.paymentHash);
    },
  );

  it('killed after LND paid, before the outcome was booked: booked once by hash at the next start, never paid again', async () => {
    const { handle, token, url } = await claimedForDave('payout.sent-not-booked');
    const daveBefore = await channelBalance('dave');
    const invoiceIndex = await daveInvoiceIndex();
    await tipAndCrash(url, token, handle);
    const [invoice, ...others] = await daveInvoicesAfter(invoiceIndex);
    expect([invoice?.state, others]).toEqual(['SETTLED', []]);

    const restarted = await tipds.start(settings);
    const [payout, ...more] = await expectPaidOnce(restarted.url, handle, daveBefore, 1);
    expect(more).toEqual([]);
    expect(payout!.paymentHash).toBe(invoice!.r_hash);
    expect(await daveInvoicesAfter(invoiceIndex)).toHaveLength(1);
  });
});
