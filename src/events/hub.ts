// Live events over a websocket at GET /v1/events. Every event the ledger commits has a sequence
// number and topics: `account:<id>` (a supporter's own deposits, tips, allocations, withdrawals)
// and `handle:<key>` (what a handle received, in aggregate, without supporter ids). An event of a
// supporter's that a handle's followers see too (a tip, a refund) is stored once: its supporter
// sees it whole, the followers its public view (`publicView`). A supporter
// authenticates with the Authorization header on the upgrade or, from a browser, with a first
// message; anyone may follow handles. A client's messages are handled one after another, in order.
// A client that sends the last sequence number it saw gets, after a `resuming` answer, every event
// after it once, in order (from the store, kept for a bounded time, also across a restart of
// tipd), then the live events. A client that does not keep up is dropped: it never slows the ledger.
// Nobody may take every slot (admission.ts): an anonymous socket must follow something or sign in
// soon, every socket answers pings or goes, and upgrades count in a per-minute budget.
import { STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { z } from 'zod';
import { errorBody, errorCodes, type ErrorCode } from '../errors.ts';
import { parseHandle } from '../escrow/handles.ts';
import type { Ledger } from '../ledger/ledger.ts';
import type { Logger } from '../process/log.ts';
import { bearerTokenIn, type Supporters } from '../supporters/supporters.ts';
import { Admission, addressKey, type AdmissionLimits, type Ticket } from './admission.ts';
import { topics as topicOf, type StoredEvent, type TipdEvent } from './types.ts';

export interface EventLimits extends AdmissionLimits {
  followsMax: number;
  messageBytesMax: number;
  /** A client with more than this waiting to be sent is dropped. */
  bufferedBytesMax: number;
  /** Events are kept this long for clients that come back. */
  retentionMs: number;
  /** Every socket is pinged this often; one that has not answered the ping before is dropped. */
  pingIntervalMs: number;
  /**
   * An anonymous socket that follows nothing this long after it opened is closed; one in a slot
   * kept for supporters must have signed in by then.
   */
  idleDeadlineMs: number;
}

export const defaultEventLimits: EventLimits = {
  clientsMax: 1_000,
  anonymousClientsMax: 750,
  clientsPerAddressMax: 100,
  anonymousClientsPerAddressMax: 20,
  upgradesPerMinuteMax: 3_000,
  pingIntervalMs: 30_000,
  idleDeadlineMs: 10_000,
  followsMax: 100,
  messageBytesMax: 4_096,
  bufferedBytesMax: 1 << 20,
  retentionMs: 30 * 24 * 3600 * 1000,
};

const clientMessage = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('auth'), token: z.string().min(1).max(200) }),
  z.strictObject({ type: z.literal('follow'), handle: z.string().max(20) }),
  z.strictObject({ type: z.literal('resume'), after: z.number().int().nonnegative() }),
]);

/** tipd's own close codes (4000–4999), each sent with a reason in words. */
export const closeCodes = {
  /** The token the socket signed in with was rotated. */
  tokenRotated: 4001,
  /** Anonymous, and following nothing, `idleDeadlineMs` after it opened. */
  idle: 4002,
  /** In a slot kept for supporters: not signed in within `idleDeadlineMs`, or a supporter needed the slot. */
  keptForSupporters: 4003,
} as const;

interface Client {
  socket: WebSocket;
  topics: Set<string>;
  /** What the socket counts in (anonymous or not, its address) until it goes. */
  ticket: Ticket;
  /** It answered the last ping (or none was sent yet). */
  answered: boolean;
  deadline: NodeJS.Timeout | undefined;
  /** Highest seq sent since the last resume; nothing at or below it is sent again. */
  lastSent: number;
  /** While the missed events are read from the store, live ones wait here. */
  held: StoredEvent[] | undefined;
  /** The messages received and not yet handled, each handled once the one before is. */
  queue: Promise<void>;
  queued: number;
}

const replayPageSize = 500;
/** A client with more messages than this waiting to be handled (behind a long replay) is refused more. */
const queuedMessagesMax = 16;
/** A client that needs more live events than this to wait through its replay is dropped: it does not keep up. */
const heldEventsMax = 10_000;
/** A socket closed by tipd that does not answer the close within this long is cut. */
const closeGraceMs = 1_000;

