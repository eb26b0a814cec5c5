// Sign-in with a wallet (LNURL-auth, LUD-04) over HTTP, on a tipd of its own: a browser asks for a
// sign-in, a wallet decodes the LNURL and answers at its callback with a signature of k1 by its
// linking key, the browser's poll gets a token that works. The LNURL's host (the public URL) is not
// this tipd's address: the wallet here calls the LNURL's path and query on the tipd itself.
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeLnurl } from '../../src/lnurl/lnurl.ts';
import { api, eventually, startTipd, type TipdProcess } from './helpers.ts';

const publicUrl = 'https://tips.example.com';
let tipd: TipdProcess;
beforeAll(async () => {
  // Far more sign-ins than an address may ask for in a minute: the limit has its own test below.
  tipd = await startTipd({ TIPD_PUBLIC_URL: publicUrl, TIPD_AUTH_RATE_LIMIT_PER_MINUTE: '0' });
});
afterAll(async () => {
  await tipd?.stop();
});
const call = <T = any>(method: string, route: string, options?: Parameters<typeof api>[3]) => api<T>(tipd.url, method, route, options);
/** The browser's poll of a sign-in, by its id (a secret: in the body). */
const poll = (id: string, url = tipd.url) => api(url, 'POST', '/v1/auth/lnurl/poll', { body: { id } });

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

/** A wallet: its linking key, and what it calls for an LNURL-auth LNURL. */
function wallet() {
  const secret = secp256k1.utils.randomSecretKey();
  const key = hex(secp256k1.getPublicKey(secret, true));
  const sign = (k1: string) => hex(secp256k1.sign(Buffer.from(k1, 'hex'), secret, { prehash: false, format: 'der' }));
  return {
    key,
    sign,
    /** The callback of `lnurl`, with `sig` and `key` added as LUD-04 says (`change` alters them first). */
    callback(lnurl: string, change: (params: URLSearchParams) => void = () => {}) {
      const url = new URL(decodeLnurl(lnurl)!);
      expect(url.origin).toBe(publicUrl);
      expect(url.searchParams.get('tag')).toBe('login');
      url.searchParams.set('sig', sign(url.searchParams.get('k1')!));
      url.searchParams.set('key', key);
      change(url.searchParams);
      return fetch(`${tipd.url}${url.pathname}?${url.searchParams.toString()}`).then(async (res) => ({
        status: res.status,
        cors: res.headers.get('access-control-allow-origin'),
        body: (await res.json()) as { status: string; reason?: string; code?: string },
      }));
    },
  };
}

async function newSignIn(options: { token?: string; body?: unknown } = {}) {
  const created = await call('POST', '/v1/auth/lnurl', options);
  expect(created.status).toBe(201);
  return created.body as { id: string; lnurl: string; k1: string; expiresAt: string };
}

