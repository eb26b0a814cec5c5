// Slow and oversized clients against a real HTTP server built as main.ts builds it
// (createHttpServer), with timeouts of a fraction of a second so that the story runs in seconds:
// a client that sends its request slowly is cut off near its timeout with a 408 in the API's error
// format, one with too large headers gets a 431, and a client that behaves is never touched, nor is
// a websocket once upgraded.
import fs from 'node:fs';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import express from 'express';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { localTls } from '../../regtest/tls.ts';
import { createHttpServer, type HttpLimits } from '../../src/api/http-server.ts';
import { defaultEventLimits, EventHub } from '../../src/events/hub.ts';
import { Supporters } from '../../src/supporters/supporters.ts';
import { tempLedger } from './ledger-helpers.ts';

const limits: HttpLimits = {
  headersTimeoutMs: 500,
  requestTimeoutMs: 1_000,
  keepAliveTimeoutMs: 400,
  connectionsMax: 8,
  timeoutCheckIntervalMs: 100,
  headerBytesMax: 16 * 1024,
};
/** Timers, the event loop and the test's own client: how much later than its limit a cut may come. */
const slackMs = 300;

let t: Awaited<ReturnType<typeof tempLedger>>;
let hub: EventHub;
let log: pino.Logger;
let app: express.Express;
let server: ReturnType<typeof createHttpServer>;
let port: number;
const logLines: { msg: string; code?: string; droppedConnections?: number }[] = [];

