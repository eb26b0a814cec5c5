// Creators with any wallet, on the real stack: a handle claimed for a Lightning Address with just a
// tweet, and its escrow paid there by LNURL-pay, exactly once. The address is dave's on the stack,
// served by an LNURL server tipd did not write (chill117's `lnurl`, regtest/lightning-address.ts),
// whose invoices dave's LND makes: what tipd pays shows in dave's real balance.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { channelBalance, freshHandle, succeededPayouts, xServer } from './creators.ts';
import { api, eventually, fundedSupporter, lndOf, stack, startTipd, type TipdProcess } from './helpers.ts';

let tipd: TipdProcess;
const address = () => stack().lightningAddresses[0]!.address;
beforeAll(async () => {
  tipd = await startTipd({ TIPD_PAYOUT_MIN_SAT: '1000', TIPD_PAYOUT_RETRY_SECONDS: '1', TIPD_CLAIM_RATE_LIMIT_PER_MINUTE: '0' });
});
afterAll(async () => {
  await tipd.stop();
});

const call = (method: string, route: string, body?: unknown) => api(tipd.url, method, route, body === undefined ? {} : { body });

/** Asks for a claim of `handle` for `lightningAddress`, tweets its template as `author`, sends the proof. */
async function claimForAddress(
  handle: string,
  lightningAddress: string,
  { author = handle, text }: { author?: string; text?: (template: string) => string } = {},
) {
  const claim = await call('POST', '/v1/claims', { handle, lightningAddress });
  expect(claim.status).toBe(201);
  const tweetId = await xServer.post(author, (text ?? ((t) => t))(claim.body.tweetTemplate));
  const proof = await call('POST', `/v1/claims/${claim.body.id}/proof`, { tweet: tweetId });
  return { claim: claim.body, tweetId, proof };
}

async function tipped(handle: string, sat: number): Promise<void> {
  const { token } = await fundedSupporter(tipd.url, sat + 1_000);
  expect((await api(tipd.url, 'POST', '/v1/tips', { token, body: { handle, amountSat: sat } })).status).toBe(201);
}

describe('a handle claimed for a Lightning Address', () => {
  it('is claimed with a tweet naming the address, and its escrow is paid there: dave’s balance rises by exactly the payout', async () => {
    const handle = freshHandle('addr');
    await tipped(handle, 20_000);
    const daveBefore = await channelBalance('dave');
    const { claim, proof } = await claimForAddress(handle, address().toUpperCase());
    expect(claim.lightningAddress).toBe(address());
    expect(claim.tweetTemplate).toBe(`Claiming my tips for @${handle} on tipd. claim ${claim.id} address ${address()}`);
    expect(claim.message).toContain(`to address ${address()} via tipd node ${stack().nodes.hub.pubkey}`);
    expect(proof.status).toBe(200);
    expect(proof.body).toMatchObject({ state: 'verified', binding: { lightningAddress: address(), signature: address() } });
    expect((await call('GET', `/v1/handles/${handle}`)).body.binding).toMatchObject({ lightningAddress: address() });

    const [payout] = await succeededPayouts(tipd.url, handle, 1);
    expect(payout).toMatchObject({ lightningAddress: address(), descriptionHash: 'matched', state: 'succeeded' });
    expect(payout).not.toHaveProperty('preimage');
    expect(BigInt(payout!.amountMsat) % 1000n).toBe(0n);
    expect(BigInt(payout!.amountMsat) + BigInt(payout!.feeMsat!)).toBeLessThanOrEqual(20_000_000n);
    await eventually(async () => ((await channelBalance('dave')) - daveBefore === BigInt(payout!.amountMsat) ? true : undefined));

    // A later tip is forwarded by itself.
    await tipped(handle, 3_000);
    const payouts = await succeededPayouts(tipd.url, handle, 2);
    await eventually(async () =>
      (await channelBalance('dave')) - daveBefore === payouts.reduce((sum, p) => sum + BigInt(p.amountMsat), 0n) ? true : undefined,
    );
  });

  it('pays an escrow above the address’s maxSendable in several payouts, each within it', async () => {
    const handle = freshHandle('split');
    await tipped(handle, 230_000);
    const daveBefore = await channelBalance('dave');
    expect((await claimForAddress(handle, address())).proof.status).toBe(200);
    const payouts = await succeededPayouts(tipd.url, handle, 3, 90_000);
    for (const payout of payouts) expect(BigInt(payout.amountMsat)).toBeLessThanOrEqual(100_000_000n);
    const paid = payouts.reduce((sum, p) => sum + BigInt(p.amountMsat), 0n);
    const fees = payouts.reduce((sum, p) => sum + BigInt(p.feeMsat!), 0n);
    expect(paid + fees + BigInt((await call('GET', `/v1/handles/${handle}`)).body.pendingMsat)).toBe(230_000_000n);
    await eventually(async () => ((await channelBalance('dave')) - daveBefore === paid ? true : undefined));
  });
});

