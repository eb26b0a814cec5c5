// tipd's composition root: read the configuration, connect to LND, serve HTTP, and shut down
// cleanly on SIGINT/SIGTERM. Every module is wired here and nowhere else.
import fs from 'node:fs';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createHttpServer, type HttpLimits } from './api/http-server.ts';
import { metricsListener } from './api/metrics.ts';
import { createApp } from './api/server.ts';
import { WindDown } from './winddown/wind-down.ts';
import { Backups } from './backup/take.ts';
import { LnurlAuth } from './auth/lnurl-auth.ts';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { Claims } from './claims/claims.ts';
import { Deposits } from './deposits/deposits.ts';
import { defaultEventLimits, EventHub } from './events/hub.ts';
import { Flattrs } from './flattrs/flattrs.ts';
import { defaultRefundOptions, Refunds } from './escrow/refunds.ts';
import { RestoredLedger } from './backup/restored.ts';
import { IdempotencyKeys } from './ledger/idempotency.ts';
import { InvariantViolation, Ledger, StoreFormatError } from './ledger/ledger.ts';
import { openStore, StoreLockedError, type Store } from './ledger/store.ts';
import { Lnd, LndError } from './ln/lnd.ts';
import { LightningAddresses } from './lnurl/address.ts';
import { createLogger } from './process/log.ts';
import { Metrics } from './process/metrics.ts';
import { nodeFlags, startedWithNodeFlags } from './process/node-settings.ts';
import { Payouts } from './payouts/payouts.ts';
import { feeCap } from './ledger/money.ts';
import { Supporters } from './supporters/supporters.ts';
import { Tips } from './escrow/tips.ts';
import { WithdrawLinks } from './withdrawals/links.ts';
import { Withdrawals } from './withdrawals/withdrawals.ts';
import { XApi } from './x/client.ts';

let config: Config;
try {
  config = loadConfig(process.env);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`tipd: invalid configuration: ${err.message}\n`);
  process.exit(1);
}

const log = createLogger(config.logLevel);
if (config.publicUrl === undefined && config.network !== 'regtest')
  log.warn(
    'TIPD_PUBLIC_URL is not set: the links tipd prints are built from each request, which a client or a proxy may name wrongly; set it to the https address tipd is reached at',
  );
if (!startedWithNodeFlags())
  log.warn({ nodeFlags }, "started without tipd's Node.js settings (npm start and the Docker image use them): a period close may take about twice the memory");
/** Exits once every log line is out. */
const exit = (code: number) => log.flush(() => process.exit(code));
fs.mkdirSync(config.dataDir, { recursive: true });
let store: Store;
try {
  store = await openStore(path.join(config.dataDir, 'ledger'));
} catch (err) {
  if (!(err instanceof StoreLockedError)) throw err;
  process.stderr.write(`tipd: ${err.message}\n`);
  process.exit(1);
}
let ledger: Ledger;
try {
  ledger = await Ledger.open(store, {
    // The ledger refuses every operation from now on; what is under way is answered, then tipd ends.
    onBroken: (err) => {
      log.fatal({ err }, 'a money invariant is broken: tipd stops');
      void shutdown('a money invariant is broken', { exitCode: 1 });
    },
  });
} catch (err) {
  if (!(err instanceof StoreFormatError)) throw err;
  process.stderr.write(`tipd: ${err.message}\n`);
  process.exit(1);
}
const metrics = new Metrics();
metrics.watchLedger(ledger);
const windDown = await WindDown.open(ledger, log);
const restored = await RestoredLedger.open(ledger, log);
const lnd = new Lnd(config.lnd, metrics.calls('lnd'));
/**
 * What paying a creator needs: the hub, a client of Lightning Addresses (10 s a request: wallets'
 * servers answer in well under a second), and this tipd's own host (its handles' addresses are no
 * creator's destination).
 */