beforeAll(async () => {
  t = await tempLedger();
  log = pino(
    { level: 'info' },
    new Writable({
      write(chunk, _encoding, done) {
        logLines.push(JSON.parse(chunk.toString()) as (typeof logLines)[number]);
        done();
      },
    }),
  );
  app = express();
  app.post('/echo', express.json(), (req, res) => void res.json({ echo: req.body as unknown }));
  // Refused before its body is read, as tipd refuses a request without a valid token.
  app.post('/refuse-early', (_req, res) => void res.status(401).json({ error: { code: 'unauthorized' } }));
  // An answer that takes longer than the request timeout: only the request's arrival is timed.
  app.get('/slow-answer', (_req, res) => void sleep(limits.requestTimeoutMs + 300).then(() => res.json({ ok: true })));
  server = createHttpServer(app, limits, log);
  hub = new EventHub(t.ledger, new Supporters(t.ledger), log, defaultEventLimits);
  hub.attach(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  hub.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await t.dispose();
});

/** A raw TCP client: what it received, and when its connection ended, in ms after it connected. */
async function rawClient(to = port) {
  const socket = net.connect(to, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  const connectedAt = performance.now();
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  const closed = new Promise<{ received: string; afterMs: number; error: string | undefined }>((resolve) => {
    let error: string | undefined;
    socket.on('error', (err: NodeJS.ErrnoException) => (error = err.code));
    socket.on('close', () => resolve({ received, afterMs: performance.now() - connectedAt, error }));
  });
  return { socket, closed, received: () => received };
}

/** An HTTP/1.1 answer: status, headers (lower case) and the body as JSON. */
function parseAnswer(text: string) {
  const [head = '', body = ''] = text.split('\r\n\r\n');
  const [statusLine = '', ...headerLines] = head.split('\r\n');
  const headers = Object.fromEntries(headerLines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
  return { status: Number(statusLine.split(' ')[1]), headers, body: JSON.parse(body) as { error: { code: string; message: string } } };
}

describe('a client that sends its headers slowly', () => {
  it('gets 408 request_timeout in the JSON error format once the headers timeout has passed, and its connection is closed', async () => {
    const client = await rawClient();
    client.socket.write('GET /echo HTTP/1.1\r\nHost: tipd\r\n');
    // … and then a header a byte at a time, which does not buy it more time.
    const trickle = setInterval(() => client.socket.writable && client.socket.write('x'), 50);
    const { received, afterMs } = await client.closed;
    clearInterval(trickle);
    const answer = parseAnswer(received);
    expect(answer.status).toBe(408);
    expect(answer.headers).toMatchObject({ 'content-type': 'application/json; charset=utf-8', connection: 'close' });
    expect(answer.body.error.code).toBe('request_timeout');
    expect(afterMs).toBeGreaterThanOrEqual(limits.headersTimeoutMs);
    expect(afterMs).toBeLessThan(limits.headersTimeoutMs + limits.timeoutCheckIntervalMs + slackMs);
  });

  it('gets the same when it connects and sends nothing at all', async () => {
    const client = await rawClient();
    const { received, afterMs } = await client.closed;
    expect(parseAnswer(received).body.error.code).toBe('request_timeout');
    expect(afterMs).toBeLessThan(limits.headersTimeoutMs + limits.timeoutCheckIntervalMs + slackMs);
  });
});

describe('a client that sends its body slowly', () => {
  it('gets 408 request_timeout once the request timeout has passed since its first byte, however steadily it trickles', async () => {
    const client = await rawClient();
    client.socket.write('POST /echo HTTP/1.1\r\nHost: tipd\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"a":"');
    const trickle = setInterval(() => client.socket.writable && client.socket.write('x'), 50);
    const { received, afterMs } = await client.closed;
    clearInterval(trickle);
    const answer = parseAnswer(received);
    expect(answer.status).toBe(408);
    expect(answer.body.error.code).toBe('request_timeout');
    expect(afterMs).toBeGreaterThanOrEqual(limits.requestTimeoutMs);
    expect(afterMs).toBeLessThan(limits.requestTimeoutMs + limits.timeoutCheckIntervalMs + slackMs);
    // Nothing but the one answer: express's own error for the cut body never reaches the client.
    expect(received.match(/HTTP\/1\.1/g)).toHaveLength(1);
  });

  it('that was answered before its body came (say 401) gets that one answer only: its connection is closed at the request timeout without a word more', async () => {
    const client = await rawClient();
    client.socket.write('POST /refuse-early HTTP/1.1\r\nHost: tipd\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"a":"');
    await expect.poll(() => client.received()).toMatch(/^HTTP\/1\.1 401/);
    const { received, afterMs } = await client.closed;
    expect(received.match(/HTTP\/1\.1/g)).toHaveLength(1);
    expect(afterMs).toBeGreaterThanOrEqual(limits.requestTimeoutMs);
    expect(afterMs).toBeLessThan(limits.requestTimeoutMs + limits.timeoutCheckIntervalMs + slackMs);
  });
});

describe('a client whose request line and headers are too large', () => {
  it('gets 431 headers_too_large in the JSON error format at once, and its connection is closed', async () => {
    const client = await rawClient();
    client.socket.write(`GET /echo HTTP/1.1\r\nHost: tipd\r\nX-Padding: ${'x'.repeat(limits.headerBytesMax)}\r\n\r\n`);
    const { received, afterMs } = await client.closed;
    const answer = parseAnswer(received);
    expect(answer.status).toBe(431);
    expect(answer.body.error).toEqual({ code: 'headers_too_large', message: 'the request line and headers must fit in 16384 bytes' });
    expect(afterMs).toBeLessThan(limits.headersTimeoutMs);
  });
});

describe('a client that does not speak HTTP', () => {
  it('gets 400 bad_request in the JSON error format, and its connection is closed', async () => {
    const client = await rawClient();
    client.socket.write('\x16\x03\x01 a TLS hello, say\r\n\r\n');
    const answer = parseAnswer((await client.closed).received);
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('bad_request');
  });
});

describe('a client that behaves', () => {
  it('sends several requests on one keep-alive connection, gets an answer that takes longer than the request timeout, and is closed only once idle past the keep-alive timeout', async () => {
    const client = await rawClient();
    const answers = async (count: number) => expect.poll(() => client.received().match(/HTTP\/1\.1 200/g)?.length ?? 0).toBe(count);
    const body = '{"tip":21}';
    client.socket.write(`POST /echo HTTP/1.1\r\nHost: tipd\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    await answers(1);
    await sleep(limits.keepAliveTimeoutMs / 2);
    client.socket.write('GET /slow-answer HTTP/1.1\r\nHost: tipd\r\n\r\n');
    await expect.poll(() => client.received().match(/HTTP\/1\.1 200/g)?.length ?? 0, { timeout: limits.requestTimeoutMs * 2 }).toBe(2);
    const answeredAt = performance.now();
    expect(client.received()).toContain('{"echo":{"tip":21}}');
    expect(client.received()).toContain('{"ok":true}');
    const { received, error } = await client.closed;
    // Closed once idle (Node adds a second to the keep-alive timeout against a race with the client), without a word more.
    expect(performance.now() - answeredAt).toBeGreaterThanOrEqual(limits.keepAliveTimeoutMs);
    expect(received.match(/HTTP\/1\.1/g)).toHaveLength(2);
    expect(error).toBeUndefined();
  });

  it('keeps a websocket at /v1/events open well past the request timeout', async () => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/v1/events`);
    const messages: { type: string; topics?: string[] }[] = [];
    socket.on('message', (data) => messages.push(JSON.parse((data as Buffer).toString('utf8')) as (typeof messages)[number]));
    await new Promise((resolve) => socket.once('open', resolve));
    await sleep(limits.requestTimeoutMs * 2);
    expect(socket.readyState).toBe(WebSocket.OPEN);
    socket.send(JSON.stringify({ type: 'follow', handle: 'carol' }));
    await expect.poll(() => messages.at(-1)?.topics).toEqual(['handle:carol']);
    socket.close();
  });
});

describe('connections over the cap', () => {
  it('are accepted and closed at once by Node without a word, counted in a warning; websockets count too; once under the cap again, clients are served', async () => {
    const websocket = new WebSocket(`ws://127.0.0.1:${port}/v1/events`);
    await new Promise((resolve) => websocket.once('open', resolve));
    const held = await Promise.all(Array.from({ length: limits.connectionsMax - 1 }, () => rawClient()));
    const over = await rawClient();
    const { received, afterMs, error } = await over.closed;
    expect(received).toBe('');
    expect(afterMs).toBeLessThan(100);
    // What the client sees: the connection ended (or reset) before any answer.
    expect([undefined, 'ECONNRESET']).toContain(error);
    expect(logLines.find((line) => line.msg.startsWith('connection cap reached'))).toMatchObject({ droppedConnections: 1 });

    for (const client of held) client.socket.destroy();
    websocket.close();
    await expect.poll(() => new Promise((resolve) => server.getConnections((_err, count) => resolve(count)))).toBe(0);
    const client = await rawClient();
    client.socket.end('GET /v1/nothing HTTP/1.1\r\nHost: tipd\r\nConnection: close\r\n\r\n');
    expect((await client.closed).received).toMatch(/^HTTP\/1\.1 404/);
  });
});

describe('over TLS', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tipd-slow-tls-'));
  let files: Awaited<ReturnType<typeof localTls>>;
  let tlsServer: ReturnType<typeof createHttpServer>;
  let tlsPort: number;

  beforeAll(async () => {
    files = await localTls(dir);
    tlsServer = createHttpServer(app, limits, log, { cert: fs.readFileSync(files.cert), key: fs.readFileSync(files.key) });
    await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
    tlsPort = (tlsServer.address() as AddressInfo).port;
  });

  afterAll(async () => {
    tlsServer.closeAllConnections();
    await new Promise((resolve) => tlsServer.close(resolve));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a client that connects and never begins the handshake is closed, without a word, once the headers timeout has passed', async () => {
    const { received, afterMs } = await (await rawClient(tlsPort)).closed;
    expect(received).toBe('');
    expect(afterMs).toBeGreaterThanOrEqual(limits.headersTimeoutMs - 10);
    expect(afterMs).toBeLessThan(limits.headersTimeoutMs + slackMs);
  });

  it('a client that sends half its headers after the handshake gets 408 request_timeout in the JSON error format', async () => {
    const socket = tls.connect({ port: tlsPort, host: '127.0.0.1', ca: fs.readFileSync(files.caCert), servername: 'localhost' });
    await new Promise((resolve) => socket.once('secureConnect', resolve));
    const connectedAt = performance.now();
    socket.write('GET /echo HTTP/1.1\r\nHost: tipd\r\n');
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    await new Promise((resolve) => socket.once('close', resolve));
    expect(parseAnswer(received)).toMatchObject({ status: 408, body: { error: { code: 'request_timeout' } } });
    expect(performance.now() - connectedAt).toBeLessThan(limits.headersTimeoutMs + limits.timeoutCheckIntervalMs + slackMs);
  });
});
