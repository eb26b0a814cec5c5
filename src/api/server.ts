// The HTTP API: an express 5 app with the JSON error format, a body-size limit, request logs,
// GET /healthz, and the v1 routes of each concern. Built from its dependencies, so tests and
// main.ts wire it the same way.
import express, { type Express } from 'express';
import type { LnurlAuth } from '../auth/lnurl-auth.ts';
import type { Network } from '../config.ts';
import type { Claims } from '../claims/claims.ts';
import type { Deposits } from '../deposits/deposits.ts';
import type { Flattrs } from '../flattrs/flattrs.ts';
import type { Ledger } from '../ledger/ledger.ts';
import { LndError, type Lnd } from '../ln/lnd.ts';
import type { Logger } from '../process/log.ts';
import type { Payouts } from '../payouts/payouts.ts';
import { jsonReviver } from '../ledger/money.ts';
import { lnurlCors, lnurlPaths } from './lnurl.ts';
import { jsonBody } from './json.ts';
import { lnurlPayRoutes } from './lnurl-pay.ts';
import { siteOf } from '../lnurl/pay.ts';
import type { Supporters } from '../supporters/supporters.ts';
import type { Tips } from '../escrow/tips.ts';
import type { WithdrawLinks } from '../withdrawals/links.ts';
import type { Withdrawals } from '../withdrawals/withdrawals.ts';
import type { WindDown } from '../winddown/wind-down.ts';
import type { RestoredLedger } from '../backup/restored.ts';
import type { Metrics } from '../process/metrics.ts';
import { adminRoutes } from './admin.ts';
import type { Backups } from '../backup/take.ts';
import { backupRoutes } from './backup.ts';
import { metricsRoutes } from './metrics.ts';
import { authRoutes } from './auth.ts';
import { claimRoutes } from './claims.ts';
import { anyOrigin, handleRoutes, handlesPath } from './handles.ts';
import { payoutRoutes } from './payouts.ts';
import { Refusal } from '../errors.ts';
import { pageRoutes } from '../pages/pages.ts';
import { Api, openApiDocument } from './openapi.ts';
import { rateLimiter } from './rate-limit.ts';
import { depositRoutes } from './deposits.ts';
import { flattrRoutes } from './flattrs.ts';
import { errorHandler, notFound } from './errors.ts';
import { supporterRoutes } from './supporters.ts';
import { tipRoutes } from './tips.ts';
import { lnurlWithdrawRoutes } from './lnurl-withdraw.ts';
import { withdrawalRoutes } from './withdrawals.ts';
import { healthView, openApiView } from './views.ts';
import { loggedPath } from './http.ts';

export interface AppDeps {
  /** The base URL tipd is reached at (TIPD_PUBLIC_URL), for the links it prints. */
  publicUrl?: string | undefined;
  /** LNURL-pay's limits: the most one payment may bring, the longest comment. */
  lnurl: { maxSendableMsat: bigint; commentMax: number; ratePerMinute: number };
  lnd: Pick<Lnd, 'checkReady' | 'getChannelBalanceMsat' | 'paymentsSince' | 'settledInvoicesSince' | 'getPayment'>;
  network: Network;
  log: Logger;
  ledger: Ledger;
  supporters: Supporters;
  tips: Tips;
  deposits: Deposits;
  withdrawals: Withdrawals;
  /** LNURL-withdraw links (their routes answer lnurl_unavailable without a publicUrl). */
  withdrawLinks: WithdrawLinks;
  flattrs: Flattrs;
  claims: Claims;
  payouts: Payouts;
  /** Sign-in with a wallet (LNURL-auth). */
  auth: LnurlAuth;
  /** The operator's wind-down: refuses new money and claims once begun. */
  windDown: WindDown;
  /** A ledger restored from a backup: payments wait for the operator. */
  restored: RestoredLedger;
  adminToken: string | undefined;
  /** The operator's backups of the ledger (POST /v1/admin/backup); none: no such route. */
  backups?: Backups;
  /** Counts requests, and serves GET /metrics (behind the operator token); none: neither. */
  metrics?: Metrics;
  rateLimitPerMinute: number;
  /** Claims and proofs a minute per address; 0: no limit. */
  claimRateLimitPerMinute: number;
  /** Sign-ins with a wallet asked for a minute per address; 0: no limit. */
  authRateLimitPerMinute: number;
  bodyLimitBytes?: number;
  /** Where the built web pages are (src/pages/pages.ts), if not in dist/web. */
  pagesDir?: string;
}

