// Claims on the real stack: creators sign tipd's challenge with their own LND, tweet it on the
// local X server, and tipd binds the handle; every attack is refused with its code, changing nothing.
import { afterEach, describe, expect, it } from 'vitest';
import { claimWithTweet, freshHandle, xServer } from './creators.ts';
import { api, eventually, fundedSupporter, lndOf, stack, startTipd, tipdForFile } from './helpers.ts';
import { connect } from './websocket.ts';

const tipd = tipdForFile({
  TIPD_CLAIM_COOLING_OFF_SECONDS: '4',
  TIPD_CLAIM_RATE_LIMIT_PER_MINUTE: '0',
  TIPD_PAYOUT_MIN_SAT: '1000',
  TIPD_PAYOUT_RETRY_SECONDS: '1',
  // The links it prints (a notify text); nothing is fetched there.
  TIPD_PUBLIC_URL: 'https://tips.regtest.example',
});
const { call } = tipd;
const pubkey = (node: 'carol' | 'dave' | 'alice' | 'hub') => stack().nodes[node].pubkey;

afterEach(async () => {
  await xServer.mode('ok');
});

/** A handle with `sat` tipped into its escrow by a new supporter (of the file's tipd, or the one at `url`). */
async function tippedHandle(prefix: string, sat: number, url = tipd.url): Promise<string> {
  const handle = freshHandle(prefix);
  const { token } = await fundedSupporter(url, sat + 1_000);
  expect((await api(url, 'POST', '/v1/tips', { token, body: { handle, amountSat: sat } })).status).toBe(201);
  return handle;
}

/** What a refused proof must leave as it was. */
async function unchanged(handle: string, pendingMsat: string, url = tipd.url) {
  const view = (await api(url, 'GET', `/v1/handles/${handle}`)).body;
  expect(view).toMatchObject({ claimed: false, binding: null, pendingBinding: null, pendingMsat });
  expect((await api(url, 'GET', `/v1/payouts?handle=${handle}`)).body.payouts).toEqual([]);
}

describe('a challenge', () => {
  it('binds handle, node, this tipd, a nonce and an expiry into the message to sign', async () => {
    const res = await call('POST', '/v1/claims', { body: { handle: '@Carol_Story', nodePubkey: pubkey('carol') } });
    expect(res.status).toBe(201);
    expect(res.body.message).toContain('@carol_story');
    expect(res.body.message).toContain(pubkey('carol'));
    expect(res.body.message).toContain(pubkey('hub'));
    expect(res.body.message).toContain(res.body.expiresAt);
    expect(res.body.tweetTemplate).toContain(res.body.id);
    const again = await call('POST', '/v1/claims', { body: { handle: 'carol_story', nodePubkey: pubkey('carol') } });
    expect(again.body.message).not.toBe(res.body.message);
    expect((await call('GET', `/v1/claims/${res.body.id}`)).body).toMatchObject({ state: 'open', handle: 'Carol_Story' });
  });

  it.each([
    ['a node the hub does not know', '02'.padEnd(66, '7'), 422, 'node_unreachable'],
    ["tipd's own node", 'hub', 400, 'own_node'],
    ['a malformed key', '04abcd', 400, 'invalid_request'],
  ])('is refused for %s', async (_what, node, status, code) => {
    const nodePubkey = node === 'hub' ? pubkey('hub') : node;
    const res = await call('POST', '/v1/claims', { body: { handle: 'someone', nodePubkey } });
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
  });

  it('is refused for a handle that is not one', async () => {
    const res = await call('POST', '/v1/claims', { body: { handle: 'not a handle!', nodePubkey: pubkey('carol') } });
    expect(res.status).toBe(400);
    expect(res.body.error.details.issues[0].path).toBe('handle');
  });
});