describe('a handle moved between a node and an address', () => {
  it('by the same X account with a new proof: later payouts go to the new destination', async () => {
    const handle = freshHandle('move');
    const claim = (await call('POST', '/v1/claims', { handle, nodePubkey: stack().nodes.carol.pubkey })).body;
    const signature = await lndOf('carol').signMessage(claim.message);
    const tweet = await xServer.post(handle, claim.tweetTemplate.replace('<signature>', signature));
    expect((await call('POST', `/v1/claims/${claim.id}/proof`, { tweet })).body.binding).toMatchObject({ nodePubkey: stack().nodes.carol.pubkey });
    const { proof } = await claimForAddress(handle, address());
    expect(proof.body).toMatchObject({ state: 'verified', binding: { lightningAddress: address() } });
    expect(proof.body.binding).not.toHaveProperty('nodePubkey');
    await tipped(handle, 2_000);
    const [payout] = await succeededPayouts(tipd.url, handle, 1);
    expect(payout).toMatchObject({ lightningAddress: address() });
  });
});

describe('a claim for a Lightning Address refused, nothing changed', () => {
  it.each([
    ['not an address', 'dave', 400, 'address_invalid'],
    ['an address the server does not know', () => address().replace('dave@', 'nobody@'), 422, 'address_unreachable'],
    ['an address nobody answers for', 'dave@localhost:1', 422, 'address_unreachable'],
  ])('%s', async (_what, lightningAddress, status, code) => {
    const handle = freshHandle('bad');
    const res = await call('POST', '/v1/claims', { handle, lightningAddress: typeof lightningAddress === 'function' ? lightningAddress() : lightningAddress });
    expect([res.status, res.body.error?.code]).toEqual([status, code]);
  });

  it('an address whose limits exclude the payouts', async () => {
    // Payouts start at 200,000 sat here; dave's address takes at most 100,000.
    const strict = await startTipd({ TIPD_PAYOUT_MIN_SAT: '200000' });
    try {
      const res = await api(strict.url, 'POST', '/v1/claims', { body: { handle: freshHandle('lim'), lightningAddress: address() } });
      expect([res.status, res.body.error.code]).toEqual([422, 'address_limits']);
    } finally {
      await strict.stop();
    }
  });

  it('both a node and an address, or neither', async () => {
    for (const body of [{ handle: 'carol' }, { handle: 'carol', lightningAddress: address(), nodePubkey: stack().nodes.dave.pubkey }]) {
      expect((await call('POST', '/v1/claims', body)).body.error.code).toBe('invalid_request');
    }
  });

  it.each([
    ['a tweet naming another address', { text: (t: string) => t.replace(/address \S+/, 'address mallory@evil.example') }, 'address_mismatch'],
    ['a tweet naming two addresses', { text: (t: string) => `${t} or mallory@evil.example` }, 'address_mismatch'],
    ['a tweet naming none', { text: (t: string) => t.replace(/address \S+/, '') }, 'address_mismatch'],
    ['a tweet by someone else', { author: 'mallory' }, 'author_mismatch'],
    ['a tweet without the claim id', { text: (t: string) => t.replace(/claim \S+/, '') }, 'claim_id_missing'],
  ])('%s', async (_what, options, code) => {
    const handle = freshHandle('twt');
    const { proof } = await claimForAddress(handle, address(), options);
    expect(proof.body.error?.code).toBe(code);
    expect((await call('GET', `/v1/handles/${handle}`)).body.binding).toBeNull();
  });

  it('a deleted tweet, or one posted after the challenge expired', async () => {
    const handle = freshHandle('del');
    const claim = (await call('POST', '/v1/claims', { handle, lightningAddress: address() })).body;
    const tweetId = await xServer.post(handle, claim.tweetTemplate);
    await xServer.remove(handle, tweetId);
    expect((await call('POST', `/v1/claims/${claim.id}/proof`, { tweet: tweetId })).body.error.code).toBe('tweet_not_found');
    const short = await startTipd({ TIPD_CLAIM_EXPIRY_SECONDS: '2', TIPD_CLAIM_RATE_LIMIT_PER_MINUTE: '0' });
    try {
      const late = (await api(short.url, 'POST', '/v1/claims', { body: { handle, lightningAddress: address() } })).body;
      await new Promise((resolve) => setTimeout(resolve, Date.parse(late.expiresAt) - Date.now() + 100));
      const lateTweet = await xServer.post(handle, late.tweetTemplate);
      expect((await api(short.url, 'POST', `/v1/claims/${late.id}/proof`, { body: { tweet: lateTweet } })).body.error.code).toBe('challenge_expired');
    } finally {
      await short.stop();
    }
    expect((await call('GET', `/v1/handles/${handle}`)).body.binding).toBeNull();
  });

  it('a retweet of the claim, or the same tweet twice', async () => {
    const handle = freshHandle('rt');
    const claim = (await call('POST', '/v1/claims', { handle, lightningAddress: address() })).body;
    const original = await xServer.post('mallory', claim.tweetTemplate);
    await xServer.post(handle, 'hello'); // the handle's account, on the local X server
    const retweet = await xServer.retweet(handle, original);
    expect((await call('POST', `/v1/claims/${claim.id}/proof`, { tweet: retweet })).body.error.code).toBe('tweet_is_retweet');
    const { claim: second, tweetId, proof } = await claimForAddress(handle, address());
    expect(proof.status).toBe(200);
    expect((await call('POST', `/v1/claims/${second.id}/proof`, { tweet: tweetId })).body.error.code).toBe('challenge_used');
  });
});
