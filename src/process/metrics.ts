// tipd's metrics, in Prometheus's text format: one prom-client registry and every metric's
// definition. No module imports this one: each offers a hook (the ledger's events and batches, a
// call observer of Lnd and XApi, the hub's client count) and the composition root wires them here.
import type { RequestHandler } from 'express';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { z } from 'zod';
import type { EventType } from '../events/types.ts';
import { after, keys, prefixes, under } from '../ledger/keys.ts';
import type { BatchFigures, Ledger } from '../ledger/ledger.ts';
import { storedFields } from '../ledger/records.ts';

/** Every type of event, so that each counter starts at 0 (a rate needs a first sample). */
const eventTypes = Object.keys({
  'deposit.settled': true,
  'tip.sent': true,
  'handle.tipped': true,
  allocation: true,
  'handle.allocated': true,
  refund: true,
  'handle.refunded': true,
  'refund.upcoming': true,
  'withdrawal.succeeded': true,
  'withdrawal.failed': true,
  'claim.verified': true,
  'claim.cooling_off': true,
  'claim.cancelled': true,
  'payout.pending': true,
  'payout.succeeded': true,
  'payout.failed': true,
  'payout.attempt_failed': true,
  'auth.linked': true,
  'auth.signed_in': true,
  'auth.unlinked': true,
  'service.winding_down': true,
} satisfies Record<EventType, true>);

/** The route label of a request express matched to no route (a 404, or refused before routing: a 429). */
export const unmatchedRoute = 'unmatched';

/** Pending items of each kind read at one scrape, at most (their count stops there). */
export const pendingScanMax = 10_000;

/** Seconds: from a fast LND or X API answer to a payment's longest wait (twice LND's default timeout). */
const callBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** Seconds: an HTTP answer, or a batch on disk, from well under a millisecond up. */
const fastBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];

/** Ids of the pending items of one kind, from the ledger's index of them (at most `pendingScanMax`). */
const idsUnder = async (ledger: Ledger, prefix: string): Promise<string[]> =>
  (await ledger.db.keys({ ...under(prefix), limit: pendingScanMax }).all()).map((key) => after(prefix, key));

/** The pending gauges' kinds: open deposits, and payouts and withdrawals waiting for LND's outcome. */
const pendingKinds: { kind: string; ids: (ledger: Ledger) => Promise<string[]>; record: (id: string) => string }[] = [
  { kind: 'deposit', ids: (ledger) => idsUnder(ledger, prefixes.openDeposits), record: keys.deposit },
  // One open payout per handle, under the handle: the values are the payouts' ids.
  {
    kind: 'payout',
    ids: async (ledger) => (await ledger.db.values({ ...under(prefixes.openPayouts), limit: pendingScanMax }).all()).map(String),
    record: keys.payout,
  },
  { kind: 'withdrawal', ids: (ledger) => idsUnder(ledger, prefixes.pendingWithdrawals), record: keys.withdrawal },
];

/** Pending items of one kind: how many, and the age of the oldest (0: none). */
interface PendingFigures {
  kind: string;
  count: number;
  oldestSeconds: number;
}

const createdSchema = z.object({ createdAt: storedFields.time });