describe('a proof', () => {
  it("made by carol's real LND binds the handle, whatever its case, with the evidence, and agrees with LND's own check", async () => {
    const handle = await tippedHandle('carol', 2_000);
    const claim = await call('POST', '/v1/claims', { body: { handle: handle.toUpperCase(), nodePubkey: pubkey('carol') } });
    const signature = await lndOf('carol').signMessage(claim.body.message);
    expect(await lndOf('hub').verifyMessage(claim.body.message, signature)).toBe(pubkey('carol'));
    const tweetId = await xServer.post(handle, claim.body.tweetTemplate.replace('<signature>', signature));
    const proof = await call('POST', `/v1/claims/${claim.body.id}/proof`, { body: { tweet: `https://twitter.com/whoever/status/${tweetId}` } });
    expect(proof.status).toBe(200);
    expect(proof.body).toMatchObject({ state: 'verified', binding: { nodePubkey: pubkey('carol'), tweetId, signature, message: claim.body.message } });
    expect(proof.body.binding.xUserId).toMatch(/^\d+$/);
    const view = (await call('GET', `/v1/handles/${handle}`)).body;
    expect(view).toMatchObject({ claimed: true, binding: { nodePubkey: pubkey('carol'), tweetId, xUsername: handle } });
    // Anyone can check the evidence again, even once the tweet is gone.
    await xServer.remove(handle, tweetId);
    expect((await call('GET', `/v1/handles/${handle}`)).body.binding.signature).toBe(signature);
    expect(await lndOf('alice').verifyMessage(view.binding.message, view.binding.signature)).toBe(pubkey('carol'));
    expect((await call('GET', `/v1/claims/${claim.body.id}`)).body).toMatchObject({ state: 'verified', tweetId });
  });

  it('replayed is refused: the challenge is used, and so is the tweet for a new challenge', async () => {
    const handle = freshHandle('replay');
    const { claimId, tweetId, proof } = await claimWithTweet(tipd.url, handle, 'carol');
    expect(proof.status).toBe(200);
    const again = await call('POST', `/v1/claims/${claimId}/proof`, { body: { tweet: tweetId } });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('challenge_used');
    const fresh = await call('POST', '/v1/claims', { body: { handle, nodePubkey: pubkey('dave') } });
    const reused = await call('POST', `/v1/claims/${fresh.body.id}/proof`, { body: { tweet: tweetId } });
    expect(reused.status).toBe(409);
    expect(reused.body.error.code).toBe('challenge_used');
    expect((await call('GET', `/v1/handles/${handle}`)).body.binding.nodePubkey).toBe(pubkey('carol'));
  });

  describe('refused with its code, changing nothing', () => {
    it.each([
      {
        attack: 'a tweet by another account carrying a valid signature',
        code: 'author_mismatch',
        forge: async (message: string, id: string, handle: string) => ({
          author: `${handle.slice(0, 10)}_x`,
          text: `claim ${id} sig ${await lndOf('carol').signMessage(message)}`,
        }),
      },
      {
        attack: 'a valid tweet whose signature is by another key',
        code: 'bad_signature',
        forge: async (message: string, id: string, handle: string) => ({ author: handle, text: `claim ${id} sig ${await lndOf('dave').signMessage(message)}` }),
      },
      {
        attack: 'a signature over the message of another handle',
        code: 'bad_signature',
        forge: async (_message: string, id: string, handle: string) => {
          const other = await call('POST', '/v1/claims', { body: { handle: 'somebody_else', nodePubkey: pubkey('carol') } });
          return { author: handle, text: `claim ${id} sig ${await lndOf('carol').signMessage(other.body.message)}` };
        },
      },
      {
        attack: 'a signature over a message naming another node',
        code: 'bad_signature',
        forge: async (_message: string, id: string, handle: string) => {
          const other = await call('POST', '/v1/claims', { body: { handle, nodePubkey: pubkey('dave') } });
          return { author: handle, text: `claim ${id} sig ${await lndOf('carol').signMessage(other.body.message)}` };
        },
      },
      {
        attack: 'a tweet without the claim id',
        code: 'claim_id_missing',
        forge: async (message: string, _id: string, handle: string) => ({ author: handle, text: `sig ${await lndOf('carol').signMessage(message)}` }),
      },
    ])('$attack: $code', async ({ code, forge }) => {
      const handle = await tippedHandle('atk', 1_500);
      const claim = await call('POST', '/v1/claims', { body: { handle, nodePubkey: pubkey('carol') } });
      const { author, text } = await forge(claim.body.message, claim.body.id, handle);
      const tweetId = await xServer.post(author, text);
      const res = await call('POST', `/v1/claims/${claim.body.id}/proof`, { body: { tweet: tweetId } });
      expect(res.status).toBe(422);
      expect(res.body.error.code).toBe(code);
      await unchanged(handle, '1500000');
      expect((await call('GET', `/v1/claims/${claim.body.id}`)).body.state).toBe('open');
    });

    it("a retweet by the handle of someone else's tweet carrying a valid signature: tweet_is_retweet", async () => {
      const handle = await tippedHandle('rt', 1_500);
      await xServer.post(handle, 'an ordinary tweet');
      // An attacker claims the handle for their own node and tweets the signature themselves...
      const claim = await call('POST', '/v1/claims', { body: { handle, nodePubkey: pubkey('dave') } });
      const bait = await xServer.post(`${handle}_x`, claim.body.tweetTemplate.replace('<signature>', await lndOf('dave').signMessage(claim.body.message)));
      // ...and the owner of the handle retweets it.
      const retweetId = await xServer.retweet(handle, bait);
      const res = await call('POST', `/v1/claims/${claim.body.id}/proof`, { body: { tweet: retweetId } });
      expect(res.status).toBe(422);
      expect(res.body.error.code).toBe('tweet_is_retweet');
      await unchanged(handle, '1500000');
    });

    it('a deleted tweet: tweet_not_found', async () => {
      const handle = await tippedHandle('del', 1_500);
      const claim = await call('POST', '/v1/claims', { body: { handle, nodePubkey: pubkey('carol') } });
      const tweetId = await xServer.post(handle, claim.body.tweetTemplate.replace('<signature>', await lndOf('carol').signMessage(claim.body.message)));
      await xServer.remove(handle, tweetId);
      const res = await call('POST', `/v1/claims/${claim.body.id}/proof`, { body: { tweet: tweetId } });
      expect(res.status).toBe(422);
      expect(res.body.error.code).toBe('tweet_not_found');
      await unchanged(handle, '1500000');
    });

    it('an expired challenge: challenge_expired', async () => {
      // A tipd of its own whose challenges expire in 3 s, so that the other tests have their time.
      const short = await startTipd({ TIPD_CLAIM_EXPIRY_SECONDS: '3', TIPD_CLAIM_RATE_LIMIT_PER_MINUTE: '0' });
      try {
        const handle = await tippedHandle('late', 1_500, short.url);
        const claim = await api(short.url, 'POST', '/v1/claims', { body: { handle, nodePubkey: pubkey('carol') } });
        const signature = await lndOf('carol').signMessage(claim.body.message);
        await new Promise((resolve) => setTimeout(resolve, Date.parse(claim.body.expiresAt) - Date.now() + 100));
        const tweetId = await xServer.post(handle, claim.body.tweetTemplate.replace('<signature>', signature));
        const res = await api(short.url, 'POST', `/v1/claims/${claim.body.id}/proof`, { body: { tweet: tweetId } });
        expect(res.status).toBe(410);
        expect(res.body.error.code).toBe('challenge_expired');
        await unchanged(handle, '1500000', short.url);
      } finally {
        await short.stop();
      }
    });

    it('an unknown claim, or a tweet that is not one', async () => {
      expect((await call('POST', '/v1/claims/tipd-0000000000000000/proof', { body: { tweet: '1' } })).body.error.code).toBe('claim_not_found');
      const claim = await call('POST', '/v1/claims', { body: { handle: 'whoever', nodePubkey: pubkey('carol') } });
      const res = await call('POST', `/v1/claims/${claim.body.id}/proof`, { body: { tweet: 'https://example.com/status/12' } });
      expect(res.status).toBe(400);
      expect(res.body.error.details.issues[0].path).toBe('tweet');
    });
  });

  it.each([
    ['rate_limited', 503, 'x_rate_limited', 429],
    ['unauthorized', 502, 'x_unauthorized', 401],
    ['unavailable', 503, 'x_unavailable', 503],
  ] as const)(
    'when the X API answers %s, says so with the upstream status; the same proof works once it is back',
    async (mode, status, code, upstreamStatus) => {
      const handle = freshHandle('xdown');
      const claim = await call('POST', '/v1/claims', { body: { handle, nodePubkey: pubkey('carol') } });
      const tweetId = await xServer.post(handle, claim.body.tweetTemplate.replace('<signature>', await lndOf('carol').signMessage(claim.body.message)));
      await xServer.mode(mode);
      const res = await call('POST', `/v1/claims/${claim.body.id}/proof`, { body: { tweet: tweetId } });
      expect(res.status).toBe(status);
      expect(res.body.error).toMatchObject({ code, details: { upstreamStatus } });
      await xServer.mode('ok');
      expect((await call('POST', `/v1/claims/${claim.body.id}/proof`, { body: { tweet: tweetId } })).body.state).toBe('verified');
    },
  );
});

