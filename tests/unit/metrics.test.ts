// The metrics a scrape shows after real work: tips booked on a real (temporary) LevelDB, a deposit
// left open, requests through express, calls to LND and the X API; each scrape read as a
// Prometheus scraper would.
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseHandle } from '../../src/escrow/handles.ts';
import { Tips } from '../../src/escrow/tips.ts';
import { keys } from '../../src/ledger/keys.ts';
import { accounts } from '../../src/ledger/ledger.ts';
import { Metrics, unmatchedRoute } from '../../src/process/metrics.ts';
import { tempLedger } from './ledger-helpers.ts';
import { parseExposition, valueOf } from './prometheus-text.ts';

const scrape = async (metrics: Metrics) => parseExposition((await metrics.scrape()).text);

describe('metrics', () => {
  let t: Awaited<ReturnType<typeof tempLedger>>;
  let metrics: Metrics;
  beforeEach(async () => {
    t = await tempLedger();
    metrics = new Metrics();
    metrics.watchLedger(t.ledger);
  });
  afterEach(async () => {
    await t.dispose();
  });

  it('start with every event counter at 0, the process metrics beside them', async () => {
    const samples = await scrape(metrics);
    expect(valueOf(samples, 'tipd_events_total', { type: 'tip.sent' })).toBe(0);
    expect(valueOf(samples, 'tipd_events_total', { type: 'withdrawal.failed' })).toBe(0);
    expect(valueOf(samples, 'process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(valueOf(samples, 'tipd_pending_items', { kind: 'deposit' })).toBe(0);
    expect(valueOf(samples, 'tipd_pending_oldest_age_seconds', { kind: 'payout' })).toBe(0);
  });

  it('when ann tips twice, then two tips are counted and the batches that booked them, fsynced', async () => {
    await t.ledger.run((tx) => tx.transfer('deposit', accounts.deposits, accounts.supporter('ann'), 10_000n));
    const tips = new Tips(t.ledger);
    for (const amountMsat of [1_000n, 2_000n]) await tips.tip({ supporterId: 'ann', handle: parseHandle('carol')!, amountMsat, tweetId: null });
    const samples = await scrape(metrics);
    expect(valueOf(samples, 'tipd_events_total', { type: 'tip.sent' })).toBe(2);
    expect(valueOf(samples, 'tipd_ledger_batch_operations_count')).toBe(3);
    expect(valueOf(samples, 'tipd_ledger_batch_operations_sum')).toBe(3);
    expect(valueOf(samples, 'tipd_ledger_batch_write_seconds_count', { fsync: 'true' })).toBe(2);
    expect(valueOf(samples, 'tipd_ledger_batch_write_seconds_count', { fsync: 'false' })).toBe(1);
    expect(valueOf(samples, 'tipd_ledger_batch_write_seconds_sum', { fsync: 'true' })).toBeGreaterThan(0);
  });

  it('when a deposit has been open an hour and a payout is sent, then both are pending with the age of the oldest', async () => {
    const hourAgo = new Date(Date.now() - 3600_000).toISOString();
    await t.ledger.run((tx) => {
      tx.put(keys.deposit('d1'), { id: 'd1', createdAt: hourAgo });
      tx.put(keys.openDeposit('d1'), 0);
      tx.put(keys.deposit('d2'), { id: 'd2', createdAt: new Date().toISOString() });
      tx.put(keys.openDeposit('d2'), 0);
      tx.put(keys.payout('p1'), { id: 'p1', createdAt: new Date(Date.now() - 60_000).toISOString() });
      tx.put(keys.openPayout('carol'), 'p1');
    });
    const samples = await scrape(metrics);
    expect(valueOf(samples, 'tipd_pending_items', { kind: 'deposit' })).toBe(2);
    expect(valueOf(samples, 'tipd_pending_oldest_age_seconds', { kind: 'deposit' })).toBeCloseTo(3600, -1);
    expect(valueOf(samples, 'tipd_pending_items', { kind: 'payout' })).toBe(1);
    expect(valueOf(samples, 'tipd_pending_oldest_age_seconds', { kind: 'payout' })).toBeCloseTo(60, -1);
    expect(valueOf(samples, 'tipd_pending_items', { kind: 'withdrawal' })).toBe(0);
  });

  it('count requests by the route matched, never by the path asked for', async () => {
    const app = express();
    app.use(metrics.http);
    app.get('/v1/handles/:handle', (_req, res) => {
      res.json({});
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      for (const path of ['/v1/handles/alice', '/v1/handles/bob', '/v1/nowhere/carol']) await (await fetch(url + path)).text();
    } finally {
      server.close();
    }
    const samples = await scrape(metrics);
    expect(valueOf(samples, 'tipd_http_requests_total', { route: '/v1/handles/:handle', method: 'GET', status: '200' })).toBe(2);
    expect(valueOf(samples, 'tipd_http_requests_total', { route: unmatchedRoute, status: '404' })).toBe(1);
    expect(valueOf(samples, 'tipd_http_request_duration_seconds_count', { route: '/v1/handles/:handle' })).toBe(2);
    expect(samples.some((s) => Object.values(s.labels).some((text) => /alice|bob|carol|nowhere/.test(text)))).toBe(false);
  });

  it('count calls to LND and the X API by method and outcome, and time them', async () => {
    metrics.calls('lnd')('getinfo', 'ok', 0.02);
    metrics.calls('lnd')('getinfo', 'lnd_unavailable', 30);
    metrics.calls('lnd')('keysend', 'succeeded', 1.5);
    metrics.calls('x')('lookupTweet', 'found', 0.3);
    metrics.watchWebsocketClients(() => 3);
    const samples = await scrape(metrics);
    expect(valueOf(samples, 'tipd_lnd_calls_total', { method: 'getinfo', outcome: 'ok' })).toBe(1);
    expect(valueOf(samples, 'tipd_lnd_calls_total', { method: 'getinfo', outcome: 'lnd_unavailable' })).toBe(1);
    expect(valueOf(samples, 'tipd_lnd_call_duration_seconds_count', { method: 'getinfo' })).toBe(2);
    expect(valueOf(samples, 'tipd_lnd_call_duration_seconds_bucket', { method: 'keysend', le: '1' })).toBe(0);
    expect(valueOf(samples, 'tipd_lnd_call_duration_seconds_bucket', { method: 'keysend', le: '2.5' })).toBe(1);
    expect(valueOf(samples, 'tipd_x_calls_total', { method: 'lookupTweet', outcome: 'found' })).toBe(1);
    expect(valueOf(samples, 'tipd_websocket_clients')).toBe(3);
  });
});