export class Metrics {
  readonly registry = new Registry();
  readonly #httpRequests: Counter<'route' | 'method' | 'status'>;
  readonly #httpDuration: Histogram<'route' | 'method'>;
  /** Children of the two above by `method route status`: a request finds its own without hashing labels. */
  readonly #httpChildren = new Map<string, { requests: Counter.Internal; duration: Histogram.Internal<string> }>();
  readonly #events: Map<string, Counter.Internal>;
  readonly #batchOperations: Histogram;
  readonly #batchWrite: Histogram<'fsync'>;
  readonly #upstream: Record<'lnd' | 'x', { calls: Counter<'method' | 'outcome'>; duration: Histogram<'method'> }>;
  #ledger: Ledger | undefined;
  #websocketClients: (() => number) | undefined;
  /** The pending items' reading under way, shared by the gauges of one scrape. */
  #pendingReading: Promise<PendingFigures[]> | undefined;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.#httpRequests = new Counter({
      name: 'tipd_http_requests_total',
      help: 'HTTP requests answered, by route pattern, method and status',
      labelNames: ['route', 'method', 'status'],
      registers,
    });
    this.#httpDuration = new Histogram({
      name: 'tipd_http_request_duration_seconds',
      help: 'Time from a request arriving to its answer being sent, by route pattern and method',
      labelNames: ['route', 'method'],
      buckets: fastBuckets,
      registers,
    });
    const events = new Counter({ name: 'tipd_events_total', help: 'Events the ledger committed, by type', labelNames: ['type'], registers });
    for (const type of eventTypes) events.inc({ type }, 0);
    this.#events = new Map(eventTypes.map((type) => [type, events.labels(type)]));
    this.#batchOperations = new Histogram({
      name: 'tipd_ledger_batch_operations',
      help: 'Operations committed in one ledger batch',
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000],
      registers,
    });
    this.#batchWrite = new Histogram({
      name: 'tipd_ledger_batch_write_seconds',
      help: 'Time to write one ledger batch to LevelDB, fsync included when fsync="true"',
      labelNames: ['fsync'],
      buckets: fastBuckets,
      registers,
    });
    const upstream = (api: 'lnd' | 'x', name: string) => ({
      calls: new Counter({
        name: `tipd_${api}_calls_total`,
        help: `Calls to ${name}, by method and outcome (ok, found, a payment's state, or an error code)`,
        labelNames: ['method', 'outcome'],
        registers,
      }),
      duration: new Histogram({
        name: `tipd_${api}_call_duration_seconds`,
        help: `Time a call to ${name} took, by method, whatever its outcome`,
        labelNames: ['method'],
        buckets: callBuckets,
        registers,
      }),
    });
    this.#upstream = { lnd: upstream('lnd', 'LND'), x: upstream('x', 'the X API') };
    const websocketClients: Gauge = new Gauge({
      name: 'tipd_websocket_clients',
      help: 'Websocket clients of /v1/events connected now',
      registers,
      collect: () => websocketClients.set(this.#websocketClients?.() ?? 0),
    });
    // Read at each scrape from the ledger's indexes of what is pending and each record's creation
    // time: once for both gauges (a scrape collects every metric at once).
    const pendingItems: Gauge<'kind'> = new Gauge({
      name: 'tipd_pending_items',
      help: `Deposits open (invoice not paid yet), payouts and withdrawals sent and waiting for LND's outcome, by kind (counted up to ${pendingScanMax})`,
      labelNames: ['kind'],
      registers,
      collect: async () => {
        for (const { kind, count } of await this.#pendingOnce()) pendingItems.set({ kind }, count);
      },
    });
    const pendingAge: Gauge<'kind'> = new Gauge({
      name: 'tipd_pending_oldest_age_seconds',
      help: 'Age of the oldest pending item of each kind (0: none)',
      labelNames: ['kind'],
      registers,
      collect: async () => {
        for (const { kind, oldestSeconds } of await this.#pendingOnce()) pendingAge.set({ kind }, oldestSeconds);
      },
    });
  }

  /** Counts the ledger's events and times its batches. */
  watchLedger(ledger: Ledger): void {
    this.#ledger = ledger;
    ledger.onEvents((events) => {
      for (const event of events) this.#events.get(event.type)?.inc();
    });
    ledger.onBatch((figures: BatchFigures) => {
      this.#batchOperations.observe(figures.operations);
      if (figures.writeSeconds !== undefined) this.#batchWrite.observe({ fsync: String(figures.fsync) }, figures.writeSeconds);
    });
  }

  /** Reads the number of websocket clients at each scrape. */
  watchWebsocketClients(count: () => number): void {
    this.#websocketClients = count;
  }

  /** An observer of calls to LND (Lnd's `observe`) or the X API (XApi's). */
  calls(api: 'lnd' | 'x'): (method: string, outcome: string, seconds: number) => void {
    const { calls, duration } = this.#upstream[api];
    return (method, outcome, seconds) => {
      calls.inc({ method, outcome });
      duration.observe({ method }, seconds);
    };
  }

  /**
   * Counts and times every request by the route express matched (its pattern, never the path: a
   * path names handles and ids without bound), its method and status.
   */
  readonly http: RequestHandler = (req, res, next) => {
    const started = performance.now();
    res.once('finish', () => {
      const seconds = (performance.now() - started) / 1000;
      const route = routeOf(req.baseUrl, (req.route as { path?: unknown } | undefined)?.path);
      const key = `${req.method} ${route} ${res.statusCode}`;
      let child = this.#httpChildren.get(key);
      if (!child) {
        child = {
          requests: this.#httpRequests.labels({ route, method: req.method, status: String(res.statusCode) }),
          duration: this.#httpDuration.labels({ route, method: req.method }),
        };
        this.#httpChildren.set(key, child);
      }
      child.requests.inc();
      child.duration.observe(seconds);
    });
    next();
  };

  /** The exposition, and its content type. */
  async scrape(): Promise<{ contentType: string; text: string }> {
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }

  #pendingOnce(): Promise<PendingFigures[]> {
    this.#pendingReading ??= this.#pending().finally(() => (this.#pendingReading = undefined));
    return this.#pendingReading;
  }

  /** How many of each kind are pending, and how old the oldest is. */
  async #pending(): Promise<PendingFigures[]> {
    const ledger = this.#ledger;
    if (!ledger) return [];
    const now = Date.now();
    return Promise.all(
      pendingKinds.map(async ({ kind, ids, record }) => {
        const found = await ids(ledger);
        // Straight from the store: a scrape does not push what the ledger's cache holds out of it.
        const records = found.length === 0 ? [] : await ledger.db.getMany(found.map(record));
        let oldest = now;
        for (const stored of records) {
          const parsed = createdSchema.safeParse(stored);
          if (parsed.success) oldest = Math.min(oldest, Date.parse(parsed.data.createdAt));
        }
        return { kind, count: found.length, oldestSeconds: (now - oldest) / 1000 };
      }),
    );
  }
}

/** A route's pattern as a label: mounted routers' base, and the pages' list of paths as one. */
function routeOf(baseUrl: string, path: unknown): string {
  if (typeof path === 'string') return baseUrl + path;
  if (Array.isArray(path)) return path.map((p) => baseUrl + String(p)).join('|');
  return unmatchedRoute;
}
