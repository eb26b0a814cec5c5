// The websocket at /v1/events on a tipd of the stack: a supporter's own events, public handle
// topics without supporter ids, and resuming from a sequence number across a restart.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, fundedSupporter, lndOf, startTipd, type TipdProcess } from './helpers.ts';
import { connect } from './websocket.ts';

let dataDir: string;
let tipd: TipdProcess;
beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tipd-events-'));
  tipd = await startTipd({}, dataDir);
});
afterAll(async () => {
  await tipd.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const tip = (url: string, token: string, handle: string, amountSat: number) => api(url, 'POST', '/v1/tips', { token, body: { handle, amountSat } });

describe('the events websocket', () => {
  it('shows a supporter their own deposit and tips, with sequence numbers', async () => {
    const { token } = (await api(tipd.url, 'POST', '/v1/accounts')).body;
    const own = await connect(tipd.url, { authorization: `Bearer ${token}` });
    try {
      const deposit = (await api(tipd.url, 'POST', '/v1/deposits', { token, body: { amountSat: 5_000 } })).body;
      await lndOf('alice').payInvoice({ paymentRequest: deposit.paymentRequest, maxFeeMsat: 10_000n });
      const settled = await own.next((m) => m.event === 'deposit.settled');
      expect(settled.data).toMatchObject({ id: deposit.id, receivedMsat: '5000000' });
      expect((await tip(tipd.url, token, 'events_a', 1_000)).status).toBe(201);
      const sent = await own.next((m) => m.event === 'tip.sent');
      expect(sent.data).toMatchObject({ handle: 'events_a', amountMsat: '1000000', pendingMsat: '1000000', tweetId: null });
      expect(sent.seq).toBeGreaterThan(settled.seq!);
    } finally {
      own.close();
    }
  });

  it('lets anyone follow a handle and see what it receives, without who sent it', async () => {
    const supporter = await fundedSupporter(tipd.url, 10_000);
    const watcher = await connect(tipd.url);
    try {
      watcher.send({ type: 'follow', handle: '@Events_B' });
      await watcher.next((m) => m.type === 'ready' && (m.topics ?? []).includes('handle:events_b'));
      expect((await tip(tipd.url, supporter.token, 'events_b', 700)).status).toBe(201);
      const tipped = await watcher.next((m) => m.event === 'handle.tipped');
      expect(tipped.data).toEqual({ handle: 'events_b', amountMsat: '700000', pendingMsat: '700000' });
      expect(JSON.stringify(watcher.messages)).not.toContain(supporter.id);
      expect(watcher.messages.some((m) => m.event === 'tip.sent')).toBe(false);
    } finally {
      watcher.close();
    }
  });

  it('accepts the token as a first message, for browsers that cannot set headers', async () => {
    const { id, token } = (await api(tipd.url, 'POST', '/v1/accounts')).body;
    const browser = await connect(tipd.url);
    try {
      browser.send({ type: 'auth', token });
      await browser.next((m) => m.type === 'ready' && (m.topics ?? []).includes(`account:${id}`));
    } finally {
      browser.close();
    }
  });

  it('closes a socket whose token was rotated: a leaked token stops working there too', async () => {
    const { token } = (await api(tipd.url, 'POST', '/v1/accounts')).body;
    const client = await connect(tipd.url, { authorization: `Bearer ${token}` });
    await client.next((m) => m.type === 'ready');
    expect((await api(tipd.url, 'POST', '/v1/account/token', { token })).status).toBe(201);
    expect(await client.closed).toBe(4001);
  });

  it('refuses an upgrade with a wrong token, and answers nonsense with an error, staying open', async () => {
    await expect(connect(tipd.url, { authorization: 'Bearer tipd_wrong' })).rejects.toThrow(/HTTP 401/);
    const client = await connect(tipd.url);
    try {
      client.send('not json');
      expect((await client.next((m) => m.type === 'error')).code).toBe('invalid_message');
      client.send({ type: 'follow', handle: 'no-dashes' });
      expect((await client.next((m) => m.code === 'invalid_handle')).type).toBe('error');
    } finally {
      client.close();
    }
  });

  it('gives a client that comes back what it missed, in order, also across a restart of tipd', async () => {
    const supporter = await fundedSupporter(tipd.url, 10_000);
    expect((await tip(tipd.url, supporter.token, 'events_c', 100)).status).toBe(201);
    const first = await connect(tipd.url, { authorization: `Bearer ${supporter.token}` });
    first.send({ type: 'resume', after: 0 });
    const seen = await first.next((m) => m.event === 'tip.sent');
    first.close();

    expect((await tip(tipd.url, supporter.token, 'events_c', 200)).status).toBe(201);
    expect((await tip(tipd.url, supporter.token, 'events_c', 300)).status).toBe(201);
    await tipd.stop();
    tipd = await startTipd({}, dataDir);

    const back = await connect(tipd.url, { authorization: `Bearer ${supporter.token}` });
    try {
      back.send({ type: 'resume', after: seen.seq });
      await back.next((m) => m.type === 'resumed');
      const missed = back.messages.filter((m) => m.event === 'tip.sent');
      expect(missed.map((m) => m.data?.amountMsat)).toEqual(['200000', '300000']);
      expect(missed[0]!.seq).toBeLessThan(missed[1]!.seq!);
    } finally {
      back.close();
    }
  });
});