const rails = {
  lnd,
  addresses: new LightningAddresses({ timeoutMs: 10_000, allowLocal: config.network === 'regtest' }),
  network: config.network,
  ownHost: config.publicUrl === undefined ? undefined : new URL(config.publicUrl).host,
};
const supporters = new Supporters(ledger);
const tips = new Tips(ledger, { held: () => restored.paymentsHeld });
const deposits = new Deposits(ledger, lnd, log, {
  expiryMs: config.depositExpiryMs,
  lndTimeoutMs: config.lnd.timeoutMs,
  windingDown: () => windDown.state !== undefined,
});
const withdrawals = new Withdrawals(ledger, lnd, log, {
  network: config.network,
  feeBaseMsat: config.withdrawalFee.baseMsat,
  feePpm: config.withdrawalFee.ppm,
  recheckMs: 30_000,
  paymentsHeld: () => restored.paymentsHeld,
});
const withdrawLinks = new WithdrawLinks(ledger, withdrawals, log, { ttlMs: config.lnurl.withdrawLinkTtlMs });
const flattrs = new Flattrs(ledger, log, { periodMs: config.periodMs });
const payouts = new Payouts(ledger, rails, log, {
  ...config.payouts,
  retryMaxMs: 3600_000,
  recheckMs: 15_000,
  windingDown: () => windDown.state !== undefined,
  paymentsHeld: () => restored.paymentsHeld,
});
restored.onResume(
  () =>
    void payouts
      .resume()
      .catch((err: unknown) => (err instanceof InvariantViolation ? ledger.halt(err) : log.error({ err }, 'taking payouts up again failed'))),
);
const claims = new Claims(ledger, rails, new XApi({ ...config.x, observe: metrics.calls('x') }), log, {
  ...config.claims,
  probeAmountMsat: config.payouts.minMsat,
  probeFeeCapMsat: feeCap(config.payouts.minMsat, { baseMsat: config.payouts.feeBaseMsat, ppm: config.payouts.feePpm }),
});
claims.onBound((handleKey) => payouts.kick(handleKey));
const auth = new LnurlAuth(ledger, supporters, log, { publicUrl: config.publicUrl, expiryMs: 5 * 60_000 });
const app = createApp({
  lnd,
  network: config.network,
  publicUrl: config.publicUrl,
  lnurl: config.lnurl,
  log,
  ledger,
  supporters,
  tips,
  deposits,
  withdrawals,
  withdrawLinks,
  flattrs,
  claims,
  payouts,
  auth,
  windDown,
  restored,
  adminToken: config.adminToken,
  backups: new Backups(store, config.backupDir, log),
  metrics,
  rateLimitPerMinute: config.rateLimitPerMinute,
  claimRateLimitPerMinute: config.claims.ratePerMinute,
  authRateLimitPerMinute: config.auth.ratePerMinute,
});
// Plain HTTP on the HTTP port, unless TLS takes it; TLS on its own port, or on the HTTP port.
// Timeouts are checked every second, so each is honoured within a second; the request head is
// capped at Node's default of 16 KiB (bearer tokens and LNURL query strings are far smaller).
const httpLimits: HttpLimits = { ...config.http, timeoutCheckIntervalMs: 1_000, headerBytesMax: 16 * 1024 };
const { tls } = config;
const tlsOnHttpPort = tls !== undefined && tls.port === undefined;
const listeners: { scheme: string; port: number; host: string; server: ReturnType<typeof createHttpServer>; metricsOnly?: true }[] = [
  ...(tlsOnHttpPort ? [] : [{ scheme: 'http', port: config.http.port, host: config.http.host, server: createHttpServer(app, httpLimits, log) }]),
  ...(tls ? [{ scheme: 'https', port: tls.port ?? config.http.port, host: config.http.host, server: createHttpServer(app, httpLimits, log, tls) }] : []),
];
const events = new EventHub(ledger, supporters, log, { ...defaultEventLimits, ...config.events, upgradesPerMinuteMax: config.rateLimitPerMinute });
events.startPruning();
metrics.watchWebsocketClients(() => events.clientCount);
for (const { server } of listeners) events.attach(server);
// GET /metrics without a token, on an address of its own (a scraper needs a connection or two).
if (config.metrics) {
  const server = createHttpServer(metricsListener(metrics, log), { ...httpLimits, connectionsMax: 100 }, log);
  listeners.push({ scheme: 'http', ...config.metrics, server, metricsOnly: true });
}
for (const { scheme, port, host, server, metricsOnly } of listeners) {
  const name = metricsOnly ? 'metrics' : scheme.toUpperCase();
  server.on('error', (err: NodeJS.ErrnoException) => {
    // Out of file descriptors (EMFILE) while accepting: libuv closes such connections itself, and
    // when it cannot, Node reports it here. tipd serves on.
    if (err.syscall === 'accept') return log.error({ err }, `${name} server cannot accept a connection`);
    log.fatal({ err }, `${name} server failed`);
    exit(1);
  });
  server.on('listening', () => {
    const { address, port: bound } = server.address() as AddressInfo;
    const url = `${scheme}://${address.includes(':') ? `[${address}]` : address}:${bound}`;
    if (metricsOnly) return log.info({ url: `${url}/metrics` }, 'serving metrics');
    log.info({ url, publicUrl: config.publicUrl, network: config.network, lndSocket: config.lnd.socket }, 'listening');
  });
  server.listen(port, host);
}
const refunds = new Refunds(ledger, log, {
  ...defaultRefundOptions,
  returnAfterMs: config.unclaimedReturnMs,
  allDue: () => windDown.state !== undefined,
  held: () => restored.paymentsHeld,
  returnToPayers: (handleKey, lotIds) => payouts.refund(handleKey, lotIds),
});
refunds.start();
/** Unclaimed tips back now, while winding down; a failure is tried again by the hourly sweep (a broken invariant stops tipd). */
const sweepNow = () =>
  void refunds.sweep().catch((err: unknown) => {
    if (err instanceof InvariantViolation) return ledger.halt(err);
    log.error({ err }, 'returning unclaimed tips at the wind-down failed; the hourly sweep tries again');
  });
