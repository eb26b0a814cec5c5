// Payouts across crashes, for real: tipd SIGKILLed while a keysend is in flight (carol's LND paused
// with SIGSTOP holds the HTLC), or at the named points of the payout path, then started again on
// the same data; and tipd cut off from LND mid-payout. The creator is paid exactly once, the
// ledger sums to zero, and a payout without LND's final word is never taken as failed.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { channelBalance, claimWithTweet, freshHandle, payoutsOf, signalNode, succeededPayouts, type Payout } from './creators.ts';
import { api, eventually, fundedSupporter, lndOf, stack, tipdsAcrossCrashes } from './helpers.ts';

const settings = { TIPD_PAYOUT_MIN_SAT: '1000', TIPD_PAYOUT_RETRY_SECONDS: '1' };
// Each test's tipd is stopped after the hook below has run: vitest runs "after" hooks last one first.
const tipds = tipdsAcrossCrashes('tipd-payout-crash-');
let cleanups: (() => unknown)[] = [];

afterEach(async () => {
  // Never leave carol paused for the next test.
  signalNode('carol', 'SIGCONT');
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

/** A tipd on a data folder of the test's own, with a handle claimed by carol and a funded supporter. */
async function claimedByCarol(env: Record<string, string> = {}) {
  const { url } = await tipds.start({ ...settings, ...env });
  const handle = freshHandle('crash');
  const supporter = await fundedSupporter(url, 10_000);
  expect((await claimWithTweet(url, handle, 'carol')).proof.body.state).toBe('verified');
  return { handle, token: supporter.token, url };
}

const tip = (url: string, token: string, handle: string, amountSat: number) => api(url, 'POST', '/v1/tips', { token, body: { handle, amountSat } });

/** The one payout of `handle`, once LND holds it in flight (the receiving node being paused). */
async function inFlight(url: string, handle: string): Promise<Payout> {
  const [payout] = await eventually(async () => {
    const payouts = await payoutsOf(url, handle);
    return payouts.length > 0 ? payouts : undefined;
  });
  await eventually(async () => ((await lndOf('hub').getPayment(payout!.paymentHash))?.state === 'in_flight' ? true : undefined));
  return payout!;
}

async function expectPaidOnce(url: string, handle: string, carolBefore: bigint, payout: Payout) {
  const [done] = await succeededPayouts(url, handle, 1);
  expect(done).toMatchObject({ id: payout.id, paymentHash: payout.paymentHash, state: 'succeeded' });
  await eventually(async () => ((await channelBalance('carol')) - carolBefore === BigInt(payout.amountMsat) ? true : undefined), 20_000);
  // And it stays so: nothing is sent again.
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  expect(await payoutsOf(url, handle)).toHaveLength(1);
  expect((await channelBalance('carol')) - carolBefore).toBe(BigInt(payout.amountMsat));
  const audit = await api(url, 'GET', '/v1/admin/audit', { headers: { authorization: `Bearer ${stack().tipd.adminToken}` } });
  expect(audit.body.ledger).toMatchObject({ sumMsat: '0', balanced: true });
}

describe('a payout across a crash', () => {
  it('killed while the keysend is in flight (carol paused): looked up by hash at the next start, paid once', async () => {
    const { handle, token, url } = await claimedByCarol();
    const carolBefore = await channelBalance('carol');
    signalNode('carol', 'SIGSTOP');
    expect((await tip(url, token, handle, 3_000)).status).toBe(201);
    const payout = await inFlight(url, handle);
    expect(payout.state).toBe('pending');
    await tipds.latest.stop('SIGKILL');
    signalNode('carol', 'SIGCONT');
    const restarted = await tipds.start(settings);
    await expectPaidOnce(restarted.url, handle, carolBefore, payout);
  });

  it('killed after LND paid, before the outcome was booked: booked once at restart', async () => {
    const { handle, token, url } = await claimedByCarol({ TIPD_CRASH_AT: 'payout.sent-not-booked' });
    const carolBefore = await channelBalance('carol');
    expect((await tip(url, token, handle, 3_000)).status).toBe(201);
    expect(await tipds.latest.exited).toBeNull();
    const restarted = await tipds.start(settings);
    const [payout] = await payoutsOf(restarted.url, handle);
    expect((await lndOf('hub').getPayment(payout!.paymentHash))?.state).toBe('succeeded');
    await expectPaidOnce(restarted.url, handle, carolBefore, payout!);
  });

  it('killed after the escrow was held, before LND was asked: found never sent, voided, and paid by a new payout', { timeout: 180_000 }, async () => {
    const { handle, token, url } = await claimedByCarol({ TIPD_CRASH_AT: 'payout.held-not-sent' });
    const carolBefore = await channelBalance('carol');
    expect((await tip(url, token, handle, 3_000)).status).toBe(201);
    expect(await tipds.latest.exited).toBeNull();
    const restarted = await tipds.start(settings);
    const [held] = await payoutsOf(restarted.url, handle);
    expect(held).toMatchObject({ state: 'pending' });
    expect(await lndOf('hub').getPayment(held!.paymentHash)).toBeUndefined();
    // LND never saw it; after a minute (a request could still have been on its way) it is void.
    const payouts = await eventually(async () => {
      const all = await payoutsOf(restarted.url, handle);
      return all.some((p) => p.state === 'succeeded') ? all : undefined;
    }, 110_000);
    expect(payouts.map((p) => p.state)).toEqual(['succeeded', 'failed']);
    expect(payouts[1]!.id).toBe(held!.id);
    await eventually(async () => ((await channelBalance('carol')) - carolBefore === BigInt(payouts[0]!.amountMsat) ? true : undefined), 20_000);
  });
});

describe('a payout cut off from LND', () => {
  it('stays pending, never failed, while LND cannot be asked; booked once LND answers again', async () => {
    const hubPort = Number(stack().nodes.hub.socket.split(':')[1]);
    const proxy = await tcpProxy(hubPort);
    cleanups.push(() => proxy.close());
    const { handle, token, url } = await claimedByCarol({ TIPD_LND_SOCKET: `localhost:${proxy.port}` });
    const carolBefore = await channelBalance('carol');
    signalNode('carol', 'SIGSTOP');
    expect((await tip(url, token, handle, 3_000)).status).toBe(201);
    const payout = await inFlight(url, handle);

    proxy.cut();
    // The keysend's stream dropped with the connection (not a timeout of tipd's): unknown, not failed.
    const unknown = await eventually(async () =>
      tipds.latest.logs.find((l) => l.msg === 'payout outcome unknown: it stays pending and is looked up by payment hash'),
    );
    expect(unknown).toMatchObject({ payout: payout.id, state: 'unknown' });
    expect(String(unknown.reason)).not.toMatch(/no final answer/);
    signalNode('carol', 'SIGCONT');
    // LND finishes the payment, but tipd cannot hear it: still pending, for as long as that lasts.
    await eventually(async () => ((await lndOf('hub').getPayment(payout.paymentHash))?.state === 'succeeded' ? true : undefined));
    for (let i = 0; i < 10; i += 1) {
      expect((await payoutsOf(url, handle)).map((p) => p.state)).toEqual(['pending']);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    expect((await api(url, 'GET', '/healthz')).status).toBe(503);

    await proxy.restore();
    await expectPaidOnce(url, handle, carolBefore, payout);
  });
});

/** A TCP relay to LND that can be cut (every connection dropped, none accepted) and restored. */
async function tcpProxy(targetPort: number) {
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  let port = 0;
  const listen = async () => {
    server = net.createServer((client) => {
      const upstream = net.connect(targetPort, '127.0.0.1');
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server!.listen(port, '127.0.0.1', resolve));
    port = (server.address() as net.AddressInfo).port;
  };
  const cut = () => {
    server?.close();
    server = undefined;
    for (const s of sockets) s.destroy();
  };
  await listen();
  return {
    get port() {
      return port;
    },
    cut,
    restore: listen,
    close: cut,
  };
}
