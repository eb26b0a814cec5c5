// Sign-in with a wallet (LNURL-auth, LUD-04) on a real LevelDB, with wallets that sign as real ones
// do: a DER secp256k1 signature of the 32 bytes of k1 by the wallet's linking key.
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LnurlAuth, type AuthAction, type AuthChallenge } from '../../src/auth/lnurl-auth.ts';
import { type ErrorCode } from '../../src/errors.ts';
import { keys } from '../../src/ledger/keys.ts';
import { decodeLnurl } from '../../src/lnurl/lnurl.ts';
import { Supporters } from '../../src/supporters/supporters.ts';
import { checkLoginSignature } from '../../src/auth/signature.ts';
import { tempLedger } from './ledger-helpers.ts';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

/** A wallet: its linking key for this host, and its signature of a k1. */
function wallet() {
  const secret = secp256k1.utils.randomSecretKey();
  return {
    key: hex(secp256k1.getPublicKey(secret, true)),
    sign: (k1: string) => hex(secp256k1.sign(Buffer.from(k1, 'hex'), secret, { prehash: false, format: 'der' })),
  };
}

const expiryMs = 5 * 60_000;
let clock: Date;
let t: Awaited<ReturnType<typeof tempLedger>>;
let supporters: Supporters;
let auth: LnurlAuth;

beforeEach(async () => {
  clock = new Date('2026-12-04T10:00:00.000Z');
  t = await tempLedger({ now: () => clock });
  supporters = new Supporters(t.ledger);
  auth = new LnurlAuth(t.ledger, supporters, pino({ level: 'silent' }), { publicUrl: 'https://tips.example.com', expiryMs, now: () => clock });
});
afterEach(async () => {
  await t.dispose();
});

const later = (ms: number) => {
  clock = new Date(clock.getTime() + ms);
};

/** Everything in the store, to show that a refusal wrote nothing. */
const everything = async () => t.db.iterator().all();

/** The wallet's answer to a sign-in, as the callback passes it on. */
const answer = (challenge: AuthChallenge, w: ReturnType<typeof wallet>) => auth.signed({ k1: challenge.k1, sig: w.sign(challenge.k1), key: w.key });

/** A sign-in that `w` signs, and what its first poll gets. */
async function signIn(w: ReturnType<typeof wallet>) {
  const challenge = await auth.create('login');
  await answer(challenge, w);
  return auth.poll(challenge.id);
}

async function refused(promise: Promise<unknown>, code: ErrorCode) {
  await expect(promise).rejects.toMatchObject({ name: 'Refusal', code });
}

