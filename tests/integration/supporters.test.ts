// A supporter's story over tipd's HTTP API on the real stack: an account, a deposit paid from
// alice's node, tips to handles, idempotent retries, and every kind of bad input refused.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { api, eventually, fundedSupporter, lndOf, startTipd, tipdForFile } from './helpers.ts';

const tipd = tipdForFile();
const { call } = tipd;

async function newSupporter(): Promise<{ id: string; token: string }> {
  const created = await call('POST', '/v1/accounts');
  expect(created.status).toBe(201);
  return created.body;
}

const funded = (sat: number) => fundedSupporter(tipd.url, sat);

describe('supporter accounts', () => {
  it('are created with a token shown once, which then authenticates the supporter', async () => {
    const { id, token } = await newSupporter();
    expect(token).toMatch(/^tipd_[A-Za-z0-9_-]{43}$/);
    const account = await call('GET', '/v1/account', { token });
    // No funding LNURL without a public URL (this tipd has none).
    expect(account).toEqual({
      status: 200,
      body: { id, balanceMsat: '0', monthlyBudgetSat: null, createdAt: expect.any(String), fundingLnurl: null, fundingLightning: null },
    });
    // HTTP's scheme names are case-insensitive.
    for (const authorization of [`bearer ${token}`, `BEARER ${token}`, `Bearer  ${token}`])
      expect((await call('GET', '/v1/account', { headers: { authorization } })).status, authorization).toBe(200);
  });

  it.each<{ what: string; headers: Record<string, string> }>([
    { what: 'no token', headers: {} },
    { what: 'a wrong token', headers: { authorization: 'Bearer tipd_nope' } },
    { what: 'another scheme', headers: { authorization: 'Basic dXNlcjpwYXNz' } },
  ])('answer 401 to $what', async ({ headers }) => {
    const res = await call('GET', '/v1/account', { headers });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('unauthorized');
  });

  it('rotate the token: the new one works and the old one stops at once', async () => {
    const { id, token } = await newSupporter();
    const rotated = await call('POST', '/v1/account/token', { token });
    expect(rotated.status).toBe(201);
    expect((await call('GET', '/v1/account', { token: rotated.body.token })).body.id).toBe(id);
    expect((await call('GET', '/v1/account', { token })).status).toBe(401);
  });
});

