// The events websocket on a real (temporary) ledger: who sees what of an event; a client that comes
// back gets every event it missed once, in order, whatever streams in meanwhile; and a client that
// stops reading is dropped once too much waits for it, while the ledger and the clients that keep
// up go on as if it had never been there.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { defaultEventLimits, EventHub } from '../../src/events/hub.ts';
import type { EventData, EventType } from '../../src/events/types.ts';
import { Supporters } from '../../src/supporters/supporters.ts';
import { tempLedger } from './ledger-helpers.ts';

let t: Awaited<ReturnType<typeof tempLedger>>;
let server: http.Server;
let hub: EventHub;
let supporters: Supporters;
const logLines: { msg: string }[] = [];

beforeAll(async () => {
  t = await tempLedger();
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logLines.push(JSON.parse(chunk.toString()) as { msg: string });
      done();
    },
  });
  supporters = new Supporters(t.ledger);
  hub = new EventHub(t.ledger, supporters, pino({ level: 'warn' }, sink), { ...defaultEventLimits, bufferedBytesMax: 64 * 1024 });
  server = http.createServer();
  hub.attach(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});

afterAll(async () => {
  hub.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await t.dispose();
});

/** A websocket client that keeps the events it gets, signed in with `token` if given. */
async function client(token?: string) {
  const socket = new WebSocket(
    `ws://127.0.0.1:${(server.address() as AddressInfo).port}/v1/events`,
    token ? { headers: { authorization: `Bearer ${token}` } } : {},
  );
  const events: { seq: number; event: string; data: Record<string, unknown> }[] = [];
  /** Every message, in the order it came. */
  const messages: Message[] = [];
  let onReady: ((topics: string[]) => void) | undefined;
  socket.on('message', (data) => {
    const message = JSON.parse((data as Buffer).toString('utf8')) as Message;
    messages.push(message);
    if (message.type === 'event') events.push({ seq: message.seq, event: message.event, data: message.data });
    if (message.type === 'ready') onReady?.(message.topics);
  });
  await new Promise((resolve) => socket.once('open', resolve));
  /** Follows `handle` (lower case), once tipd says so. */
  const follow = async (handle: string) => {
    const followed = new Promise<void>((resolve) => (onReady = (topics) => topics.includes(`handle:${handle}`) && resolve()));
    socket.send(JSON.stringify({ type: 'follow', handle }));
    await followed;
  };
  return { socket, events, messages, follow };
}

interface Message {
  type: string;
  topics: string[];
  seq: number;
  event: string;
  data: Record<string, unknown>;
  after: number;
}

describe('an event of a supporter that a handle’s followers see too', () => {
  it('is shown whole to its supporter and as its public view to the followers; one without a public view is not shown to them', async () => {
    const ann = await supporters.create();
    const own = await client(ann.token);
    await own.follow('shared');
    const follower = await client();
    await follower.follow('shared');
    const tipData = { id: '0000000000000007', handle: 'Shared', amountMsat: '1000', tweetId: '20', createdAt: '2026-01-01T00:00:00.000Z', pendingMsat: '5000' };
    await t.ledger.run((tx) => {
      tx.emit('tip.sent', [`account:${ann.id}`, 'handle:shared'], tipData);
      tx.emit('refund', [`account:${ann.id}`, 'handle:shared'], {
        handle: 'shared',
        amountMsat: '300',
        tippedAt: '2026-01-01T00:00:00.000Z',
        pendingMsat: '4700',
      });
      // A supporter's event of a type with no public view: never shown to the followers.
      tx.emit('budget.spent' as EventType, [`account:${ann.id}`, 'handle:shared'], { secret: ann.id } as never);
      tx.emit('handle.allocated', ['handle:shared'], { handle: 'Shared', amountMsat: '9' } as EventData['handle.allocated']);
    });
    await expect.poll(() => follower.events.length).toBe(3);
    await expect.poll(() => own.events.length).toBe(4);
    expect(follower.events.map(({ event, data }) => [event, data])).toEqual([
      ['handle.tipped', { handle: 'Shared', amountMsat: '1000', pendingMsat: '5000' }],
      ['handle.refunded', { handle: 'shared', amountMsat: '300', pendingMsat: '4700' }],
      ['handle.allocated', { handle: 'Shared', amountMsat: '9' }],
    ]);
    // The supporter, following the handle too, gets each event once, whole.
    expect(own.events.map(({ event }) => event)).toEqual(['tip.sent', 'refund', 'budget.spent', 'handle.allocated']);
    expect(own.events[0]!.data).toEqual(tipData);
    // One sequence number per event, whoever sees it.
    const first = own.events[0]!.seq;
    expect(own.events.map(({ seq }) => seq)).toEqual([first, first + 1, first + 2, first + 3]);
    expect(follower.events.map(({ seq }) => seq)).toEqual([first, first + 1, first + 3]);
    own.socket.close();
    follower.socket.close();
  });
});

