// What the operator's Prometheus sees of a real tipd on the regtest stack: after a deposit paid
// through Lightning and a tip, GET /metrics (with the operator token, or on TIPD_METRICS_PORT
// without one) counts the requests by route, the tip and the deposit, and the calls to LND.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, fundedSupporter, stack, startTipd, type TipdProcess } from './helpers.ts';
import { parseExposition, valueOf } from '../unit/prometheus-text.ts';

const handle = 'metrics_carol';

describe('metrics of a tipd', () => {
  let tipd: TipdProcess;
  let metricsUrl: string;
  let deposit: { token: string; depositId: string };
  const operator = () => ({ authorization: `Bearer ${stack().tipd.adminToken}` });

  beforeAll(async () => {
    tipd = await startTipd({ TIPD_METRICS_PORT: '0' });
    metricsUrl = await eventually(async () => tipd.logs.find((line) => line.msg === 'serving metrics')?.url as string | undefined);
    deposit = await fundedSupporter(tipd.url, 5_000);
    const tip = await fetch(`${tipd.url}/v1/tips`, {
      method: 'POST',
      headers: { authorization: `Bearer ${deposit.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ handle, amountSat: 100 }),
    });
    expect(tip.status).toBe(201);
  });
  afterAll(async () => {
    await tipd.stop();
  });

  it('when the operator scrapes /metrics after a deposit and a tip, then the requests, the tip, the deposit and the LND calls are counted', async () => {
    const res = await fetch(`${tipd.url}/metrics`, { headers: operator() });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const samples = parseExposition(await res.text());
    expect(valueOf(samples, 'tipd_http_requests_total', { route: '/v1/tips', method: 'POST', status: '201' })).toBe(1);
    expect(valueOf(samples, 'tipd_http_requests_total', { route: '/v1/deposits', method: 'POST', status: '201' })).toBe(1);
    // fundedSupporter polls the deposit until it is settled: by the pattern, never by its id.
    expect(valueOf(samples, 'tipd_http_requests_total', { route: '/v1/deposits/:id', method: 'GET', status: '200' })).toBeGreaterThanOrEqual(1);
    expect(samples.some((s) => Object.values(s.labels).some((text) => text.includes(deposit.depositId) || text.includes(handle)))).toBe(false);
    expect(valueOf(samples, 'tipd_events_total', { type: 'tip.sent' })).toBe(1);
    expect(valueOf(samples, 'tipd_events_total', { type: 'deposit.settled' })).toBe(1);
    expect(valueOf(samples, 'tipd_pending_items', { kind: 'deposit' })).toBe(0);
    expect(valueOf(samples, 'tipd_lnd_calls_total', { method: 'createInvoice', outcome: 'ok' })).toBe(1);
    expect(valueOf(samples, 'tipd_lnd_calls_total', { method: 'getinfo', outcome: 'ok' })).toBeGreaterThanOrEqual(1);
    expect(valueOf(samples, 'tipd_lnd_call_duration_seconds_count', { method: 'createInvoice' })).toBe(1);
    expect(valueOf(samples, 'tipd_ledger_batch_write_seconds_count', { fsync: 'true' })).toBeGreaterThanOrEqual(3);
    expect(valueOf(samples, 'process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it('without the operator token, or with another, /metrics on the API port is refused', async () => {
    const without = await fetch(`${tipd.url}/metrics`);
    expect(without.status).toBe(401);
    expect(((await without.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
    expect((await fetch(`${tipd.url}/metrics`, { headers: { authorization: `Bearer ${'x'.repeat(64)}` } })).status).toBe(401);
  });

  it('on TIPD_METRICS_PORT, /metrics needs no token, and nothing else is served', async () => {
    const res = await fetch(metricsUrl);
    expect(res.status).toBe(200);
    const samples = parseExposition(await res.text());
    expect(valueOf(samples, 'tipd_events_total', { type: 'tip.sent' })).toBe(1);
    expect((await fetch(new URL('/v1/tips', metricsUrl))).status).toBe(404);
  });

  it('a tipd without an operator token nor a metrics port answers /metrics with admin_disabled', async () => {
    const bare = await startTipd({ TIPD_ADMIN_TOKEN: '' });
    try {
      const res = await fetch(`${bare.url}/metrics`);
      expect(res.status).toBe(403);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('admin_disabled');
    } finally {
      await bare.stop();
    }
  });
});
