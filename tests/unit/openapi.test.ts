// /v1/openapi.json describes every route the app has, from the schemas that validate them.
import { RestoredLedger } from '../../src/backup/restored.ts';
import { WindDown } from '../../src/winddown/wind-down.ts';
import { pagePaths } from '../../src/pages/pages.ts';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/api/server.ts';
import { Deposits } from '../../src/deposits/deposits.ts';
import { Flattrs } from '../../src/flattrs/flattrs.ts';
import { Lnd } from '../../src/ln/lnd.ts';
import { LightningAddresses } from '../../src/lnurl/address.ts';
import { Supporters } from '../../src/supporters/supporters.ts';
import { Claims } from '../../src/claims/claims.ts';
import { Payouts } from '../../src/payouts/payouts.ts';
import { XApi } from '../../src/x/client.ts';
import { Tips } from '../../src/escrow/tips.ts';
import { WithdrawLinks } from '../../src/withdrawals/links.ts';
import { Withdrawals } from '../../src/withdrawals/withdrawals.ts';
import { LnurlAuth } from '../../src/auth/lnurl-auth.ts';
import { tempLedger } from './ledger-helpers.ts';
import { errorCodes, type ErrorCode } from '../../src/errors.ts';

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
}

/** Every method + path the express app answers, walking nested routers. */
function routesOf(stack: Layer[]): string[] {
  return stack.flatMap((layer) => {
    if (layer.route) return Object.keys(layer.route.methods).map((m) => `${m.toUpperCase()} ${layer.route!.path}`);
    return layer.handle?.stack ? routesOf(layer.handle.stack) : [];
  });
}

