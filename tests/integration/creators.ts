// What the claim and payout tests share: posting on the stack's local X server as a given user,
// switching its failure modes, fresh handles, and a creator's whole claim made with their real node.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import { readPids } from '../../regtest/procs.ts';
import type { NodeName } from '../../regtest/topology.ts';
import { api, eventually, lndOf, stack } from './helpers.ts';

const run = promisify(execFile);

async function x<T = any>(method: string, route: string, options: { user?: string; appToken?: boolean; body?: unknown } = {}): Promise<T> {
  const token = options.user ? `user:${options.user}` : options.appToken ? stack().x.appToken : undefined;
  const res = await fetch(`${stack().x.url}${route}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json' },
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  if (!res.ok) throw new Error(`X server: ${method} ${route} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}

export const xServer = {
  /** Posts `text` as `username`; the tweet's id. */
  post: async (username: string, text: string): Promise<string> =>
    (await x<{ data: { id: string } }>('POST', '/2/tweets', { user: username, body: { text } })).data.id,
  remove: (username: string, id: string) => x('DELETE', `/2/tweets/${id}`, { user: username }),
  /** `username` retweets tweet `id`; the retweet's own id. */
  retweet: async (username: string, id: string): Promise<string> => {
    const user = await x<{ data: { id: string } }>('GET', `/2/users/by/username/${username}`, { appToken: true });
    return (await x<{ data: { id: string } }>('POST', `/2/users/${user.data.id}/retweets`, { user: username, body: { tweet_id: id } })).data.id;
  },
  mode: (mode: 'ok' | 'rate_limited' | 'unauthorized' | 'unavailable') => x('POST', '/_control/mode', { body: { mode } }),
  /** The account of `from` takes the name `to`; `from` is free for a new account. */
  rename: (from: string, to: string) => x('POST', '/_control/rename', { body: { from, to } }),
};

/** A handle no earlier run used: `prefix` (up to 8 characters) and 6 hex digits. */
export const freshHandle = (prefix: string): string => `${prefix}_${randomBytes(3).toString('hex')}`;

export const channelBalance = (node: NodeName): Promise<bigint> => lndOf(node).getChannelBalanceMsat();

export interface Claimed {
  claimId: string;
  tweetId: string;
  proof: { status: number; body: any };
}

/**
 * `node` asks tipd at `url` for a challenge for `handle`, signs it with its own LND, tweets it as
 * `author` (the handle unless told otherwise) and sends the proof.
 */
export async function claimWithTweet(url: string, handle: string, node: NodeName, author = handle): Promise<Claimed> {
  const claim = await api(url, 'POST', '/v1/claims', { body: { handle, nodePubkey: stack().nodes[node].pubkey } });
  expect(claim.status).toBe(201);
  const signature = await lndOf(node).signMessage(claim.body.message);
  const tweetId = await xServer.post(author, claim.body.tweetTemplate.replace('<signature>', signature));
  const proof = await api(url, 'POST', `/v1/claims/${claim.body.id}/proof`, { body: { tweet: `https://x.com/${author}/status/${tweetId}?s=20` } });
  return { claimId: claim.body.id, tweetId, proof };
}

/** `handle` (tweeting as itself) claims the tipd at `url` for `lightningAddress`: the claim, its template tweeted, the proof sent. */
export async function claimForAddress(url: string, handle: string, lightningAddress: string): Promise<Claimed> {
  const claim = await api(url, 'POST', '/v1/claims', { body: { handle, lightningAddress } });
  expect(claim.status).toBe(201);
  const tweetId = await xServer.post(handle, claim.body.tweetTemplate);
  const proof = await api(url, 'POST', `/v1/claims/${claim.body.id}/proof`, { body: { tweet: tweetId } });
  return { claimId: claim.body.id, tweetId, proof };
}

export interface Payout {
  id: string;
  state: 'pending' | 'succeeded' | 'failed';
  amountMsat: string;
  feeMsat: string | null;
  feeCapMsat: string;
  nodePubkey: string;
  paymentHash: string;
}

export const payoutsOf = async (url: string, handle: string): Promise<Payout[]> => (await api(url, 'GET', `/v1/payouts?handle=${handle}`)).body.payouts;

/** Waits until `handle` has `count` payouts that succeeded; returns them, newest first. */
export const succeededPayouts = (url: string, handle: string, count: number, timeoutMs = 60_000): Promise<Payout[]> =>
  eventually(async () => {
    const done = (await payoutsOf(url, handle)).filter((p) => p.state === 'succeeded');
    return done.length >= count ? done : undefined;
  }, timeoutMs);

/** A node's lncli, as stack.json gives it; the parsed JSON answer. */
export async function lncli<T = any>(node: NodeName, ...args: string[]): Promise<T> {
  const [bin, ...base] = stack().nodes[node].lncli.split(' ');
  const { stdout } = await run(bin!, [...base, ...args], { timeout: 60_000 });
  return JSON.parse(stdout) as T;
}

/** Pauses (SIGSTOP) or resumes (SIGCONT) a node's LND process: a paused node holds HTLCs in flight. */
export function signalNode(node: NodeName, signal: 'SIGSTOP' | 'SIGCONT'): void {
  const proc = readPids(stack().dataDir).find((p) => p.name === node);
  if (!proc) throw new Error(`no pid of ${node} in the stack`);
  process.kill(proc.pid, signal);
}
