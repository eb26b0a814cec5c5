// Nobody takes every slot of the events websocket: a flood of anonymous sockets from one address
// is capped, slots are kept for supporters, an anonymous socket that follows nothing is closed, a
// peer that stops answering pings is cut, and upgrades count in a per-minute budget. Real sockets
// on a local server, all from 127.0.0.1.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { closeCodes, defaultEventLimits, EventHub, type EventLimits } from '../../src/events/hub.ts';
import { Supporters } from '../../src/supporters/supporters.ts';
import { tempLedger } from './ledger-helpers.ts';

let t: Awaited<ReturnType<typeof tempLedger>>;
let supporters: Supporters;
const stops: (() => Promise<void>)[] = [];

beforeAll(async () => {
  t = await tempLedger();
  supporters = new Supporters(t.ledger);
});

afterEach(async () => {
  await Promise.all(stops.splice(0).map((stop) => stop()));
});

afterAll(async () => {
  await t.dispose();
});

/** A hub with `limits` over the defaults, on a local server; its URL. */
async function hubWith(limits: Partial<EventLimits>): Promise<string> {
  const hub = new EventHub(t.ledger, supporters, pino({ level: 'silent' }), { ...defaultEventLimits, ...limits });
  const server = http.createServer();
  hub.attach(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  stops.push(async () => {
    hub.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return `ws://127.0.0.1:${(server.address() as AddressInfo).port}/v1/events`;
}

interface Opened {
  socket: WebSocket;
  /** Every message, in order. */
  messages: { type: string; topics?: string[] }[];
  closed: Promise<{ code: number; reason: string }>;
  send(message: unknown): void;
}

/** Opens a socket (with a supporter's token, if given): open, or refused with the HTTP status and JSON body. */
async function open(
  url: string,
  { token, autoPong = true }: { token?: string; autoPong?: boolean } = {},
): Promise<Opened | { status: number; body: { error: { code: string } } }> {
  const socket = new WebSocket(url, { autoPong, headers: token ? { authorization: `Bearer ${token}` } : {} });
  const messages: Opened['messages'] = [];
  socket.on('message', (data) => messages.push(JSON.parse((data as Buffer).toString('utf8')) as Opened['messages'][number]));
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve({ socket, messages, closed, send: (message) => socket.send(JSON.stringify(message)) }));
    socket.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(body) as { error: { code: string } } }));
    });
    socket.once('error', reject);
  });
}

function opened(result: Awaited<ReturnType<typeof open>>): Opened {
  if (!('socket' in result)) throw new Error(`refused: ${result.status} ${result.body.error.code}`);
  stops.push(async () => {
    result.socket.terminate();
    await result.closed;
  });
  return result;
}

/** The refusals among `results`, by status and code, and how many were let in. */
function tally(results: Awaited<ReturnType<typeof open>>[]) {
  const counts: Record<string, number> = {};
  for (const result of results) {
    const key = 'socket' in result ? 'open' : `${result.status} ${result.body.error.code}`;
    counts[key] = (counts[key] ?? 0) + 1;
    if ('socket' in result) opened(result);
  }
  return counts;
}

describe('a flood of silent anonymous sockets from one address', () => {
  it('takes 20 slots, not every one: a supporter still connects, and the flood’s slots come back when it goes', async () => {
    const url = await hubWith({});
    const flood: Awaited<ReturnType<typeof open>>[] = [];
    for (let i = 0; i < 1_000; i += 100) flood.push(...(await Promise.all(Array.from({ length: 100 }, () => open(url)))));
    expect(tally(flood)).toEqual({ open: 20, '429 too_many_address_clients': 980 });

    const ann = await supporters.create();
    const supporter = opened(await open(url, { token: ann.token }));
    await expect.poll(() => supporter.messages[0]?.topics).toEqual([`account:${ann.id}`]);

    // The flood goes: its slots are free again.
    const floodOpen = flood.filter((result) => 'socket' in result);
    for (const { socket } of floodOpen) socket.close();
    await Promise.all(floodOpen.map(({ closed }) => closed));
    expect(tally(await Promise.all(Array.from({ length: 20 }, () => open(url))))).toEqual({ open: 20 });
  });
});

