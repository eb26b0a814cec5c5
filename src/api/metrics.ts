// GET /metrics: tipd's metrics in Prometheus's text format (process/metrics.ts), for the operator.
// On the API's port it needs the operator token, as the admin API does; on TIPD_METRICS_PORT, a
// listener of its own that serves nothing else, it needs none (bind that to a private address).
import type { RequestListener } from 'node:http';
import { errorBody, errorCodes } from '../errors.ts';
import type { Logger } from '../process/log.ts';
import type { Metrics } from '../process/metrics.ts';
import { requireAdmin } from './admin.ts';
import { z } from 'zod';
import type { Api } from './openapi.ts';

export const metricsPath = '/metrics';

export function metricsRoutes(api: Api, adminToken: string | undefined, metrics: Metrics): void {
  api.route(
    {
      method: 'get',
      path: metricsPath,
      summary: 'Metrics in Prometheus text format (also without a token on TIPD_METRICS_PORT, when set)',
      auth: 'admin',
      responses: { 200: 'the Prometheus text exposition format, not JSON' },
      returns: z.string(),
      mediaType: 'text/plain; version=0.0.4',
    },
    requireAdmin(adminToken),
    async (_req, res) => {
      const { contentType, text } = await metrics.scrape();
      res.type(contentType).send(text);
    },
  );
}

/** The listener of TIPD_METRICS_PORT: GET /metrics without a token; anything else is not found. */
export function metricsListener(metrics: Metrics, log: Logger): RequestListener {
  return (req, res) => {
    const path = new URL(req.url ?? '/', 'http://tipd').pathname;
    if (path !== metricsPath || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(errorCodes.not_found.status, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(errorBody('not_found', `only GET ${metricsPath} is served here`)));
      return;
    }
    metrics.scrape().then(
      ({ contentType, text }) => {
        res.writeHead(200, { 'content-type': contentType });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (err: unknown) => {
        res.writeHead(errorCodes.internal.status, { 'content-type': 'application/json; charset=utf-8' });
        res.end(JSON.stringify(errorBody('internal', 'internal error')));
        log.error({ err, path }, 'unhandled error');
      },
    );
  };
}