describe('a sign-in with a wallet', () => {
  it('offers an LNURL of a login challenge at the public URL, and an id to poll', async () => {
    const challenge = await auth.create('login');
    expect(challenge.k1).toMatch(/^[0-9a-f]{64}$/);
    expect(challenge.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(challenge.expiresAt).toBe('2026-12-04T10:05:00.000Z');
    expect(decodeLnurl(challenge.lnurl)).toBe(`https://tips.example.com/lnurl/auth?tag=login&k1=${challenge.k1}&action=login`);
    expect(await auth.poll(challenge.id)).toEqual({ state: 'pending', expiresAt: challenge.expiresAt });
  });

  it('with a new key makes a new account, and hands its token to the first poll only', async () => {
    const w = wallet();
    const challenge = await auth.create('login');
    await answer(challenge, w);
    const first = await auth.poll(challenge.id);
    expect(first).toEqual({ state: 'signed_in', supporterId: expect.any(String), token: expect.stringMatching(/^tipd_/) });
    if (first.state !== 'signed_in') throw new Error('not signed in');
    expect(await supporters.authenticate(first.token!)).toBe(first.supporterId);
    expect(await supporters.get(first.supporterId)).toMatchObject({ id: first.supporterId, monthlyBudgetSat: null });
    expect(await auth.poll(challenge.id)).toEqual({ state: 'signed_in', supporterId: first.supporterId });
  });

  it('with the same key later signs in to the same account, with a new token that retires the old one', async () => {
    const w = wallet();
    const first = await signIn(w);
    const second = await signIn(w);
    if (first.state !== 'signed_in' || second.state !== 'signed_in') throw new Error('not signed in');
    expect(second.supporterId).toBe(first.supporterId);
    expect(second.token).not.toBe(first.token);
    expect(await supporters.authenticate(second.token!)).toBe(first.supporterId);
    expect(await supporters.authenticate(first.token!)).toBeUndefined();
    const other = await signIn(wallet());
    expect(other.state === 'signed_in' && other.supporterId).not.toBe(first.supporterId);
  });

  it('hands the token to one of two polls at once', async () => {
    const challenge = await auth.create('login');
    await answer(challenge, wallet());
    const polls = await Promise.all([auth.poll(challenge.id), auth.poll(challenge.id), auth.poll(challenge.id)]);
    expect(polls.filter((p) => p.state === 'signed_in' && p.token !== undefined)).toHaveLength(1);
  });

  it('keeps no token in the store, and the id only as its hash', async () => {
    const challenge = await auth.create('login');
    await answer(challenge, wallet());
    const polled = await auth.poll(challenge.id);
    const stored = JSON.stringify(await everything());
    expect(polled.state === 'signed_in' && polled.token).toBeTruthy();
    expect(stored).not.toContain(polled.state === 'signed_in' ? polled.token : 'never');
    expect(stored).not.toContain(challenge.id);
  });

  it('is refused without a public URL', async () => {
    const offline = new LnurlAuth(t.ledger, supporters, pino({ level: 'silent' }), { publicUrl: undefined, expiryMs });
    await refused(offline.create('login'), 'lnurl_unavailable');
  });

  it('is unknown to a poll with an id it never gave', async () => {
    await refused(auth.poll(randomBytes(32).toString('base64url')), 'lnurl_auth_not_found');
  });
});

describe("a wallet's answer is refused, and nothing written,", () => {
  const alice = wallet();
  const mallory = wallet();
  const cases: { what: string; code: ErrorCode; input: (k1: string, otherK1: string) => { k1: string; sig: string; key: string } }[] = [
    { what: 'the right key over another k1', code: 'lnurl_auth_bad_signature', input: (k1, other) => ({ k1, sig: alice.sign(other), key: alice.key }) },
    { what: "another key's signature", code: 'lnurl_auth_bad_signature', input: (k1) => ({ k1, sig: mallory.sign(k1), key: alice.key }) },
    { what: "a signature under another key's name", code: 'lnurl_auth_bad_signature', input: (k1) => ({ k1, sig: alice.sign(k1), key: mallory.key }) },
    { what: 'an unknown k1', code: 'lnurl_auth_unknown', input: () => ({ k1: hex(randomBytes(32)), sig: '', key: '' }) },
    { what: 'a k1 that is not hex', code: 'lnurl_auth_malformed', input: (k1) => ({ k1: `${k1.slice(0, 63)}g`, sig: alice.sign(k1), key: alice.key }) },
    { what: 'a sig that is not hex', code: 'lnurl_auth_malformed', input: (k1) => ({ k1, sig: 'zz', key: alice.key }) },
    { what: 'a sig that is not DER', code: 'lnurl_auth_malformed', input: (k1) => ({ k1, sig: alice.sign(k1).slice(2), key: alice.key }) },
    { what: 'a compact (not DER) sig', code: 'lnurl_auth_malformed', input: (k1) => ({ k1, sig: compact(k1), key: alice.key }) },
    {
      what: 'an uncompressed key',
      code: 'lnurl_auth_malformed',
      input: (k1) => ({ k1, sig: alice.sign(k1), key: `04${alice.key.slice(2)}${'00'.repeat(32)}` }),
    },
    { what: 'a key off the curve', code: 'lnurl_auth_malformed', input: (k1) => ({ k1, sig: alice.sign(k1), key: `02${'00'.repeat(32)}` }) },
    { what: 'an empty key', code: 'lnurl_auth_malformed', input: (k1) => ({ k1, sig: alice.sign(k1), key: '' }) },
  ];
  const compact = (k1: string) => hex(secp256k1.sign(Buffer.from(k1, 'hex'), secp256k1.utils.randomSecretKey(), { prehash: false }));

  it.each(cases)('for $what ($code)', async ({ input, code }) => {
    const challenge = await auth.create('login');
    const other = await auth.create('login');
    const before = await everything();
    const fields = input(challenge.k1, other.k1);
    // An unknown k1 is checked after the signature: sign it properly.
    const sent = code === 'lnurl_auth_unknown' ? { k1: fields.k1, sig: alice.sign(fields.k1), key: alice.key } : fields;
    await refused(auth.signed(sent), code);
    expect(await everything()).toEqual(before);
    expect(await auth.poll(challenge.id)).toEqual({ state: 'pending', expiresAt: challenge.expiresAt });
  });

  it('for a k1 signed before by another wallet (single use)', async () => {
    const challenge = await auth.create('login');
    await answer(challenge, alice);
    const before = await everything();
    await refused(answer(challenge, mallory), 'lnurl_auth_used');
    expect(await everything()).toEqual(before);
  });

  it('but answers the same wallet sending its answer again (its first answer lost) as the first time, writing nothing', async () => {
    const challenge = await auth.create('login');
    await answer(challenge, alice);
    const before = await everything();
    await expect(answer(challenge, alice)).resolves.toBeUndefined();
    // Its signature is checked all the same.
    await refused(auth.signed({ k1: challenge.k1, sig: mallory.sign(challenge.k1), key: alice.key }), 'lnurl_auth_bad_signature');
    later(expiryMs);
    await expect(answer(challenge, alice)).resolves.toBeUndefined();
    expect(await everything()).toEqual(before);
  });

  it('for an expired k1, whose poll then says expired', async () => {
    const challenge = await auth.create('login');
    later(expiryMs);
    const before = await everything();
    await refused(answer(challenge, alice), 'lnurl_auth_expired');
    expect(await everything()).toEqual(before);
    expect(await auth.poll(challenge.id)).toEqual({ state: 'expired' });
  });

  it('but takes a high-S signature as well as its low-S twin', async () => {
    const challenge = await auth.create('login');
    const low = secp256k1.Signature.fromBytes(Buffer.from(alice.sign(challenge.k1), 'hex'), 'der');
    const high = new secp256k1.Signature(low.r, secp256k1.Point.CURVE().n - low.s);
    await auth.signed({ k1: challenge.k1.toUpperCase(), sig: hex(high.toBytes('der')), key: alice.key.toUpperCase() });
    expect(await auth.poll(challenge.id)).toMatchObject({ state: 'signed_in' });
  });
});

describe('a token for a sign-in', () => {
  it('can be picked up a minute after the k1 expired, if the wallet signed in time; not later', async () => {
    const late = await auth.create('login');
    const tooLate = await auth.create('login');
    later(expiryMs - 1_000);
    await answer(late, wallet());
    await answer(tooLate, wallet());
    later(30_000);
    expect(await auth.poll(late.id)).toMatchObject({ state: 'signed_in', token: expect.any(String) });
    later(60_000);
    expect(await auth.poll(tooLate.id)).toEqual({ state: 'expired' });
  });
});

/** The events of the account, oldest first, as type and key. */
const eventsOf = async (supporterId: string) =>
  (await t.ledger.eventsAfter(0, 1_000))
    .filter((e) => e.topics.includes(`account:${supporterId}`))
    .map((e) => ({ type: e.type, key: (e.data as { key?: string }).key }));

describe('linking a wallet to an account', () => {
  /** A link asked for with `token`, signed by `w`, and what its poll says. */
  const link = async (token: string, w: ReturnType<typeof wallet>) => {
    const challenge = await auth.create('link' satisfies AuthAction, token);
    expect(decodeLnurl(challenge.lnurl)).toContain('&action=link');
    await answer(challenge, w);
    return { challenge, poll: await auth.poll(challenge.id) };
  };

  it('links the key to the signed-in account: no new token, the poll names the key, and the key signs in to it from then on', async () => {
    const { id, token } = await supporters.create();
    const w = wallet();
    const { poll } = await link(token, w);
    expect(poll).toEqual({ state: 'linked', supporterId: id, key: w.key });
    expect(await supporters.authenticate(token)).toBe(id);
    expect(await signIn(w)).toMatchObject({ state: 'signed_in', supporterId: id });
  });

  it('links a second wallet beside the first, and takes a key linked to the same account again', async () => {
    const first = wallet();
    const signedIn = await signIn(first);
    if (signedIn.state !== 'signed_in') throw new Error('not signed in');
    const second = wallet();
    const { supporterId, token } = signedIn;
    expect((await link(token!, second)).poll).toEqual({ state: 'linked', supporterId, key: second.key });
    expect((await link(token!, first)).poll).toEqual({ state: 'linked', supporterId, key: first.key });
    expect(await signIn(second)).toMatchObject({ supporterId });
  });

  it('refuses a key that signs in to another account, writing nothing', async () => {
    const w = wallet();
    const theirs = await signIn(w);
    const { token } = await supporters.create();
    const challenge = await auth.create('link', token);
    const before = await everything();
    await refused(answer(challenge, w), 'lnurl_auth_key_taken');
    expect(await everything()).toEqual(before);
    expect(await signIn(w)).toMatchObject({ supporterId: theirs.state === 'signed_in' && theirs.supporterId });
  });

  it("is refused to a token that is not the account's", async () => {
    await refused(auth.create('link', 'tipd_made-up'), 'unauthorized');
  });

  describe('is cancelled, and nothing written, once the token that asked for it is replaced', () => {
    it.each([
      { how: 'by a rotation', replace: async (id: string) => void (await supporters.rotateToken(id)) },
      { how: "by a sign-in with one of the account's wallets", replace: async (_id: string, w: ReturnType<typeof wallet>) => void (await signIn(w)) },
    ])('$how', async ({ replace }) => {
      // The victim's account, with a wallet of its own; the thief holds its token for a while.
      const own = wallet();
      const signedIn = await signIn(own);
      if (signedIn.state !== 'signed_in') throw new Error('not signed in');
      const thief = wallet();
      const stolen = await auth.create('link', signedIn.token);
      await replace(signedIn.supporterId, own);
      const before = await everything();
      await refused(answer(stolen, thief), 'lnurl_auth_link_cancelled');
      expect(await everything()).toEqual(before);
      expect(await auth.poll(stolen.id)).toEqual({ state: 'pending', expiresAt: stolen.expiresAt });
      expect(await signIn(thief)).toMatchObject({ state: 'signed_in', supporterId: expect.not.stringMatching(signedIn.supporterId) });
    });
  });
});

describe("an account's wallet keys", () => {
  it('are listed with when each was linked, and each link and sign-in is an event of the account', async () => {
    const first = wallet();
    const signedIn = await signIn(first);
    if (signedIn.state !== 'signed_in') throw new Error('not signed in');
    const { supporterId, token } = signedIn;
    later(1_000);
    const second = wallet();
    await answer(await auth.create('link', token), second);
    expect(await auth.linkedKeys(supporterId)).toEqual(
      [
        { key: first.key, linkedAt: '2026-12-04T10:00:00.000Z' },
        { key: second.key, linkedAt: '2026-12-04T10:00:01.000Z' },
      ].sort((a, b) => a.key.localeCompare(b.key)),
    );
    expect(await auth.linkedKeys((await supporters.create()).id)).toEqual([]);
    await signIn(second);
    expect(await eventsOf(supporterId)).toEqual([
      { type: 'auth.signed_in', key: first.key },
      { type: 'auth.linked', key: second.key },
      { type: 'auth.signed_in', key: second.key },
    ]);
  });

  it('can be unlinked by the account: the key then signs in to an account of its own', async () => {
    const w = wallet();
    const signedIn = await signIn(w);
    if (signedIn.state !== 'signed_in') throw new Error('not signed in');
    const { supporterId } = signedIn;
    await auth.unlink(supporterId, w.key.toUpperCase());
    expect(await auth.linkedKeys(supporterId)).toEqual([]);
    expect((await eventsOf(supporterId)).at(-1)).toEqual({ type: 'auth.unlinked', key: w.key });
    expect(await t.ledger.read(keys.linkingKey(w.key))).toBeUndefined();
    expect(await signIn(w)).toMatchObject({ state: 'signed_in', supporterId: expect.not.stringMatching(supporterId) });
  });

  it("are not another account's to unlink, nor a key never linked, nor a key that is not one", async () => {
    const w = wallet();
    const theirs = await signIn(w);
    const { id } = await supporters.create();
    const before = await everything();
    await refused(auth.unlink(id, w.key), 'lnurl_auth_key_not_linked');
    await refused(auth.unlink(id, wallet().key), 'lnurl_auth_key_not_linked');
    await refused(auth.unlink(id, 'nonsense'), 'lnurl_auth_key_not_linked');
    expect(await everything()).toEqual(before);
    expect(await signIn(w)).toMatchObject({ supporterId: theirs.state === 'signed_in' && theirs.supporterId });
  });

  it('once unlinked, do not pick up a token they signed for before', async () => {
    const w = wallet();
    const signedIn = await signIn(w);
    if (signedIn.state !== 'signed_in') throw new Error('not signed in');
    const challenge = await auth.create('login');
    await answer(challenge, w);
    await auth.unlink(signedIn.supporterId, w.key);
    expect(await auth.poll(challenge.id)).toEqual({ state: 'expired' });
    expect(await supporters.authenticate(signedIn.token!)).toBe(signedIn.supporterId);
  });
});

describe('expired sign-ins', () => {
  it('are forgotten ten minutes after they expired; accounts and keys stay', async () => {
    const w = wallet();
    const done = await auth.create('login');
    await answer(done, w);
    const signedIn = await auth.poll(done.id);
    const open = await auth.create('login');
    later(expiryMs + 9 * 60_000);
    expect(await auth.forgetExpired()).toBe(0);
    expect(await auth.poll(open.id)).toEqual({ state: 'expired' });
    later(60_001);
    expect(await auth.forgetExpired()).toBe(2);
    await refused(auth.poll(open.id), 'lnurl_auth_not_found');
    await refused(auth.poll(done.id), 'lnurl_auth_not_found');
    await refused(answer(open, w), 'lnurl_auth_unknown');
    const keysLeft = (await t.db.keys().all()).filter((k) => k.startsWith('lnauth'));
    expect(keysLeft).toEqual([]);
    expect(await auth.linkedKeys(signedIn.state === 'signed_in' ? signedIn.supporterId : '')).toEqual([{ key: w.key, linkedAt: expect.any(String) }]);
    expect(await t.ledger.read(keys.linkingKey(w.key))).toBe(signedIn.state === 'signed_in' && signedIn.supporterId);
  });

  it('are all forgotten in one sweep when more expired than one operation forgets', async () => {
    const count = 2_345;
    for (let made = 0; made < count; made += 500) await Promise.all(Array.from({ length: Math.min(500, count - made) }, () => auth.create('login')));
    later(expiryMs + 10 * 60_000 + 1);
    expect(await auth.forgetExpired()).toBe(count);
    expect((await t.db.keys().all()).filter((k) => k.startsWith('lnauth'))).toEqual([]);
  });
});

describe('the signature check', () => {
  it('takes signatures made by another implementation: OpenSSL, through Node.js crypto (DER, S not normalised)', () => {
    // OpenSSL signs SHA-256 of a message: k1 is that digest here, as a wallet signs k1 itself.
    for (let i = 0; i < 8; i += 1) {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
      const { x, y } = publicKey.export({ format: 'jwk' });
      const yBytes = Buffer.from(y!, 'base64url');
      const key = `${yBytes[31]! % 2 === 0 ? '02' : '03'}${Buffer.from(x!, 'base64url').toString('hex')}`;
      const message = randomBytes(40);
      const k1 = createHash('sha256').update(message).digest('hex');
      const sig = sign('sha256', message, privateKey).toString('hex');
      expect(() => checkLoginSignature({ k1, sig, key })).not.toThrow();
      const otherK1 = createHash('sha256').update(randomBytes(40)).digest('hex');
      expect(() => checkLoginSignature({ k1: otherK1, sig, key })).toThrow(expect.objectContaining({ code: 'lnurl_auth_bad_signature' }));
    }
  });
});