describe('a client that comes back with resume', () => {
  /** Emits `handle.tipped` to @stream, numbered from 0, one batch after another, until stopped. */
  function stream() {
    let running = true;
    let n = 0;
    const done = (async () => {
      while (running) {
        const k = n++;
        await t.ledger.run((tx) => tx.emit('handle.tipped', ['handle:stream'], { n: k } as never));
      }
    })();
    return {
      get emitted() {
        return n;
      },
      stop: async () => {
        running = false;
        await done;
      },
    };
  }

  /**
   * A client that follows @stream and resumes after `after`, with `betweenFollowAndResume` in
   * between; every message it got, up to a few live events after its replay.
   */
  async function comeBack(events: { emitted: number }, after: number, betweenFollowAndResume: (back: Awaited<ReturnType<typeof client>>) => Promise<void>) {
    const back = await client();
    back.socket.send(JSON.stringify({ type: 'follow', handle: 'stream' }));
    await betweenFollowAndResume(back);
    back.socket.send(JSON.stringify({ type: 'resume', after }));
    await expect.poll(() => back.messages.some((m) => m.type === 'resumed'), { timeout: 10_000 }).toBe(true);
    const upTo = events.emitted + 5;
    await expect.poll(() => back.events.at(-1)?.data.n ?? -1, { timeout: 10_000 }).toBeGreaterThanOrEqual(upTo);
    back.socket.close();
    return back.messages;
  }

  /** From the `resuming` answer on: each event after `k` once, in order, none missing. */
  function expectExact(messages: Message[], k: number) {
    const numbers = (list: Message[]) => list.filter((m) => m.type === 'event').map((m) => m.data.n as number);
    // Nothing after `k` is missing from what came after the resume was sent.
    const got = new Set(numbers(messages));
    const last = Math.max(...got);
    expect(Array.from({ length: last - k }, (_, i) => k + 1 + i).filter((n) => !got.has(n))).toEqual([]);
    // From the `resuming` answer on, each once and in order.
    const from = messages.findIndex((m) => m.type === 'resuming');
    expect(from).toBeGreaterThanOrEqual(0);
    expect(numbers(messages.slice(from))).toEqual(Array.from({ length: last - k }, (_, i) => k + 1 + i));
    expect(messages.findIndex((m) => m.type === 'resumed')).toBeGreaterThan(from);
  }

  it('gets every event after its sequence once, in order, though a live one came between its follow and its resume', async () => {
    const watcher = await client();
    await watcher.follow('stream');
    const events = stream();
    try {
      await expect.poll(() => watcher.events.length).toBeGreaterThanOrEqual(50);
      const { seq: after, data } = watcher.events[20]!;
      const k = data.n as number;
      // A live event reaches the client before its resume: it is sent again in its place.
      const messages = await comeBack(events, after, async (back) => {
        await expect.poll(() => back.events.length).toBeGreaterThan(0);
      });
      expectExact(messages, k);
    } finally {
      await events.stop();
      watcher.socket.close();
    }
  });

  it('gets every event after its sequence once, in order, when it sends follow and resume back to back under a stream of events', async () => {
    const watcher = await client();
    await watcher.follow('stream');
    const events = stream();
    try {
      for (let round = 0; round < 30; round++) {
        await expect.poll(() => watcher.events.length).toBeGreaterThanOrEqual(10 * (round + 1));
        const { seq: after, data } = watcher.events.at(-5)!;
        // Sent in one go, a tick apart, or a millisecond apart: a live event may come between them.
        const gap = [async () => {}, () => new Promise((resolve) => setImmediate(resolve)), () => new Promise((resolve) => setTimeout(resolve, 1))][round % 3]!;
        const messages = await comeBack(events, after, async () => void (await gap()));
        expectExact(messages, data.n as number);
      }
    } finally {
      await events.stop();
      watcher.socket.close();
    }
  });
});

describe('a browser that signs in by its first message and resumes right after', () => {
  it('gets its own events it missed: the resume waits for the sign-in', async () => {
    const bo = await supporters.create();
    const before = (await t.ledger.eventsAfter(0, 1_000_000)).at(-1)?.seq ?? 0;
    await t.ledger.run((tx) => tx.emit('allocation', [`account:${bo.id}`], { periodId: 1, allocatedMsat: '5', things: 1 }));
    const browser = await client();
    browser.socket.send(JSON.stringify({ type: 'auth', token: bo.token }));
    browser.socket.send(JSON.stringify({ type: 'resume', after: before }));
    await expect.poll(() => browser.messages.some((m) => m.type === 'resumed')).toBe(true);
    expect(browser.events.map(({ event }) => event)).toEqual(['allocation']);
    browser.socket.close();
  });
});

/** A client following @slowpoke. */
async function follower() {
  const following = await client();
  await following.follow('slowpoke');
  return following;
}

describe('a websocket client that stops reading', () => {
  it('is dropped once more than 64 KiB wait for it, while the others get every event and the ledger goes on', async () => {
    const slow = await follower();
    const fast = await follower();
    // The slow client's process stops reading its socket: the kernel buffers fill, then tipd's.
    (slow.socket as unknown as { _socket: { pause(): void } })._socket.pause();
    const eventCount = 3_000;
    const padding = 'x'.repeat(10_000);
    for (let i = 0; i < eventCount; i += 100) {
      await Promise.all(
        Array.from({ length: 100 }, (_, j) => t.ledger.run((tx) => tx.emit('handle.tipped', ['handle:slowpoke'], { n: i + j, padding } as never))),
      );
    }
    await expect.poll(() => fast.events.length, { timeout: 10_000 }).toBe(eventCount);
    expect(logLines.some((line) => line.msg === 'dropping a websocket client that does not keep up')).toBe(true);
    fast.socket.close();
  });
});