describe('a handle that changes hands', () => {
  it('moves at once to another node when the same X account proves again', async () => {
    const handle = freshHandle('mover');
    expect((await claimWithTweet(tipd.url, handle, 'carol')).proof.body.state).toBe('verified');
    const second = await claimWithTweet(tipd.url, handle, 'dave');
    expect(second.proof.body.state).toBe('verified');
    expect((await call('GET', `/v1/handles/${handle}`)).body.binding.nodePubkey).toBe(pubkey('dave'));
  });

  it('waits out the cooling-off when another X account (a recycled handle) proves it, with an event, then moves', async () => {
    const handle = freshHandle('recyc');
    const first = await claimWithTweet(tipd.url, handle, 'carol');
    const firstUserId = first.proof.body.binding.xUserId;
    // The first owner renames; a new account takes the old name.
    await xServer.rename(handle, freshHandle('gone'));
    const watcher = await connect(tipd.url);
    watcher.send({ type: 'follow', handle });
    await watcher.next((m) => m.type === 'ready' && (m.topics ?? []).includes(`handle:${handle}`));
    const second = await claimWithTweet(tipd.url, handle, 'dave');
    expect(second.proof.status).toBe(200);
    expect(second.proof.body.state).toBe('cooling_off');
    expect(second.proof.body.binding.xUserId).not.toBe(firstUserId);
    const during = (await call('GET', `/v1/handles/${handle}`)).body;
    expect(during.binding).toMatchObject({ nodePubkey: pubkey('carol'), xUserId: firstUserId });
    expect(during.pendingBinding).toMatchObject({ nodePubkey: pubkey('dave'), effectiveAt: second.proof.body.binding.effectiveAt });
    const moved = await eventually(async () => {
      const view = (await call('GET', `/v1/handles/${handle}`)).body;
      return view.pendingBinding === null ? view : undefined;
    }, 20_000);
    expect(moved.binding).toMatchObject({ nodePubkey: pubkey('dave'), xUserId: second.proof.body.binding.xUserId });
    const events = watcher.messages.filter((m) => m.event).map((m) => [m.event, m.data?.nodePubkey]);
    expect(events).toEqual([
      ['claim.cooling_off', pubkey('dave')],
      ['claim.verified', pubkey('dave')],
    ]);
    watcher.close();
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(second.proof.body.binding.effectiveAt));
  });
});

