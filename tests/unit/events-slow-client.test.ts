// A websocket client that stops reading is dropped once too much waits for it; the ledger and the
// clients that keep up go on as if it had never been there.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { defaultEventLimits, EventHub } from '../../src/events.ts';
import { Supporters } from '../../src/supporters.ts';
import { tempLedger } from './ledger-helpers.ts';

let t: Awaited<ReturnType<typeof tempLedger>>;
let server: http.Server;
let hub: EventHub;
const logLines: { msg: string }[] = [];

beforeAll(async () => {
  t = await tempLedger();
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logLines.push(JSON.parse(chunk.toString()) as { msg: string });
      done();
    },
  });
  hub = new EventHub(t.ledger, new Supporters(t.ledger), pino({ level: 'warn' }, sink), { ...defaultEventLimits, bufferedBytesMax: 64 * 1024 });
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

/** A client following @slowpoke that counts the events it gets. */
async function follower() {
  const socket = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/v1/events`);
  let events = 0;
  let ready: () => void;
  const following = new Promise<void>((resolve) => (ready = resolve));
  socket.on('message', (data) => {
    const message = JSON.parse(data.toString()) as { type: string; topics?: string[] };
    if (message.type === 'event') events += 1;
    if (message.type === 'ready' && message.topics?.includes('handle:slowpoke')) ready();
  });
  await new Promise((resolve) => socket.once('open', resolve));
  socket.send(JSON.stringify({ type: 'follow', handle: 'slowpoke' }));
  await following;
  return { socket, events: () => events };
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
      await Promise.all(Array.from({ length: 100 }, (_, j) => t.ledger.run((tx) => tx.emit('handle.tipped', ['handle:slowpoke'], { n: i + j, padding }))));
    }
    await expect.poll(() => fast.events(), { timeout: 10_000 }).toBe(eventCount);
    expect(logLines.some((line) => line.msg === 'dropping a websocket client that does not keep up')).toBe(true);
    fast.socket.close();
  });
});