describe('signing in with a wallet', () => {
  it('makes an account for a new key: the first poll after the signature gets a token that works', async () => {
    const signIn = await newSignIn();
    expect(signIn.lnurl).toMatch(/^LNURL1[0-9A-Z]+$/);
    expect(decodeLnurl(signIn.lnurl)).toBe(`${publicUrl}/lnurl/auth?tag=login&k1=${signIn.k1}&action=login`);
    expect(await poll(signIn.id)).toEqual({ status: 200, body: { state: 'pending', expiresAt: signIn.expiresAt } });

    const w = wallet();
    expect(await w.callback(signIn.lnurl)).toEqual({ status: 200, cors: '*', body: { status: 'OK' } });
    const polled = await poll(signIn.id);
    expect(polled).toEqual({ status: 200, body: { state: 'signed_in', supporterId: expect.any(String), token: expect.stringMatching(/^tipd_/) } });
    const account = await call('GET', '/v1/account', { token: polled.body.token });
    expect(account).toMatchObject({ status: 200, body: { id: polled.body.supporterId, balanceMsat: '0' } });
    expect(await poll(signIn.id)).toEqual({ status: 200, body: { state: 'signed_in', supporterId: polled.body.supporterId } });

    // The same wallet later: the same account.
    const again = await newSignIn();
    expect((await w.callback(again.lnurl)).body).toEqual({ status: 'OK' });
    const second = await poll(again.id);
    expect(second.body).toMatchObject({ state: 'signed_in', supporterId: polled.body.supporterId });
    expect((await call('GET', '/v1/account', { token: second.body.token })).body.id).toBe(polled.body.supporterId);

    // The poll id gets a token: it is in no URL, and not in tipd's logs, even when a page of before
    // asks for it in the old way, in a path.
    expect((await call('GET', `/v1/auth/lnurl/${signIn.id}`)).status).toBe(404);
    await eventually(async () => (tipd.logs.filter((line) => line.msg === 'request' && line.path === '/v1/auth/lnurl/poll').length >= 4 ? true : undefined));
    expect(JSON.stringify(tipd.logs)).not.toContain(signIn.id);
  });

  const k1Of = (lnurl: string) => new URL(decodeLnurl(lnurl)!).searchParams.get('k1')!;
  it.each<{ what: string; status: number; code: string; change: (p: URLSearchParams, other: string) => void }>([
    { what: 'a signature of another k1', status: 422, code: 'lnurl_auth_bad_signature', change: (p, other) => p.set('sig', wallet().sign(other)) },
    { what: "another wallet's key", status: 422, code: 'lnurl_auth_bad_signature', change: (p) => p.set('key', wallet().key) },
    { what: 'a key that is not a point', status: 400, code: 'lnurl_auth_malformed', change: (p) => p.set('key', `03${'ff'.repeat(32)}`) },
    { what: 'a sig that is not DER', status: 400, code: 'lnurl_auth_malformed', change: (p) => p.set('sig', 'deadbeefdeadbeef') },
    { what: 'no sig', status: 400, code: 'invalid_request', change: (p) => p.delete('sig') },
    { what: 'another tag', status: 400, code: 'invalid_request', change: (p) => p.set('tag', 'payRequest') },
  ])("refuses $what in LNURL's error format ($status $code), and the sign-in stays pending", async ({ status, code, change }) => {
    const signIn = await newSignIn();
    const other = await newSignIn();
    const res = await wallet().callback(signIn.lnurl, (p) => change(p, k1Of(other.lnurl)));
    expect(res).toEqual({ status, cors: '*', body: { status: 'ERROR', reason: expect.any(String), code } });
    expect((await poll(signIn.id)).body.state).toBe('pending');
  });

  it('refuses a k1 it never gave', async () => {
    const w = wallet();
    const unknown = 'ab'.repeat(32);
    const res = await fetch(`${tipd.url}/lnurl/auth?tag=login&k1=${unknown}&sig=${w.sign(unknown)}&key=${w.key}`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ status: 'ERROR', reason: expect.any(String), code: 'lnurl_auth_unknown' });
  });

  it('takes each k1 once, and answers OK again to the wallet that signed it (its first answer lost)', async () => {
    const signIn = await newSignIn();
    const w = wallet();
    expect((await w.callback(signIn.lnurl)).body.status).toBe('OK');
    expect(await w.callback(signIn.lnurl)).toEqual({ status: 200, cors: '*', body: { status: 'OK' } });
    expect(await wallet().callback(signIn.lnurl)).toEqual({
      status: 409,
      cors: '*',
      body: { status: 'ERROR', reason: expect.any(String), code: 'lnurl_auth_used' },
    });
    const polled = await poll(signIn.id);
    expect(polled.body).toMatchObject({ state: 'signed_in', token: expect.any(String) });
    expect((await call('GET', '/v1/auth/keys', { token: polled.body.token })).body).toEqual({ keys: [{ key: w.key, linkedAt: expect.any(String) }] });
  });

  it('answers 404 to a poll with an id it never gave, and 400 to a poll without one', async () => {
    expect(await poll('x'.repeat(43))).toMatchObject({ status: 404, body: { error: { code: 'lnurl_auth_not_found' } } });
    expect(await call('POST', '/v1/auth/lnurl/poll', { body: {} })).toMatchObject({ status: 400, body: { error: { code: 'invalid_request' } } });
    expect(await call('POST', '/v1/auth/lnurl/poll', { body: { id: 'a/b' } })).toMatchObject({ status: 400, body: { error: { code: 'invalid_request' } } });
  });
});