describe('deposits', () => {
  it('credit exactly what alice paid, once, and show up in the history', async () => {
    const { token, depositId } = await funded(50_000);
    const deposit = await call('GET', `/v1/deposits/${depositId}`, { token });
    expect(deposit.body).toMatchObject({ state: 'settled', amountMsat: '50000000', receivedMsat: '50000000' });
    expect(deposit.body.paymentRequest).toMatch(/^lnbcrt500u1/);
    expect((await call('GET', '/v1/account', { token })).body.balanceMsat).toBe('50000000');
    const history = await call('GET', '/v1/account/history', { token });
    expect(history.body.items).toEqual([expect.objectContaining({ kind: 'deposit', direction: 'in', amountMsat: '50000000', deposit: depositId })]);
  });

  it('are open until paid, and private to their supporter', async () => {
    const a = await newSupporter();
    const b = await newSupporter();
    const created = await call('POST', '/v1/deposits', { token: a.token, body: { amountSat: 1_000 } });
    expect(created.body).toMatchObject({ state: 'open', amountMsat: '1000000', receivedMsat: null });
    expect(Date.parse(created.body.expiresAt)).toBeGreaterThan(Date.now());
    expect((await call('GET', `/v1/deposits/${created.body.id}`, { token: a.token })).body.state).toBe('open');
    expect((await call('GET', `/v1/deposits/${created.body.id}`, { token: b.token })).status).toBe(404);
  });

  it('paid while tipd was down are credited once when it starts again', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tipd-restart-'));
    let own = await startTipd({}, dataDir);
    try {
      const supporter = (await api(own.url, 'POST', '/v1/accounts')).body;
      const deposit = (await api(own.url, 'POST', '/v1/deposits', { token: supporter.token, body: { amountSat: 21_000 } })).body;
      await own.stop();

      const paid = await lndOf('alice').payInvoice({ paymentRequest: deposit.paymentRequest, maxFeeMsat: 10_000n });
      expect(paid.state).toBe('succeeded');

      own = await startTipd({}, dataDir);
      const settled = await eventually(async () => {
        const d = await api(own.url, 'GET', `/v1/deposits/${deposit.id}`, { token: supporter.token });
        return d.body.state === 'settled' ? d.body : undefined;
      });
      expect(settled.receivedMsat).toBe('21000000');
      await own.stop();

      own = await startTipd({}, dataDir);
      await eventually(async () => (own.logs.some((l) => l.msg === 'following deposits') ? true : undefined));
      expect((await api(own.url, 'GET', '/v1/account', { token: supporter.token })).body.balanceMsat).toBe('21000000');
    } finally {
      await own.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('tips', () => {
  it('move sats from the supporter into the handle’s escrow at once', async () => {
    const { token } = await funded(10_000);
    const tip = await call('POST', '/v1/tips', {
      token,
      body: { handle: '@Carol_Creator', amountSat: 1_500, tweet: 'https://x.com/Carol_Creator/status/1790000000000000000?s=20' },
    });
    expect(tip.status).toBe(201);
    expect(tip.body).toMatchObject({ handle: 'Carol_Creator', amountMsat: '1500000', tweetId: '1790000000000000000' });
    expect((await call('GET', '/v1/account', { token })).body.balanceMsat).toBe('8500000');
    const handle = await call('GET', '/v1/handles/carol_creator');
    expect(handle.body).toMatchObject({ handle: 'Carol_Creator', claimed: false, tips: 1, supporters: 1 });
    expect(BigInt(handle.body.pendingMsat)).toBeGreaterThanOrEqual(1_500_000n);
  });

  it('count supporters once per handle, however often they tip, and compare handles case-insensitively', async () => {
    const { token } = await funded(10_000);
    const handle = `case_${Date.now().toString(36)}`;
    for (const spelling of [handle.toUpperCase(), `@${handle}`, handle]) {
      expect((await call('POST', '/v1/tips', { token, body: { handle: spelling, amountSat: 100 } })).status).toBe(201);
    }
    expect((await call('GET', `/v1/handles/${handle}`)).body).toMatchObject({ handle: handle.toUpperCase(), tips: 3, supporters: 1, pendingMsat: '300000' });
  });

  it('answer 409 insufficient_balance when the tip does not fit, and move nothing', async () => {
    const { token } = await funded(1_000);
    const res = await call('POST', '/v1/tips', { token, body: { handle: 'carol', amountSat: 1_001 } });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('insufficient_balance');
    expect((await call('GET', '/v1/account', { token })).body.balanceMsat).toBe('1000000');
  });

  it('sent 1,000 at once against a balance that holds 100 of them: exactly 100 are booked', async () => {
    const { token } = await funded(10_000);
    const answers = await Promise.all(Array.from({ length: 1_000 }, () => call('POST', '/v1/tips', { token, body: { handle: 'parallel', amountSat: 100 } })));
    expect(answers.filter((a) => a.status === 201)).toHaveLength(100);
    expect(answers.filter((a) => a.status === 409).every((a) => a.body.error.code === 'insufficient_balance')).toBe(true);
    expect(answers.filter((a) => a.status === 409)).toHaveLength(900);
    expect((await call('GET', '/v1/account', { token })).body.balanceMsat).toBe('0');
  });

  it('with one Idempotency-Key are booked once however often they are sent; the key with another body is 422', async () => {
    const { token } = await funded(10_000);
    const send = (amountSat: number) => call('POST', '/v1/tips', { token, body: { handle: 'idem_test', amountSat }, headers: { 'idempotency-key': 'tip-42' } });
    const answers = await Promise.all(Array.from({ length: 20 }, () => send(700)));
    expect(new Set(answers.map((a) => a.status))).toEqual(new Set([201]));
    expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
    expect((await call('GET', '/v1/account', { token })).body.balanceMsat).toBe('9300000');
    const reused = await send(800);
    expect(reused.status).toBe(422);
    expect(reused.body.error.code).toBe('idempotency_key_reused');
  });
});

describe('bad input', () => {
  let token: string;
  beforeAll(async () => {
    token = (await newSupporter()).token;
  });

  it.each([
    { what: 'a float amount', body: '{"handle":"carol","amountSat":1.5}', path: 'amountSat', code: 'invalid_request' },
    {
      what: 'an amount with a fraction a double rounds away',
      body: '{"handle":"carol","amountSat":1.0000000000000001}',
      path: 'amountSat',
      code: 'invalid_request',
    },
    { what: 'an exponent', body: '{"handle":"carol","amountSat":1e3}', path: 'amountSat', code: 'invalid_request' },
    { what: 'a negative amount', body: '{"handle":"carol","amountSat":-5}', path: 'amountSat', code: 'invalid_request' },
    { what: 'zero', body: '{"handle":"carol","amountSat":0}', path: 'amountSat', code: 'invalid_request' },
    { what: 'an amount as a string', body: '{"handle":"carol","amountSat":"100"}', path: 'amountSat', code: 'invalid_request' },
    { what: 'an overflowing amount', body: '{"handle":"carol","amountSat":99999999999999999999}', path: 'amountSat', code: 'invalid_request' },
    { what: 'more than 21M BTC', body: '{"handle":"carol","amountSat":2100000000000001}', path: 'amountSat', code: 'invalid_request' },
    { what: 'a handle too long', body: '{"handle":"abcdefghijklmnop","amountSat":1}', path: 'handle', code: 'invalid_handle' },
    { what: 'a handle with a dash', body: '{"handle":"carol-x","amountSat":1}', path: 'handle', code: 'invalid_handle' },
    { what: 'an empty handle', body: '{"handle":"@","amountSat":1}', path: 'handle', code: 'invalid_handle' },
    {
      what: 'a tweet link to another site',
      body: '{"handle":"carol","amountSat":1,"tweet":"https://evil.example/carol/status/1"}',
      path: 'tweet',
      code: 'invalid_request',
    },
    { what: 'an unknown field', body: '{"handle":"carol","amountSat":1,"memo":"hi"}', path: '', code: 'invalid_request' },
    { what: 'a JSON array', body: '[1,2]', path: '', code: 'invalid_request' },
  ])('refuses $what with 400 $code naming the field, and books nothing', async ({ body, path: field, code }) => {
    const res = await call('POST', '/v1/tips', { token, body });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe(code);
    expect(res.body.error.details.issues[0].path).toBe(field);
    expect((await call('GET', '/v1/account/history', { token })).body.items).toEqual([]);
  });

  it('refuses a malformed handle in a URL with 400 invalid_handle', async () => {
    const res = await call('GET', '/v1/handles/not-a-handle');
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_handle');
    expect(res.body.error.details.issues[0].path).toBe('handle');
  });

  it('refuses a malformed id in a URL with 400 invalid_request naming it, and an unknown one with 404', async () => {
    const res = await call('GET', `/v1/withdrawals/${'x'.repeat(65)}`, { token });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
    expect(res.body.error.details.issues[0].path).toBe('id');
    expect((await call('GET', '/v1/withdrawals/nope', { token })).status).toBe(404);
  });

  it('refuses a deposit over the limit and a malformed history cursor', async () => {
    expect((await call('POST', '/v1/deposits', { token, body: { amountSat: 10_000_001 } })).status).toBe(400);
    const res = await call('GET', '/v1/account/history?cursor=abc', { token });
    expect(res.status).toBe(400);
    expect(res.body.error.details.issues[0].path).toBe('cursor');
  });

  it('refuses an unknown deposit with 404', async () => {
    expect((await call('GET', '/v1/deposits/nope', { token })).status).toBe(404);
  });
});

describe('the data folder', () => {
  it('is tipd’s alone: a second tipd on it exits at once, saying so', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tipd-lock-'));
    const first = await startTipd({}, dataDir);
    try {
      await expect(startTipd({}, dataDir)).rejects.toThrow(/exited with 1 before listening: tipd: the data folder .* is in use by another tipd/);
    } finally {
      await first.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('flood protection', () => {
  it('lets a hundred requests at once through, answers a flood with 429, and limits each token on its own', async () => {
    const limited = await startTipd({ TIPD_RATE_LIMIT_PER_MINUTE: '150' });
    try {
      const a = (await api(limited.url, 'POST', '/v1/accounts')).body.token as string;
      const b = (await api(limited.url, 'POST', '/v1/accounts')).body.token as string;
      const burst = await Promise.all(Array.from({ length: 100 }, () => api(limited.url, 'GET', '/v1/account', { token: a })));
      expect(burst.every((r) => r.status === 200)).toBe(true);
      const flood = await Promise.all(Array.from({ length: 100 }, () => api(limited.url, 'GET', '/v1/account', { token: a })));
      const refused = flood.filter((r) => r.status === 429);
      expect(refused.length).toBeGreaterThanOrEqual(50);
      expect(refused[0]!.body.error.code).toBe('rate_limited');
      expect((await api(limited.url, 'GET', '/v1/account', { token: b })).status).toBe(200);
      // Made-up tokens are no way around it: they count against the address.
      const madeUp = await Promise.all(
        Array.from({ length: 200 }, (_, i) => api(limited.url, 'POST', '/v1/accounts', { headers: { authorization: `Bearer fake${i}` } })),
      );
      expect(madeUp.filter((r) => r.status === 429).length).toBeGreaterThanOrEqual(40);
      // A page on another site reading the public handles is told too (CORS on the refusal).
      const handles = await fetch(`${limited.url}/v1/handles`, { headers: { origin: 'https://blog.example' } });
      expect(handles.status).toBe(429);
      expect(handles.headers.get('access-control-allow-origin')).toBe('*');
    } finally {
      await limited.stop();
    }
  });
});
