// A creator's Lightning Address server that misbehaves, end to end: a small https server of the
// test's own (the stack's certificate) with a good pay request, whose callback answers what the
// test says: an LNURL error, then invoices tipd must never pay (another amount, another
// description hash, expiring within a minute, the hub's own), then a good one. Each bad answer is
// a failed attempt the handle's followers see, nothing held; the good one is paid once, into dave's
// real balance.
import { hash } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { channelBalance, claimForAddress, freshHandle, payoutsOf, succeededPayouts } from './creators.ts';
import { api, eventually, fundedSupporter, lndOf, stack, tipdForFile } from './helpers.ts';
import { connect } from './websocket.ts';
import { payoutSplit } from '../../src/payouts/records.ts';

/** `repeat`: the last good invoice again, already paid. */
type Answer = 'error' | 'other_amount' | 'other_description' | 'expiring' | 'hub_invoice' | 'good' | 'repeat';

/** What the callback answered, each time it was asked. */
interface Asked {
  answer: Answer;
  amountMsat: bigint;
  paymentHash: string | undefined;
}

/** `bad@localhost:<port>`: a good pay request, and a callback answering `server.answer`. */
async function misbehavingAddressServer() {
  const tlsDir = path.dirname(stack().tipd.caCert);
  const state = { answer: 'error' as Answer, asked: [] as Asked[], lastGood: undefined as { body: unknown; paymentHash?: string } | undefined };
  const server = https.createServer({ cert: fs.readFileSync(path.join(tlsDir, 'tipd.crt')), key: fs.readFileSync(path.join(tlsDir, 'tipd.key')) });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const domain = `localhost:${(server.address() as AddressInfo).port}`;
  const address = `bad@${domain}`;
  const metadata = JSON.stringify([
    ['text/plain', `Pay ${address}`],
    ['text/identifier', address],
  ]);
  const inTenMinutes = () => new Date(Date.now() + 600_000);

  /** The callback's answer to a request for `amountMsat`, as `state.answer` says. */
  async function callback(amountMsat: bigint): Promise<{ body: unknown; paymentHash?: string }> {
    const good = { amountMsat, descriptionHash: hash('sha256', metadata, 'buffer'), expiresAt: inTenMinutes() };
    const invoice = (made: { paymentHash: string; paymentRequest: string }) => ({
      body: { pr: made.paymentRequest, routes: [] },
      paymentHash: made.paymentHash,
    });
    switch (state.answer) {
      case 'error':
        return { body: { status: 'ERROR', reason: 'the wallet is down for maintenance' } };
      case 'other_amount':
        return invoice(await lndOf('dave').createInvoice({ ...good, amountMsat: amountMsat + 1_000n }));
      case 'other_description':
        return invoice(await lndOf('dave').createInvoice({ ...good, descriptionHash: hash('sha256', 'another metadata', 'buffer') }));
      case 'expiring':
        return invoice(await lndOf('dave').createInvoice({ ...good, expiresAt: new Date(Date.now() + 30_000) }));
      case 'hub_invoice':
        return invoice(await lndOf('hub').createInvoice(good));
      case 'good':
        return (state.lastGood = invoice(await lndOf('dave').createInvoice(good)));
      case 'repeat':
        return state.lastGood!;
    }
  }

  server.on('request', (req, res) => {
    const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    const url = new URL(req.url ?? '/', `https://${domain}`);
    if (url.pathname === '/.well-known/lnurlp/bad') {
      return json(200, { tag: 'payRequest', callback: `https://${domain}/callback`, minSendable: 1_000, maxSendable: 100_000_000, metadata });
    }
    if (url.pathname !== '/callback') return json(404, { status: 'ERROR', reason: 'not found' });
    const amountMsat = BigInt(url.searchParams.get('amount') ?? '0');
    const answer = state.answer;
    callback(amountMsat).then(
      ({ body, paymentHash }) => {
        state.asked.push({ answer, amountMsat, paymentHash });
        json(200, body);
      },
      (err: unknown) => json(500, { status: 'ERROR', reason: String(err) }),
    );
  });

  return {
    address,
    state,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

const tipd = tipdForFile({ TIPD_PAYOUT_MIN_SAT: '1000', TIPD_PAYOUT_RETRY_SECONDS: '1' });
let server: Awaited<ReturnType<typeof misbehavingAddressServer>>;
beforeAll(async () => {
  server = await misbehavingAddressServer();
});
afterAll(() => server.close());

const pendingOf = async (handle: string): Promise<string> => (await tipd.call('GET', `/v1/handles/${handle}`)).body.pendingMsat;

// The bad answers, in the order the callback gives them; the retry wait doubles after each (1 s, 2 s, 4 s, 8 s, 16 s).
const badAnswers: [Answer, string, RegExp][] = [
  ['error', 'address_unreachable', /answered an error: the wallet is down for maintenance/],
  ['other_amount', 'address_bad_invoice', /for \d+ msat, not the \d+ asked/],
  ['other_description', 'address_bad_invoice', /whose description hash is not that of its metadata/],
  ['expiring', 'address_bad_invoice', /that expires within a minute/],
  ['hub_invoice', 'address_bad_invoice', /of this tipd's own node/],
];

describe('a Lightning Address whose callback misbehaves', () => {
  it('is never paid a bad invoice: each is a failed attempt the followers see, nothing held; the good one is paid once', { timeout: 120_000 }, async () => {
    const handle = freshHandle('badinv');
    const { token } = await fundedSupporter(tipd.url, 6_000);
    expect((await tipd.call('POST', '/v1/tips', { token, body: { handle, amountSat: 5_000 } })).status).toBe(201);
    expect(await pendingOf(handle)).toBe('5000000');
    const watcher = await connect(tipd.url);
    watcher.send({ type: 'follow', handle });
    await watcher.next((m) => m.type === 'ready' && (m.topics ?? []).includes(`handle:${handle}`));
    const daveBefore = await channelBalance('dave');

    server.state.answer = badAnswers[0]![0];
    expect((await claimForAddress(tipd.url, handle, server.address)).proof.status).toBe(200);
    for (const [round, [, code, reason]] of badAnswers.entries()) {
      const failed = await eventually(async () => watcher.messages.filter((m) => m.event === 'payout.attempt_failed')[round], 30_000);
      // The next attempt is a second or more away: switch the answer now.
      server.state.answer = badAnswers[round + 1]?.[0] ?? 'good';
      expect(failed.data).toMatchObject({ handle, code });
      expect(String(failed.data!.reason)).toMatch(reason);
      expect(server.state.asked.map((a) => a.answer)).toEqual(badAnswers.slice(0, round + 1).map(([a]) => a));
      expect(await payoutsOf(tipd.url, handle)).toEqual([]);
      expect(await pendingOf(handle)).toBe('5000000');
    }

    const [payout] = await succeededPayouts(tipd.url, handle, 1);
    const good = server.state.asked.at(-1)!;
    expect(good.answer).toBe('good');
    expect(payout).toMatchObject({ paymentHash: good.paymentHash, amountMsat: good.amountMsat.toString(), lightningAddress: server.address });
    await eventually(async () => ((await channelBalance('dave')) - daveBefore === good.amountMsat ? true : undefined));
    // And it stays so: nothing asked or sent again, none of the bad invoices paid.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(server.state.asked).toHaveLength(badAnswers.length + 1);
    expect(await payoutsOf(tipd.url, handle)).toHaveLength(1);
    expect((await channelBalance('dave')) - daveBefore).toBe(good.amountMsat);
    expect(BigInt(await pendingOf(handle))).toBe(5_000_000n - good.amountMsat - BigInt(payout!.feeMsat!));
    for (const asked of server.state.asked.filter((a) => a.paymentHash !== undefined)) {
      const node = asked.answer === 'hub_invoice' ? 'hub' : 'dave';
      expect([asked.answer, (await lndOf(node).getInvoice(asked.paymentHash!))?.state]).toEqual([asked.answer, asked.answer === 'good' ? 'settled' : 'open']);
      if (asked.answer !== 'good') expect(await lndOf('hub').getPayment(asked.paymentHash!)).toBeUndefined();
    }
    expect(watcher.messages.map((m) => m.event).filter(Boolean)).toEqual([
      'claim.verified',
      ...badAnswers.map(() => 'payout.attempt_failed'),
      'payout.pending',
      'payout.succeeded',
    ]);
    const audit = await api(tipd.url, 'GET', '/v1/admin/audit', { headers: { authorization: `Bearer ${stack().tipd.adminToken}` } });
    expect(audit.body.ledger).toMatchObject({ sumMsat: '0', balanced: true });
    watcher.close();
  });

  it('never pays an invoice it has paid before, whatever it is for: a repeated one is a failed attempt', { timeout: 120_000 }, async () => {
    // Another handle claimed for the same address, tipped so that its payout asks exactly the amount of the last good invoice.
    const paid = server.state.lastGood!;
    const amountMsat = server.state.asked.at(-1)!.amountMsat;
    const handle = freshHandle('repeat');
    let sat = Number(amountMsat / 1000n);
    while (payoutSplit(BigInt(sat) * 1000n, 10_000n, 5_000n)!.amountMsat < amountMsat) sat += 1;
    const { token } = await fundedSupporter(tipd.url, sat + 1_000);
    expect((await tipd.call('POST', '/v1/tips', { token, body: { handle, amountSat: sat } })).status).toBe(201);
    const watcher = await connect(tipd.url);
    watcher.send({ type: 'follow', handle });
    await watcher.next((m) => m.type === 'ready' && (m.topics ?? []).includes(`handle:${handle}`));
    server.state.answer = 'repeat';
    expect((await claimForAddress(tipd.url, handle, server.address)).proof.status).toBe(200);
    const failed = await eventually(async () => watcher.messages.find((m) => m.event === 'payout.attempt_failed'), 30_000);
    server.state.answer = 'good';
    expect(failed.data).toMatchObject({ handle, code: 'address_bad_invoice', reason: expect.stringMatching(/paid before/) });
    expect(server.state.asked.at(-1)).toMatchObject({ answer: 'repeat', paymentHash: paid.paymentHash });
    const [payout] = await succeededPayouts(tipd.url, handle, 1);
    expect(payout!.paymentHash).not.toBe(paid.paymentHash);
    expect(await payoutsOf(tipd.url, handle)).toHaveLength(1);
    watcher.close();
  });
});