describe('linking a wallet', () => {
  it('adds a wallet to a signed-in account: no new token, and the wallet signs in to that account', async () => {
    const created = (await call('POST', '/v1/accounts')).body as { id: string; token: string };
    const link = await newSignIn({ token: created.token, body: { action: 'link' } });
    expect(decodeLnurl(link.lnurl)).toContain('&action=link');
    const w = wallet();
    expect((await w.callback(link.lnurl)).body).toEqual({ status: 'OK' });
    expect((await poll(link.id)).body).toEqual({ state: 'linked', supporterId: created.id, key: w.key });
    expect((await call('GET', '/v1/account', { token: created.token })).status).toBe(200);

    const signIn = await newSignIn();
    await w.callback(signIn.lnurl);
    expect((await poll(signIn.id)).body).toMatchObject({ state: 'signed_in', supporterId: created.id });

    // That wallet cannot be linked to another account.
    const other = (await call('POST', '/v1/accounts')).body as { token: string };
    const taken = await newSignIn({ token: other.token, body: { action: 'link' } });
    expect(await w.callback(taken.lnurl)).toMatchObject({ status: 409, body: { status: 'ERROR', code: 'lnurl_auth_key_taken' } });
  });

  it('needs the account token', async () => {
    const res = await call('POST', '/v1/auth/lnurl', { body: { action: 'link' } });
    expect(res).toMatchObject({ status: 401, body: { error: { code: 'unauthorized' } } });
  });

  it('is cancelled once the token that asked for it is rotated: a stolen token links no wallet after', async () => {
    const created = (await call('POST', '/v1/accounts')).body as { id: string; token: string };
    const stolen = await newSignIn({ token: created.token, body: { action: 'link' } });
    const rotated = await call('POST', '/v1/account/token', { token: created.token });
    expect(rotated.status).toBe(201);
    const thief = wallet();
    expect(await thief.callback(stolen.lnurl)).toMatchObject({ status: 409, body: { status: 'ERROR', code: 'lnurl_auth_link_cancelled' } });
    expect((await call('GET', '/v1/auth/keys', { token: rotated.body.token })).body).toEqual({ keys: [] });
  });
});

describe("an account's wallet keys", () => {
  it('are listed, and one is unlinked: it then signs in to an account of its own', async () => {
    const created = (await call('POST', '/v1/accounts')).body as { id: string; token: string };
    const w = wallet();
    await w.callback((await newSignIn({ token: created.token, body: { action: 'link' } })).lnurl);
    const listed = await call('GET', '/v1/auth/keys', { token: created.token });
    expect(listed).toEqual({ status: 200, body: { keys: [{ key: w.key, linkedAt: expect.any(String) }] } });

    expect(await call('DELETE', `/v1/auth/keys/${w.key.toUpperCase()}`, { token: created.token })).toMatchObject({ status: 204 });
    expect((await call('GET', '/v1/auth/keys', { token: created.token })).body).toEqual({ keys: [] });
    expect(await call('DELETE', `/v1/auth/keys/${w.key}`, { token: created.token })).toMatchObject({
      status: 404,
      body: { error: { code: 'lnurl_auth_key_not_linked' } },
    });
    expect(await call('DELETE', '/v1/auth/keys/nonsense', { token: created.token })).toMatchObject({
      status: 400,
      body: { error: { code: 'invalid_request' } },
    });

    const signIn = await newSignIn();
    await w.callback(signIn.lnurl);
    const polled = await poll(signIn.id);
    expect(polled.body).toMatchObject({ state: 'signed_in', supporterId: expect.any(String) });
    expect(polled.body.supporterId).not.toBe(created.id);
  });

  it('need the account token', async () => {
    expect(await call('GET', '/v1/auth/keys')).toMatchObject({ status: 401, body: { error: { code: 'unauthorized' } } });
    expect(await call('DELETE', `/v1/auth/keys/02${'ab'.repeat(32)}`)).toMatchObject({ status: 401, body: { error: { code: 'unauthorized' } } });
  });
});

describe('sign-ins asked for from one address', () => {
  it('are limited per minute, as each is stored a while (429 rate_limited); polls are not', async () => {
    const limited = await startTipd({ TIPD_PUBLIC_URL: publicUrl, TIPD_AUTH_RATE_LIMIT_PER_MINUTE: '2' });
    try {
      const ask = () => api(limited.url, 'POST', '/v1/auth/lnurl');
      const first = await ask();
      expect(first.status).toBe(201);
      expect((await ask()).status).toBe(201);
      expect(await ask()).toMatchObject({ status: 429, body: { error: { code: 'rate_limited' } } });
      expect((await poll(first.body.id, limited.url)).body).toMatchObject({ state: 'pending' });
    } finally {
      await limited.stop();
    }
  });
});

describe('a tipd without a public URL', () => {
  it('offers no sign-in', async () => {
    const bare = await startTipd();
    try {
      const res = await api(bare.url, 'POST', '/v1/auth/lnurl');
      expect(res).toEqual({
        status: 503,
        body: { error: { code: 'lnurl_unavailable', message: 'LNURL needs TIPD_PUBLIC_URL: this tipd has no public URL' } },
      });
    } finally {
      await bare.stop();
    }
  });
});
