// The LND adapter against the real regtest nodes: invoices, settlement, keysend (direct and
// through a hop that charges a fee), payment lookup by hash, message signatures.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { SettledInvoice } from '../../src/ln/lnd.ts';
import { eventually, lndOf, stack } from './helpers.ts';

const hub = () => lndOf('hub');

describe('the LND adapter on the regtest stack', () => {
  const payFromAlice = async (amountMsat: bigint) => {
    const invoice = await hub().createInvoice({ amountMsat, description: 'deposit test', expiresAt: new Date(Date.now() + 600_000) });
    const paid = await lndOf('alice').payInvoice({ paymentRequest: invoice.paymentRequest, maxFeeMsat: 10_000n });
    expect(paid).toMatchObject({ state: 'succeeded', amountMsat, paymentHash: invoice.paymentHash });
    return invoice;
  };
  const settledIndexOf = async (paymentHash: string) => (await hub().getInvoice(paymentHash))?.settled?.settleIndex;

  it('sees an invoice the hub created settled once alice paid it, with what was received', async () => {
    const invoice = await payFromAlice(21_000_000n);
    expect(invoice.paymentRequest).toMatch(/^lnbcrt210u1/);
    const found = await hub().getInvoice(invoice.paymentHash);
    expect(found).toMatchObject({ state: 'settled', request: invoice.paymentRequest, settled: { receivedMsat: 21_000_000n, isKeysend: false } });
  });

  it('follows settlements live and catches up, after being away, on what settled past the last index it handled', async () => {
    const first = await payFromAlice(1_000_000n);
    const whileAway = await payFromAlice(2_000_000n);
    const cursor = (await settledIndexOf(first.paymentHash))!;

    const seen: SettledInvoice[] = [];
    const watch = hub().watchSettledInvoices(
      cursor,
      async (i) => void seen.push(i),
      () => {},
    );
    try {
      const caughtUp = await eventually(async () => seen.find((s) => s.paymentHash === whileAway.paymentHash));
      expect(caughtUp.receivedMsat).toBe(2_000_000n);
      const live = await payFromAlice(3_000_000n);
      expect((await eventually(async () => seen.find((s) => s.paymentHash === live.paymentHash))).receivedMsat).toBe(3_000_000n);
      expect(seen.map((s) => s.paymentHash)).not.toContain(first.paymentHash);
    } finally {
      watch.stop();
    }
  });

  it('hands a settlement over again when handling it failed the first time', async () => {
    const before = await payFromAlice(1_000n);
    const cursor = (await settledIndexOf(before.paymentHash))!;
    const target = await payFromAlice(4_000_000n);
    let attempts = 0;
    const handled: string[] = [];
    const watch = hub().watchSettledInvoices(
      cursor,
      async (i) => {
        if (i.paymentHash === target.paymentHash && ++attempts === 1) throw new Error('disk full');
        handled.push(i.paymentHash);
      },
      () => {},
      100,
    );
    try {
      await eventually(async () => (handled.includes(target.paymentHash) ? true : undefined));
      expect(attempts).toBe(2);
    } finally {
      watch.stop();
    }
  });

  it('keysends to carol over the direct channel: her balance rises by exactly the amount, no fee', async () => {
    const carol = lndOf('carol');
    const before = await carol.getChannelBalanceMsat();
    const preimage = randomBytes(32);

    const sent = await hub().keysend({ destination: stack().nodes.carol.pubkey, amountMsat: 12_345_000n, maxFeeMsat: 1_000n, preimage });

    expect(sent).toMatchObject({ state: 'succeeded', amountMsat: 12_345_000n, feeMsat: 0n, preimage: preimage.toString('hex') });
    expect(await eventually(async () => ((await carol.getChannelBalanceMsat()) !== before ? carol.getChannelBalanceMsat() : undefined))).toBe(
      before + 12_345_000n,
    );
    // LND keeps the outcome: a lookup by hash after the fact agrees.
    expect(await hub().getPayment(sent.paymentHash)).toEqual(sent);
  });

  it('keysends to dave through carol, paying carol a non-zero fee within the cap', async () => {
    const dave = lndOf('dave');
    const before = await dave.getChannelBalanceMsat();

    const sent = await hub().keysend({ destination: stack().nodes.dave.pubkey, amountMsat: 50_000_000n, maxFeeMsat: 100_000n, preimage: randomBytes(32) });

    expect(sent).toMatchObject({ state: 'succeeded', amountMsat: 50_000_000n });
    if (sent.state !== 'succeeded') return;
    expect(sent.feeMsat).toBeGreaterThan(0n);
    expect(sent.feeMsat).toBeLessThanOrEqual(100_000n);
    expect(await eventually(async () => ((await dave.getChannelBalanceMsat()) !== before ? dave.getChannelBalanceMsat() : undefined))).toBe(
      before + 50_000_000n,
    );
  });

  it('fails, and says so, a keysend to dave whose fee cap is below what carol charges', async () => {
    const dave = lndOf('dave');
    const before = await dave.getChannelBalanceMsat();

    const sent = await hub().keysend({ destination: stack().nodes.dave.pubkey, amountMsat: 50_000_000n, maxFeeMsat: 0n, preimage: randomBytes(32) });

    expect(sent.state).toBe('failed');
    expect(await hub().getPayment(sent.paymentHash)).toMatchObject({ state: 'failed' });
    expect(await dave.getChannelBalanceMsat()).toBe(before);
  });

  it('knows nothing of a payment hash it never sent', async () => {
    expect(await hub().getPayment(randomBytes(32).toString('hex'))).toBeUndefined();
  });

  it("verifies a message signed by carol's node to carol's pubkey, and a changed message to another key", async () => {
    const message = `tipd claim test ${randomBytes(8).toString('hex')}`;
    const signature = await lndOf('carol').signMessage(message);
    expect(signature).toMatch(/^[ybndrfg8ejkmcpqxot1uwisza345h769]{104}$/);

    expect(await hub().verifyMessage(message, signature)).toBe(stack().nodes.carol.pubkey);
    expect(await hub().verifyMessage(`${message}!`, signature)).not.toBe(stack().nodes.carol.pubkey);
  });

  it("shows carol and dave in the hub's graph with keysend", async () => {
    for (const name of ['carol', 'dave'] as const) {
      expect(await hub().getNode(stack().nodes[name].pubkey)).toMatchObject({ alias: name, keysend: true });
    }
    expect(await hub().getNode(`02${'11'.repeat(32)}`)).toBeUndefined();
  });
});