describe('the OpenAPI document', () => {
  let t: Awaited<ReturnType<typeof tempLedger>>;
  let app: ReturnType<typeof createApp>;
  beforeAll(async () => {
    t = await tempLedger();
    const log = pino({ level: 'silent' });
    // A node that is never called: building the app only registers routes.
    const lnd = new Lnd({ socket: '127.0.0.1:9', cert: 'AAAA', macaroon: 'AAAA', timeoutMs: 1_000 });
    const rails = { lnd, addresses: new LightningAddresses({ timeoutMs: 1_000, allowLocal: true }), network: 'regtest' as const };
    const supporters = new Supporters(t.ledger);
    const withdrawals = new Withdrawals(t.ledger, lnd, log, { network: 'regtest', feeBaseMsat: 0n, feePpm: 0n, recheckMs: 60_000 });
    app = createApp({
      lnd,
      network: 'regtest',
      publicUrl: 'https://tips.example',
      lnurl: { maxSendableMsat: 1_000_000_000n, commentMax: 280, ratePerMinute: 0 },
      log,
      ledger: t.ledger,
      supporters,
      tips: new Tips(t.ledger),
      deposits: new Deposits(t.ledger, lnd, log, { expiryMs: 60_000, lndTimeoutMs: 1_000 }),
      withdrawals,
      withdrawLinks: new WithdrawLinks(t.ledger, withdrawals, log, { ttlMs: 60_000 }),
      flattrs: new Flattrs(t.ledger, log, {}),
      claims: new Claims(t.ledger, rails, new XApi({ baseUrl: 'http://127.0.0.1:9', bearerToken: undefined, timeoutMs: 1_000 }), log, {
        expiryMs: 60_000,
        coolingOffMs: 0,
        probeAmountMsat: 1_000n,
        probeFeeCapMsat: 0n,
      }),
      payouts: new Payouts(t.ledger, rails, log, {
        minMsat: 1_000n,
        feeBaseMsat: 0n,
        feePpm: 0n,
        retryMs: 1_000,
        retryMaxMs: 1_000,
        recheckMs: 60_000,
        sendingMax: 1,
      }),
      auth: new LnurlAuth(t.ledger, supporters, log, { publicUrl: 'https://tips.example.com', expiryMs: 60_000 }),
      windDown: await WindDown.open(t.ledger, log),
      restored: await RestoredLedger.open(t.ledger, log),
      adminToken: undefined,
      rateLimitPerMinute: 0,
      claimRateLimitPerMinute: 0,
      authRateLimitPerMinute: 0,
    });
  });
  afterAll(async () => {
    await t.dispose();
  });

  const document = async () => {
    const server = app.listen(0);
    await new Promise((resolve) => server.once('listening', resolve));
    const { port } = server.address() as { port: number };
    const body = (await (await fetch(`http://127.0.0.1:${port}/v1/openapi.json`)).json()) as { openapi: string; paths: Record<string, Record<string, any>> };
    server.close();
    return body;
  };

  it('has every route of the app but its pages, and nothing the app does not answer', async () => {
    const doc = await document();
    expect(doc.openapi).toBe('3.1.0');
    const described = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
    );
    // The web pages (src/pages/) are documents for people, not the API.
    const pages = new Set([`GET ${pagePaths.join(',')}`, 'GET /button.js', 'GET /assets/:file']);
    const served = routesOf((app as unknown as { router: { stack: Layer[] } }).router.stack).filter((route) => !pages.has(route));
    expect(served.length).toBeGreaterThan(15);
    expect(described.sort()).toEqual(served.sort());
  });

  it('describes request bodies with the validating schemas: whole sats, handles, no unknown fields', async () => {
    const tips = (await document()).paths['/v1/tips']!.post;
    const schema = tips.requestBody.content['application/json'].schema;
    expect(schema).toMatchObject({ type: 'object', required: ['handle', 'amountSat'], additionalProperties: false });
    expect(schema.properties.amountSat).toMatchObject({ type: 'integer', exclusiveMinimum: 0 });
    expect(tips.security).toEqual([{ supporter: [] }]);
    const errorWith = (codes: string[]) => ({
      description: codes.join(' | '),
      content: {
        'application/json': {
          schema: {
            type: 'object',
            required: ['error'],
            properties: {
              error: {
                type: 'object',
                required: ['code', 'message'],
                properties: { code: { type: 'string', enum: codes }, message: { type: 'string' }, details: {} },
              },
            },
          },
        },
      },
    });
    expect(Object.keys(tips.responses).sort()).toEqual(['201', '400', '401', '408', '409', '413', '415', '422', '429', '431', '503']);
    expect(tips.responses['409']).toEqual(errorWith(['insufficient_balance']));
    expect(tips.responses['400']).toEqual(errorWith(['bad_request', 'invalid_handle', 'invalid_json', 'invalid_request', 'request_aborted']));
    expect(tips.responses['422']).toEqual(errorWith(['idempotency_key_reused']));
  });

  it('lists each error code under the status the error table gives it, on every route', async () => {
    const doc = await document();
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        for (const [status, response] of Object.entries(operation.responses as Record<string, { content?: any }>)) {
          if (Number(status) < 400) continue;
          // tipd's error format, or LNURL's on its routes (beside tipd's, for what the HTTP server answers itself)
          const { schema } = response.content['application/json'];
          const codes: ErrorCode[] = (schema.anyOf ?? [schema]).flatMap(({ properties }: any) =>
            properties.error ? properties.error.properties.code.enum : properties.code.enum,
          );
          expect(codes.length, `${method} ${path} ${status}`).toBeGreaterThan(0);
          for (const code of codes) expect(errorCodes[code].status, `${method} ${path}: ${code}`).toBe(Number(status));
        }
      }
    }
    // A wallet's routes describe LNURL's error format, with tipd's code beside the reason.
    const callback = doc.paths['/lnurl/withdraw/callback']!.get;
    expect(callback.security).toEqual([]);
    expect(callback.responses['409'].content['application/json'].schema).toEqual({
      type: 'object',
      required: ['status', 'reason', 'code'],
      properties: {
        status: { const: 'ERROR' },
        reason: { type: 'string' },
        code: { type: 'string', enum: ['insufficient_balance', 'invoice_already_used', 'withdraw_link_used'] },
      },
    });
    // The websocket's upgrades have a rate limit and caps of their own (events/admission.ts); a plain GET is told 426.
    expect(Object.keys(doc.paths['/v1/events']!.get.responses).sort()).toEqual(['101', '400', '401', '408', '413', '415', '426', '429', '431', '503']);
    expect(Object.keys(doc.paths['/v1/claims/{id}/proof']!.post.responses).sort()).toEqual([
      '200',
      '400',
      '404',
      '408',
      '409',
      '410',
      '413',
      '415',
      '422',
      '429',
      '431',
      '502',
      '503',
    ]);
    // Every route that takes a token says that it may be refused (401).
    for (const [path, methods] of Object.entries(doc.paths))
      for (const [method, operation] of Object.entries(methods))
        if ((operation.security as unknown[]).length > 0) expect(operation.responses, `${method} ${path}`).toHaveProperty('401');
  });

  it('describes every success answer with its schema, but those without a body', async () => {
    const doc = await document();
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        for (const [status, response] of Object.entries(operation.responses as Record<string, { content?: Record<string, { schema: unknown }> }>)) {
          if (Number(status) >= 300) continue;
          if (status === '204' || status === '101') expect(response.content, `${method} ${path} ${status}`).toBeUndefined();
          else expect(Object.values(response.content ?? {})[0]?.schema, `${method} ${path} ${status}`).toBeTypeOf('object');
        }
      }
    }
    const deposit = doc.paths['/v1/deposits/{id}']!.get.responses['200'].content['application/json'].schema;
    expect(deposit).toMatchObject({ type: 'object', additionalProperties: false, required: expect.arrayContaining(['id', 'paymentRequest', 'state']) });
  });

  it('says what a handle and a tweet are, as patterns of what tipd takes', async () => {
    const doc = await document();
    const tip = doc.paths['/v1/tips']!.post.requestBody.content['application/json'].schema;
    const handle = new RegExp(tip.properties.handle.pattern);
    const tweet = new RegExp(tip.properties.tweet.pattern);
    for (const ok of ['carol', '@Carol_1', 'abcdefghijklmno']) expect(handle.test(ok), ok).toBe(true);
    for (const bad of ['', 'abcdefghijklmnop', 'ca rol', '@']) expect(handle.test(bad), bad).toBe(false);
    for (const ok of ['1', '9223372036854775807', 'https://x.com/carol/status/123', 'https://mobile.twitter.com/c/statuses/9/?s=20'])
      expect(tweet.test(ok), ok).toBe(true);
    for (const bad of ['9223372036854775808', 'x', 'https://x.com/carol/123', 'http://x.com/carol/status/1']) expect(tweet.test(bad), bad).toBe(false);
    // A body that may be left out (`{}` is enough) is not required.
    expect(doc.paths['/v1/auth/lnurl']!.post.requestBody.required).toBe(false);
    expect(doc.paths['/v1/tips']!.post.requestBody.required).toBe(true);
  });

  it('answers a method a path does not take 405 with the Allow header; an unknown path stays 404', async () => {
    const server = app.listen(0);
    await new Promise((resolve) => server.once('listening', resolve));
    const { port } = server.address() as { port: number };
    const call = (method: string, path: string) => fetch(`http://127.0.0.1:${port}${path}`, { method });
    try {
      const put = await call('PUT', '/v1/tips');
      expect(put.status).toBe(405);
      expect(put.headers.get('allow')).toBe('POST, OPTIONS');
      expect(await put.json()).toMatchObject({ error: { code: 'method_not_allowed' } });
      // A path without parameters comes before one with: /v1/withdrawals/lnurl is not a withdrawal's id.
      expect((await call('DELETE', '/v1/withdrawals/lnurl')).headers.get('allow')).toBe('POST, OPTIONS');
      expect((await call('DELETE', '/v1/withdrawals/abc')).headers.get('allow')).toBe('GET, HEAD, OPTIONS');
      const options = await call('OPTIONS', '/v1/flattrs');
      expect([options.status, options.headers.get('allow')]).toEqual([204, 'POST, GET, HEAD, OPTIONS']);
      expect((await call('PUT', '/v1/nothing-here')).status).toBe(404);
    } finally {
      server.close();
    }
  });
});