describe('slots kept for supporters', () => {
  // Per-address caps off: a crowd from many addresses, as all tests' sockets come from 127.0.0.1.
  const crowd = { clientsMax: 10, anonymousClientsMax: 6, clientsPerAddressMax: 0, anonymousClientsPerAddressMax: 0 };

  it('are lent to anonymous sockets only until a supporter needs one, and only to sign in soon', async () => {
    const url = await hubWith({ ...crowd, idleDeadlineMs: 60_000 });
    const followers = [];
    for (let i = 0; i < 10; i++) {
      const follower = opened(await open(url));
      follower.send({ type: 'follow', handle: 'crowd' });
      followers.push(follower);
    }
    // The house is full: one more anonymous socket is refused ...
    expect(await open(url)).toMatchObject({ status: 503, body: { error: { code: 'too_many_clients' } } });
    // ... but a supporter takes the slot of the oldest socket that borrowed a kept one.
    const ann = await supporters.create();
    opened(await open(url, { token: ann.token }));
    expect(await followers[6]!.closed).toEqual({ code: closeCodes.keptForSupporters, reason: 'a supporter needed this slot; sign in to keep one' });
    // The anonymous room's own are never taken.
    const bo = await supporters.create();
    for (let i = 0; i < 3; i++) opened(await open(url, { token: bo.token }));
    expect(await open(url, { token: bo.token })).toMatchObject({ status: 503, body: { error: { code: 'too_many_clients' } } });
    expect(followers.slice(0, 6).map(({ socket }) => socket.readyState)).toEqual(Array(6).fill(WebSocket.OPEN));
  });

  it('are given back by a borrower that does not sign in within the deadline; one that signs in by message keeps its slot', async () => {
    const url = await hubWith({ ...crowd, idleDeadlineMs: 300 });
    const followers = [];
    for (let i = 0; i < 6; i++) {
      const follower = opened(await open(url));
      follower.send({ type: 'follow', handle: 'crowd' });
      followers.push(follower);
    }
    const lurker = opened(await open(url));
    lurker.send({ type: 'follow', handle: 'crowd' });
    const browser = opened(await open(url));
    const cy = await supporters.create();
    browser.send({ type: 'auth', token: cy.token });
    expect(await lurker.closed).toEqual({ code: closeCodes.keptForSupporters, reason: 'sign in within 0.3 s: the slots left are kept for supporters' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect([...followers, browser].map(({ socket }) => socket.readyState)).toEqual(Array(7).fill(WebSocket.OPEN));
  });
});

describe('an anonymous socket that follows nothing', () => {
  it('is closed after the idle deadline, with the reason; one that follows a handle, or a supporter’s, stays', async () => {
    const url = await hubWith({ idleDeadlineMs: 200 });
    const silent = opened(await open(url));
    const follower = opened(await open(url));
    follower.send({ type: 'follow', handle: 'someone' });
    const dee = await supporters.create();
    const supporter = opened(await open(url, { token: dee.token }));
    expect(await silent.closed).toEqual({ code: closeCodes.idle, reason: 'follow a handle or sign in within 0.2 s' });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect([follower, supporter].map(({ socket }) => socket.readyState)).toEqual([WebSocket.OPEN, WebSocket.OPEN]);
  });
});

describe('a peer that stops answering pings', () => {
  it('is cut at the next ping, while one that answers stays', async () => {
    const url = await hubWith({ pingIntervalMs: 100 });
    const gone = opened(await open(url, { autoPong: false }));
    gone.send({ type: 'follow', handle: 'someone' });
    const here = opened(await open(url));
    here.send({ type: 'follow', handle: 'someone' });
    const started = Date.now();
    expect((await gone.closed).code).toBe(1006);
    expect(Date.now() - started).toBeLessThan(1_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(here.socket.readyState).toBe(WebSocket.OPEN);
  });
});

describe('upgrades', () => {
  it('count in a per-minute budget, by address, or by token for a supporter: past it, 429 rate_limited in the API’s error format', async () => {
    const url = await hubWith({ upgradesPerMinuteMax: 5 });
    const attempts = [];
    for (let i = 0; i < 6; i++) attempts.push(await open(url));
    expect(attempts.at(-1)).toEqual({ status: 429, body: { error: { code: 'rate_limited', message: 'more than 5 websocket upgrades a minute; slow down' } } });
    // A made-up token counts as the address's.
    expect(await open(url, { token: 'tipd_made_up' })).toMatchObject({ status: 429 });
    const ed = await supporters.create();
    expect(tally(await Promise.all(Array.from({ length: 6 }, () => open(url, { token: ed.token }))))).toEqual({ open: 5, '429 rate_limited': 1 });
    tally(attempts);
  });

  it('are capped per address, supporters’ too, however many accounts they use', async () => {
    const url = await hubWith({ clientsPerAddressMax: 3 });
    const tokens = await Promise.all(Array.from({ length: 4 }, async () => (await supporters.create()).token));
    const results = [];
    for (const token of tokens) results.push(await open(url, { token }));
    expect(tally(results)).toEqual({ open: 3, '429 too_many_address_clients': 1 });
  });
});