// Winding down, no new period closes (the flattrs of the open one move no money); a close a stop
// cut short is finished, as it was decided before, and what it gave unclaimed handles goes back.
// A restored ledger held closes nothing until resumed: a close moves supporters' balances.
const startCloses = () => {
  if (!windDown.state) return void flattrs.start();
  void flattrs
    .finishCloses()
    .then(sweepNow, (err: unknown) => (err instanceof InvariantViolation ? ledger.halt(err) : log.error({ err }, 'finishing a period close failed')));
};
if (restored.paymentsHeld) restored.onResume(startCloses);
else startCloses();
// Once begun: invoices still open are cancelled (so no wallet pays them: a failure is tried again
// by the sweep every ten minutes), unclaimed tips go back at once (the hourly sweep takes any that
// a request under way, a close, or an invoice paid just before it was cancelled books later), and
// every claimed handle's escrow is paid out, however small.
windDown.onStart(() => {
  flattrs.stop();
  deposits
    .cancelOpen()
    .catch((err: unknown) =>
      err instanceof InvariantViolation ? ledger.halt(err) : log.error({ err }, 'cancelling open invoices at the wind-down failed; the sweep tries again'),
    );
  sweepNow();
  payouts
    .payAllBound()
    .catch((err: unknown) => (err instanceof InvariantViolation ? ledger.halt(err) : log.error({ err }, 'paying claimed handles at the wind-down failed')));
});
auth.start();
const idempotencyKeys = new IdempotencyKeys(ledger, log, { keepMs: config.idempotencyKeepMs });
idempotencyKeys.start();
withdrawLinks.start();

// At start: a node on the wrong network, or credentials it refuses, end tipd at once with the
// reason; an LND that is down or still syncing is waited for (healthz says 503 meanwhile).
let startupRetry: NodeJS.Timeout | undefined;
async function checkLnd(attempt = 1): Promise<void> {
  try {
    const node = await lnd.checkReady(config.network);
    log.info({ pubkey: node.pubkey, alias: node.alias, blockHeight: node.blockHeight, version: node.version }, 'LND ready');
    if (!stopping) {
      withdrawals.start();
      claims.start();
      await Promise.all([deposits.start(), payouts.start()]);
    }
  } catch (err) {
    if (stopping) return;
    if (!(err instanceof LndError)) throw err;
    if (err.code === 'lnd_wrong_network' || err.code === 'lnd_permission_denied') {
      log.fatal({ code: err.code }, err.message);
      return shutdown('lnd', { exitCode: 1 });
    }
    log.warn({ code: err.code, attempt }, `waiting for LND: ${err.message}`);
    startupRetry = setTimeout(() => void checkLnd(attempt + 1), Math.min(30_000, 1_000 * attempt));
  }
}
void checkLnd();

let stopping = false;
/** The exit code of the stop under way. */
let stopCode = 0;
/**
 * Stops tipd cleanly, exiting with `exitCode` (a failure's is kept, whatever asked to stop first). A
 * second signal exits at once; a failure met while stopping lets the clean stop finish.
 */
async function shutdown(reason: string, { exitCode = 0, signal = false }: { exitCode?: number; signal?: boolean } = {}): Promise<void> {
  stopCode ||= exitCode;
  if (stopping) {
    if (!signal) return;
    log.warn({ reason }, 'second stop request: exiting now');
    return exit(stopCode || 1);
  }
  stopping = true;
  log.info({ reason }, 'shutting down');
  clearTimeout(startupRetry);
  setTimeout(() => {
    log.error({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown took too long: exiting');
    exit(1);
  }, config.shutdownTimeoutMs).unref();
  // Background work first; then the HTTP server stops accepting, lets requests in progress
  // finish and closes idle keep-alive sockets; then the payments they started in the background
  // are booked; then the ledger finishes what is queued.
  flattrs.stop();
  refunds.stop();
  auth.stop();
  idempotencyKeys.stop();
  deposits.stop();
  withdrawals.stop();
  withdrawLinks.stop();
  claims.stop();
  payouts.stop();
  events.close();
  await Promise.all(
    listeners.map(({ server }) => {
      const closed = once(server, 'close');
      server.close();
      server.closeIdleConnections();
      return closed;
    }),
  );
  // LNURL withdrawals paid in the background: those LND was asked for are booked before the
  // ledger closes (a hold not yet sent stays unsent: Withdrawals.stop). LND's answer may take its
  // call's timeout; the shutdown timeout above bounds the wait, and the recheck at the next start
  // books what it cut off.
  await withdrawals.drained();
  await ledger.close();
  await store.close();
  log.info({ ledgerBatches: ledger.stats.batches, ledgerOperations: ledger.stats.operations }, 'stopped');
  exit(stopCode);
}

// A failure nothing awaited is a bug, or a broken money invariant found by background work (a
// record read back that is not what tipd wrote): either way tipd stops, saying why.
process.on('unhandledRejection', (err) => {
  if (err instanceof InvariantViolation) return ledger.halt(err);
  log.fatal({ err }, 'unhandled error: tipd stops');
  exit(1);
});
process.on('SIGINT', () => void shutdown('SIGINT', { signal: true }));
process.on('SIGTERM', () => void shutdown('SIGTERM', { signal: true }));