describe('the account a handle is bound to', () => {
  it('proving it again while another account waits out its cooling-off cancels the move', async () => {
    const handle = freshHandle('back');
    const away = freshHandle('away');
    const first = await claimWithTweet(tipd.url, handle, 'carol');
    await xServer.rename(handle, away);
    const second = await claimWithTweet(tipd.url, handle, 'dave');
    expect(second.proof.body.state).toBe('cooling_off');
    // The newcomer gives the name up; the first owner takes it back and proves it again.
    await xServer.rename(handle, freshHandle('newbie'));
    await xServer.rename(away, handle);
    const third = await claimWithTweet(tipd.url, handle, 'carol');
    expect(third.proof.body).toMatchObject({ state: 'verified', binding: { xUserId: first.proof.body.binding.xUserId } });
    expect((await call('GET', `/v1/claims/${second.claimId}`)).body.state).toBe('cancelled');
    const view = (await call('GET', `/v1/handles/${handle}`)).body;
    expect(view).toMatchObject({ pendingBinding: null, binding: { nodePubkey: pubkey('carol') } });
  });
});

describe('claims from one address', () => {
  it('are limited per minute, as each costs LND and X API calls (429 rate_limited)', async () => {
    const limited = await startTipd({ TIPD_CLAIM_RATE_LIMIT_PER_MINUTE: '2' });
    try {
      const ask = () => api(limited.url, 'POST', '/v1/claims', { body: { handle: 'limited', nodePubkey: pubkey('carol') } });
      expect((await ask()).status).toBe(201);
      expect((await ask()).status).toBe(201);
      const third = await ask();
      expect(third.status).toBe(429);
      expect(third.body.error.code).toBe('rate_limited');
      // Other calls are not held back by it.
      expect((await api(limited.url, 'GET', '/v1/handles/limited')).status).toBe(200);
    } finally {
      await limited.stop();
    }
  });
});

describe('telling a creator', () => {
  it('gives a text and a tweet link naming the sats that wait, until the handle is claimed', async () => {
    const handle = await tippedHandle('notify', 2_345);
    const res = await call('GET', `/v1/handles/@${handle}/notify`);
    expect(res.status).toBe(200);
    expect(res.body.text).toBe(
      `@${handle} 2,345 sats from 1 supporter are waiting for you on tipd. Claim them with your Lightning wallet: https://tips.regtest.example/@${handle}/claim`,
    );
    expect(res.body.claimUrl).toBe(`https://tips.regtest.example/@${handle}/claim`);
    expect(res.body.intentUrl).toBe(`https://x.com/intent/tweet?text=${encodeURIComponent(res.body.text)}`);
    expect((await call('GET', `/v1/handles/${freshHandle('nobody')}/notify`)).body.error.code).toBe('nothing_waiting');
    await claimWithTweet(tipd.url, handle, 'carol');
    expect((await call('GET', `/v1/handles/${handle}/notify`)).body.error.code).toBe('handle_claimed');
  });
});