/**
 * What followers of a handle see of a supporter's event (one with an `account:` topic) that has
 * the handle's topic too: another type, with only what is public. A supporter's event of any other
 * type is not shown to followers at all.
 */
function publicView(event: TipdEvent): TipdEvent | undefined {
  switch (event.type) {
    case 'tip.sent': {
      const { handle, amountMsat, pendingMsat } = event.data;
      return { type: 'handle.tipped', data: { handle, amountMsat, pendingMsat } };
    }
    case 'refund': {
      const { handle, amountMsat, pendingMsat } = event.data;
      return { type: 'handle.refunded', data: { handle, amountMsat, pendingMsat } };
    }
    default:
      return undefined;
  }
}

/** What `topics` may see of `event`: all of it, its public view, or nothing. */
function viewOf(event: StoredEvent, topics: Set<string>): TipdEvent | undefined {
  // What concerns every client (a wind-down) is everyone's to see.
  if (event.topics.includes(topicOf.service)) return event;
  let seen = false;
  let personal = false;
  for (const topic of event.topics) {
    const account = topic.startsWith('account:');
    if (topics.has(topic)) {
      if (account) return event;
      seen = true;
    }
    personal ||= account;
  }
  if (!seen) return undefined;
  return personal ? publicView(event) : event;
}

export class EventHub {
  readonly #ledger: Ledger;
  readonly #supporters: Supporters;
  readonly #log: Logger;
  readonly #limits: EventLimits;
  readonly #wss: WebSocketServer;
  readonly #clients = new Set<Client>();
  readonly #admission: Admission;
  readonly #unsubscribe: () => void;
  readonly #pinger: NodeJS.Timeout;
  #pruner: NodeJS.Timeout | undefined;

