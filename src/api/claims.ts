// Claims and payouts over HTTP: a creator asks for a challenge and proves it with a tweet; anyone
// can see a handle's binding (with its evidence), its payouts, and a text to tell its creator.
import type { Request } from 'express';
import { z } from 'zod';
import type { Claims } from '../claims/claims.ts';
import { handleSchema, parseHandle, type Handle } from '../escrow/handles.ts';
import type { Payouts } from '../payouts/payouts.ts';
import type { Tips } from '../escrow/tips.ts';
import { XApiError, type XApiErrorCode } from '../x/client.ts';
import { ApiError } from './errors.ts';
import { body, parse } from './http.ts';
import type { Api } from './openapi.ts';
import { rateLimiter } from './rate-limit.ts';
import { tweetIdSchema } from './tips.ts';

const claimBody = z.strictObject({
  handle: handleSchema,
  nodePubkey: z
    .string()
    .regex(/^0[23][0-9a-fA-F]{64}$/, 'must be a node public key: 66 hex characters starting with 02 or 03')
    .transform((s) => s.toLowerCase()),
});
const proofBody = z.strictObject({ tweet: tweetIdSchema });
const payoutQuery = z.strictObject({
  handle: handleSchema,
  cursor: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
});

/** The X API failing is not the creator's doing: 503 while it may come back, 502 when it answers wrong. */
const xStatus: Record<XApiErrorCode, number> = {
  x_not_configured: 503,
  x_rate_limited: 503,
  x_unavailable: 503,
  x_unauthorized: 502,
  x_invalid_answer: 502,
};

function asApiError(err: unknown): unknown {
  if (err instanceof XApiError) {
    return new ApiError(xStatus[err.code], err.code, `${err.message}; the proof can be sent again`, {
      upstreamStatus: err.upstreamStatus ?? null,
      ...(err.resetAt ? { retryAfter: err.resetAt.toISOString() } : {}),
    });
  }
  return err;
}

const handleParam = (req: Request): Handle => {
  const handle = parseHandle(req.params.handle as string);
  if (!handle) throw new ApiError(400, 'invalid_handle', 'must be an X handle: 1 to 15 letters, digits or _, with an optional @');
  return handle;
};

/**
 * `claimsPerMinute`: claims and proofs a minute per address (0: no limit), far fewer than other
 * calls: each one costs LND lookups or an X API call of the app's own quota.
 */
export function claimRoutes(api: Api, claims: Claims, payouts: Payouts, tips: Tips, claimsPerMinute: number): void {
  const limit = rateLimiter(claimsPerMinute, async () => false);
  api.route(
    {
      method: 'post',
      path: '/v1/claims',
      summary: 'Ask for a challenge to claim a handle for a Lightning node',
      auth: 'none',
      body: claimBody,
      responses: {
        201: '{ id, message, expiresAt, tweetTemplate }',
        400: 'invalid_request | own_node',
        422: 'node_unreachable | keysend_unsupported',
        429: 'rate_limited',
      },
    },
    limit,
    async (req, res) => {
      const input = parse(claimBody, body(req));
      try {
        res.status(201).json(await claims.create(input.handle, { type: 'node', nodePubkey: input.nodePubkey }));
      } catch (err) {
        throw asApiError(err);
      }
    },
  );

  api.route(
    { method: 'get', path: '/v1/claims/:id', summary: 'A claim and where it stands', auth: 'none', responses: { 200: 'the claim', 404: 'claim_not_found' } },
    async (req, res) => {
      const claim = await claims.get(req.params.id as string);
      if (!claim) throw new ApiError(404, 'claim_not_found', 'no such claim');
      res.json(claim);
    },
  );

  api.route(
    {
      method: 'post',
      path: '/v1/claims/:id/proof',
      summary: 'Prove a claim with the tweet that carries its signature',
      auth: 'none',
      body: proofBody,
      responses: {
        200: '{ state: verified | cooling_off, binding }',
        404: 'claim_not_found',
        409: 'challenge_used',
        410: 'challenge_expired',
        422: 'tweet_not_found | tweet_before_challenge | tweet_is_retweet | author_mismatch | claim_id_missing | bad_signature | node_unreachable | keysend_unsupported',
        429: 'rate_limited',
        502: 'x_unauthorized | x_invalid_answer',
        503: 'x_rate_limited | x_unavailable | x_not_configured',
      },
    },
    limit,
    async (req, res) => {
      const input = parse(proofBody, body(req));
      try {
        res.json(await claims.prove(req.params.id as string, input.tweet));
      } catch (err) {
        throw asApiError(err);
      }
    },
  );

  api.route(
    {
      method: 'get',
      path: '/v1/handles/:handle',
      summary: "A handle's escrow and binding, public",
      auth: 'none',
      responses: { 200: '{ handle, claimed, pendingMsat, supporters, tips, binding, pendingBinding }', 400: 'invalid_handle' },
    },
    async (req, res) => {
      const handle = handleParam(req);
      const [view, { binding, pending }] = await Promise.all([tips.handle(handle), claims.bindingOf(handle.key)]);
      res.json({ ...view, binding: binding ?? null, pendingBinding: pending ?? null });
    },
  );

  api.route(
    {
      method: 'get',
      path: '/v1/handles/:handle/notify',
      summary: 'A text (and tweet link) telling the creator that sats wait',
      auth: 'none',
      responses: { 200: '{ text, intentUrl, pendingMsat }', 400: 'invalid_handle', 409: 'handle_claimed | nothing_waiting' },
    },
    async (req, res) => {
      const handle = handleParam(req);
      const view = await tips.handle(handle);
      if (view.claimed) throw new ApiError(409, 'handle_claimed', `@${view.handle} has claimed its tips: they are paid out as they come`);
      const pendingSat = BigInt(view.pendingMsat) / 1000n;
      if (pendingSat === 0n) throw new ApiError(409, 'nothing_waiting', `no sats wait for @${view.handle}`);
      const site = `${req.protocol}://${req.get('host')}`;
      const supporters = view.supporters === 1 ? '1 supporter' : `${view.supporters} supporters`;
      const text = `@${view.handle} ${pendingSat.toLocaleString('en-US')} sats from ${supporters} are waiting for you on tipd. Claim them with your Lightning node: POST ${site}/v1/claims`;
      res.json({ handle: view.handle, pendingMsat: view.pendingMsat, text, intentUrl: `https://x.com/intent/tweet?text=${encodeURIComponent(text)}` });
    },
  );

  api.route(
    {
      method: 'get',
      path: '/v1/payouts',
      summary: "A handle's payouts, newest first, public",
      auth: 'none',
      query: payoutQuery,
      responses: { 200: '{ handle, payouts, next }', 400: 'invalid_request' },
    },
    async (req, res) => {
      const query = parse(payoutQuery, req.query, 'query');
      const page = await payouts.list(query.handle.key, query.limit, query.cursor);
      res.json({ handle: query.handle.display, payouts: page.payouts, next: page.next ?? null });
    },
  );
}