const healthTimeoutMs = 3_000;

/** What /healthz answers when LND is not fit: LND's own reason, as a 503. */
const healthRefusal = (err: unknown): never => {
  throw err instanceof LndError ? new Refusal(err.code, err.message) : err;
};

export function createApp(deps: AppDeps): Express {
  const { lnd, network, log, bodyLimitBytes = 16 * 1024 } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  if (deps.metrics) app.use(deps.metrics.http);

  app.use((req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
      const level = req.path === '/healthz' && res.statusCode === 200 ? 'debug' : 'info';
      log[level]({ method: req.method, path: loggedPath(req.path), status: res.statusCode, durationMs: Math.round(durationMs * 10) / 10 }, 'request');
    });
    next();
  });
  app.use(lnurlPaths, lnurlCors);
  app.use(handlesPath, anyOrigin);
  app.use(
    ['/v1', ...lnurlPaths],
    rateLimiter(deps.rateLimitPerMinute, async (token) => (await deps.supporters.authenticate(token)) !== undefined),
  );
  app.use(jsonBody({ limit: bodyLimitBytes, reviver: jsonReviver }));

  const api = new Api(deps.windDown);
  // 200 only when LND answers, is on the configured network and synced; 503 with the reason otherwise.
  api.route(
    {
      method: 'get',
      path: '/healthz',
      summary: 'Healthy when LND answers, is on the configured network and synced',
      auth: 'none',
      responses: { 200: '{ status, network, lnd }' },
      returns: healthView,
      errors: ['lnd_unavailable', 'lnd_not_synced', 'lnd_wrong_network', 'lnd_permission_denied', 'lnd_invalid_answer', 'lnd_rejected'],
    },
    async (_req, res) => {
      const node = await lnd.checkReady(network, healthTimeoutMs).catch(healthRefusal);
      res.json({ status: 'ok', network, lnd: { pubkey: node.pubkey, alias: node.alias, blockHeight: node.blockHeight, version: node.version } });
    },
  );

  const site = deps.publicUrl === undefined ? undefined : siteOf(deps.publicUrl);
  supporterRoutes(api, deps.supporters, deps.ledger, site);
  authRoutes(api, deps.auth, deps.supporters, deps.authRateLimitPerMinute);
  tipRoutes(api, deps.supporters, deps.tips);
  depositRoutes(api, deps.supporters, deps.deposits);
  withdrawalRoutes(api, deps.supporters, deps.withdrawals);
  lnurlWithdrawRoutes(api, deps.supporters, deps.withdrawLinks, deps.publicUrl);
  flattrRoutes(api, deps.supporters, deps.flattrs);
  handleRoutes(api, deps.tips, deps.claims, site);
  lnurlPayRoutes(api, site, { minSendableMsat: 1_000n, allowLocal: network === 'regtest', ...deps.lnurl }, deps.tips, deps.deposits, deps.supporters);
  claimRoutes(api, deps.claims, deps.claimRateLimitPerMinute, network === 'regtest');
  payoutRoutes(api, deps.payouts);
  adminRoutes(api, deps.adminToken, deps.flattrs, deps.ledger, lnd, deps.windDown, deps.restored);
  if (deps.backups) backupRoutes(api, deps.adminToken, deps.backups);
  if (deps.metrics) metricsRoutes(api, deps.adminToken, deps.metrics);
  api.route(
    { method: 'get', path: '/v1/openapi.json', summary: 'This description', auth: 'none', responses: { 200: 'OpenAPI 3.1' }, returns: openApiView },
    (_req, res) => {
      res.json(document);
    },
  );
  // The websocket is upgraded outside express (events/hub.ts): a GET without the upgrade comes here.
  api.route(
    {
      method: 'get',
      path: '/v1/events',
      summary: 'Websocket of live events (see README)',
      auth: 'none',
      responses: { 101: 'switching to the websocket protocol' },
      errors: ['unauthorized', 'too_many_clients', 'too_many_address_clients', 'rate_limited', 'upgrade_required'],
      websocket: true,
    },
    (_req, res) => {
      res.set('Upgrade', 'websocket');
      throw new Refusal('upgrade_required');
    },
  );
  const document = openApiDocument(api.operations);
  app.use(api.router);
  pageRoutes(app, log, deps.pagesDir, { tips: deps.tips, publicUrl: deps.publicUrl });
  app.use(notFound);
  app.use(errorHandler(log, deps.ledger));
  return app;
}