  constructor(ledger: Ledger, supporters: Supporters, log: Logger, limits: EventLimits = defaultEventLimits) {
    this.#ledger = ledger;
    this.#supporters = supporters;
    this.#log = log;
    this.#limits = limits;
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: limits.messageBytesMax });
    this.#admission = new Admission(limits);
    this.#unsubscribe = ledger.onEvents((events) => this.#publish(events));
    // A rotated token may have leaked: sockets that authenticated with it go.
    supporters.onTokenRotated((id) => {
      for (const client of this.#clients) {
        if (client.topics.has(topicOf.supporter(id))) this.#dismiss(client, closeCodes.tokenRotated, 'token rotated');
      }
    });
    this.#pinger = setInterval(() => this.#ping(), limits.pingIntervalMs);
    this.#pinger.unref();
  }

  /** Websocket clients connected now (for metrics). */
  get clientCount(): number {
    return this.#clients.size;
  }

  /** Takes over websocket upgrades of /v1/events on the HTTP server. */
  attach(server: Server): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.#upgrade(req, socket, head).catch((err: unknown) => {
        this.#log.error({ err }, 'websocket upgrade failed');
        socket.destroy();
      });
    });
  }

  async #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    // The API's error format, with the table's status, before any websocket exists.
    const refuse = (code: ErrorCode, message: string) => {
      const { status } = errorCodes[code];
      socket.end(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n${JSON.stringify(errorBody(code, message))}`,
      );
    };
    if (new URL(req.url ?? '/', 'http://tipd').pathname !== '/v1/events') return refuse('not_found', 'Not Found');
    const address = addressKey(req.socket.remoteAddress);
    const authorization = req.headers.authorization;
    const token = authorization === undefined ? undefined : bearerTokenIn(authorization);
    const id = token === undefined ? undefined : await this.#supporters.authenticate(token);
    // As in the HTTP rate limit: a supporter's upgrades count by token, others' (a made-up token's too) by address.
    if (!this.#admission.spend(address, id === undefined ? undefined : token)) {
      return refuse('rate_limited', `more than ${this.#limits.upgradesPerMinuteMax} websocket upgrades a minute; slow down`);
    }
    if (authorization !== undefined && !id) return refuse('unauthorized', 'Unauthorized');
    const admitted = this.#admission.admit(address, id === undefined);
    if ('refused' in admitted) return refuse(admitted.refused, admitted.message);
    if (admitted.evicted) this.#evict(admitted.evicted);
    const topics = new Set<string>(id === undefined ? [] : [topicOf.supporter(id)]);
    let connected = false;
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      connected = true;
      this.#connect(ws, topics, admitted.ticket);
    });
    // ws answered the handshake itself (a bad header) or the socket is gone: the slot is free again.
    if (!connected) this.#admission.release(admitted.ticket);
  }

  #connect(socket: WebSocket, topics: Set<string>, ticket: Ticket): void {
    const client: Client = { socket, topics, ticket, answered: true, deadline: undefined, lastSent: 0, held: undefined, queue: Promise.resolve(), queued: 0 };
    this.#clients.add(client);
    if (ticket.anonymous) client.deadline = setTimeout(() => this.#checkDeadline(client), this.#limits.idleDeadlineMs);
    socket.on('close', () => this.#forget(client));
    socket.on('error', () => this.#forget(client));
    socket.on('pong', () => (client.answered = true));
    socket.on('message', (data, isBinary) => {
      // In order: a resume sent right after an auth or a follow replays with what they added.
      if (client.queued >= queuedMessagesMax) return this.#refuse(client, 'too_many_messages', `at most ${queuedMessagesMax} messages waiting`);
      client.queued += 1;
      // A Buffer: ws's default binaryType, with fragments joined.
      const text = (data as Buffer).toString('utf8');
      client.queue = client.queue
        .then(() => this.#onMessage(client, text, isBinary))
        .catch((err: unknown) => {
          this.#log.error({ err }, 'websocket message failed');
          this.#refuse(client, 'internal', 'could not handle that message; try again');
        })
        .finally(() => (client.queued -= 1));
    });
    this.#send(client, { type: 'ready', topics: [...topics] });
  }

  async #onMessage(client: Client, text: string, isBinary: boolean): Promise<void> {
    let message: z.infer<typeof clientMessage>;
    try {
      if (isBinary) throw new Error('binary');
      message = clientMessage.parse(JSON.parse(text));
    } catch {
      return this.#refuse(client, 'invalid_message', errorCodes.invalid_message.message);
    }
    switch (message.type) {
      case 'auth': {
        const id = await this.#supporters.authenticate(message.token);
        if (!id) return this.#refuse(client, 'unauthorized', 'unknown token');
        client.topics.add(topicOf.supporter(id));
        this.#admission.signedIn(client.ticket);
        return this.#send(client, { type: 'ready', topics: [...client.topics] });
      }
      case 'follow': {
        const handle = parseHandle(message.handle);
        if (!handle) return this.#refuse(client, 'invalid_handle', 'not an X handle');
        if (client.topics.size >= this.#limits.followsMax) return this.#refuse(client, 'too_many_follows', `at most ${this.#limits.followsMax} topics`);
        client.topics.add(topicOf.handle(handle.key));
        return this.#send(client, { type: 'ready', topics: [...client.topics] });
      }
      case 'resume':
        return this.#replay(client, message.after);
    }
  }

  /**
   * Answers `resuming`, then sends the stored events after `after` that the client may see, then
   * what came live meanwhile. From `resuming` on, the client gets each event after `after` once, in
   * order: live events sent before it (between a follow and this resume) come again, in their place.
   */
  async #replay(client: Client, after: number): Promise<void> {
    client.held = [];
    client.lastSent = after;
    this.#send(client, { type: 'resuming', after });
    try {
      let cursor = after;
      for (;;) {
        const page = await this.#ledger.eventsAfter(cursor, replayPageSize);
        for (const event of page) this.#deliver(client, event, true);
        if (page.length < replayPageSize || client.socket.readyState !== WebSocket.OPEN) break;
        cursor = page.at(-1)!.seq;
      }
    } finally {
      // Whatever happened, live events flow again.
      const held = client.held;
      client.held = undefined;
      for (const event of held) this.#deliver(client, event, true);
    }
    this.#send(client, { type: 'resumed', lastSeq: client.lastSent });
  }

  #publish(events: StoredEvent[]): void {
    for (const client of this.#clients) {
      for (const event of events) this.#deliver(client, event, false);
    }
  }

  #deliver(client: Client, event: StoredEvent, replaying: boolean): void {
    const view = viewOf(event, client.topics);
    if (!view) return;
    if (client.held && !replaying) {
      if (client.held.length >= heldEventsMax) return this.#drop(client);
      client.held.push(event);
      return;
    }
    if (event.seq <= client.lastSent) return;
    client.lastSent = event.seq;
    this.#send(client, { type: 'event', seq: event.seq, event: view.type, at: event.at, data: view.data });
  }

  /** Answers a message with an error of the table (errors.ts), as `{ type: 'error', code, message }`. */
  #refuse(client: Client, code: ErrorCode, message: string): void {
    this.#send(client, { type: 'error', code, message });
  }

  #send(client: Client, message: Record<string, unknown>): void {
    const { socket } = client;
    if (socket.readyState !== WebSocket.OPEN) return;
    if (socket.bufferedAmount > this.#limits.bufferedBytesMax) return this.#drop(client);
    socket.send(JSON.stringify(message));
  }

  /** Drops a client that does not keep up: too much waits to be sent to it, or held for it. */
  #drop(client: Client): void {
    if (!this.#forget(client)) return;
    const { socket } = client;
    this.#log.warn({ bufferedBytes: socket.bufferedAmount, heldEvents: client.held?.length }, 'dropping a websocket client that does not keep up');
    socket.terminate();
  }

  /** Closes a client's socket with one of `closeCodes`; its slot is free at once, and the socket cut if it does not answer soon. */
  #dismiss(client: Client, code: number, reason: string): void {
    if (!this.#forget(client)) return;
    client.socket.close(code, reason);
    setTimeout(() => client.socket.terminate(), closeGraceMs).unref();
  }

  /** The client is gone, or going: it counts no more. False if it was already forgotten. */
  #forget(client: Client): boolean {
    if (!this.#clients.delete(client)) return false;
    clearTimeout(client.deadline);
    this.#admission.release(client.ticket);
    return true;
  }

  /** An anonymous socket must be following something by now; one in a slot kept for supporters, signed in. */
  #checkDeadline(client: Client): void {
    const seconds = this.#limits.idleDeadlineMs / 1000;
    if (client.ticket.borrowed && client.ticket.anonymous) {
      return this.#dismiss(client, closeCodes.keptForSupporters, `sign in within ${seconds} s: the slots left are kept for supporters`);
    }
    if (client.topics.size === 0) this.#dismiss(client, closeCodes.idle, `follow a handle or sign in within ${seconds} s`);
  }

  /** A supporter needed the slot of this anonymous socket. */
  #evict(ticket: Ticket): void {
    for (const client of this.#clients) {
      if (client.ticket === ticket) return this.#dismiss(client, closeCodes.keptForSupporters, 'a supporter needed this slot; sign in to keep one');
    }
  }

  /** Pings every socket; one that did not answer the ping before is cut (a peer gone without a word). */
  #ping(): void {
    for (const client of this.#clients) {
      if (!client.answered) {
        this.#forget(client);
        client.socket.terminate();
        continue;
      }
      client.answered = false;
      client.socket.ping();
    }
  }

  /** Deletes events older than the retention time, now and every hour. */
  startPruning(): void {
    // Oldest first, 1,000 keys (each a run of events of one batch) at a time, until one young enough to keep.
    const prune = async () => {
      const before = Date.now() - this.#limits.retentionMs;
      let prunedKeys = 0;
      for (;;) {
        const old = await this.#ledger.eventKeysBefore(new Date(before), 1_000);
        if (old.length === 0) break;
        await this.#ledger.run((tx) => old.forEach((key) => tx.del(key)));
        prunedKeys += old.length;
        if (old.length < 1_000) break;
      }
      if (prunedKeys > 0) this.#log.info({ prunedKeys }, 'old events pruned');
    };
    const tick = () => void prune().catch((err: unknown) => this.#log.warn({ err }, 'pruning events failed'));
    tick();
    this.#pruner = setInterval(tick, 3600_000);
    this.#pruner.unref();
  }

  close(): void {
    clearInterval(this.#pruner);
    clearInterval(this.#pinger);
    this.#unsubscribe();
    for (const client of this.#clients) {
      this.#forget(client);
      client.socket.close(1001, 'tipd is stopping');
    }
    this.#wss.close();
  }
}
