// Claims over HTTP: a creator asks for a challenge and proves it with a tweet that carries it.
// Refusals (claims/, and the X API failing) are answered by the error handler.
import { z } from 'zod';
import type { Claims } from '../claims/claims.ts';
import { Refusal } from '../errors.ts';
import { handleSchema } from '../escrow/handles.ts';
import { body, idempotencyOf, idParams, parse } from './http.ts';
import type { Api } from './openapi.ts';
import { claimView, proofOutcome } from './views.ts';
import { rateLimiter } from './rate-limit.ts';
import { parseAddress } from '../lnurl/address.ts';
import type { Destination } from '../payouts/destination.ts';
import { tweetIdSchema } from './tips.ts';

/** A claim names where to be paid: a node (keysend) or a Lightning Address, exactly one. */
const claimBody = z
  .strictObject({
    handle: handleSchema,
    nodePubkey: z
      .string()
      .regex(/^0[23][0-9a-fA-F]{64}$/, 'must be a node public key: 66 hex characters starting with 02 or 03')
      .transform((s) => s.toLowerCase())
      .optional(),
    lightningAddress: z.string().max(320).optional(),
  })
  .refine((b) => (b.nodePubkey === undefined) !== (b.lightningAddress === undefined), {
    message: 'name exactly one of nodePubkey (a Lightning node) or lightningAddress (name@domain)',
    path: ['nodePubkey'],
  })
  // The same rule, as the API's description says it.
  .meta({ oneOf: [{ required: ['nodePubkey'] }, { required: ['lightningAddress'] }] });
const proofBody = z.strictObject({ tweet: tweetIdSchema });

/**
 * `claimsPerMinute`: claims and proofs a minute per address (0: no limit), far fewer than other
 * calls: each one costs LND lookups or an X API call of the app's own quota.
 */
/** `allowLocal`: regtest, where creators' addresses are on localhost (see `callableHost`). */
export function claimRoutes(api: Api, claims: Claims, claimsPerMinute: number, allowLocal: boolean): void {
  const limit = rateLimiter(claimsPerMinute, async () => false);
  api.route(
    {
      method: 'post',
      path: '/v1/claims',
      summary: 'Ask for a challenge to claim a handle for a Lightning node or a Lightning Address (Idempotency-Key accepted)',
      refusedWhileWindingDown: true,
      auth: 'none',
      body: claimBody,
      responses: { 201: '{ id, message, expiresAt, tweetTemplate }' },
      returns: claimView,
      errors: [
        'invalid_handle',
        'idempotency_key_reused',
        'own_node',
        'node_unreachable',
        'keysend_unsupported',
        'address_invalid',
        'address_unreachable',
        'address_limits',
        'overloaded',
        'lnd_unavailable',
        'lnd_error',
      ],
    },
    limit,
    async (req, res) => {
      const input = parse(claimBody, body(req));
      const destination: Destination =
        input.lightningAddress === undefined
          ? { type: 'node', nodePubkey: input.nodePubkey! }
          : { type: 'lightning_address', address: parseAddress(input.lightningAddress, allowLocal) };
      res.status(201).json(await claims.create(input.handle, destination, idempotencyOf(req)));
    },
  );

  api.route(
    {
      method: 'get',
      path: '/v1/claims/:id',
      summary: 'A claim and where it stands',
      auth: 'none',
      params: idParams,
      responses: { 200: 'the claim' },
      returns: claimView,
      errors: ['claim_not_found'],
    },
    async (req, res) => {
      const { id } = parse(idParams, req.params, 'path');
      const claim = await claims.get(id);
      if (!claim) throw new Refusal('claim_not_found');
      res.json(claim);
    },
  );

  api.route(
    {
      method: 'post',
      path: '/v1/claims/:id/proof',
      summary: "Prove a claim with the tweet that carries its proof (a node's signature, or the Lightning Address)",
      refusedWhileWindingDown: true,
      auth: 'none',
      params: idParams,
      body: proofBody,
      responses: { 200: '{ state: verified | cooling_off, binding }' },
      returns: proofOutcome,
      errors: [
        'claim_not_found',
        'challenge_used',
        'challenge_expired',
        'tweet_not_found',
        'tweet_before_challenge',
        'tweet_is_retweet',
        'author_mismatch',
        'claim_id_missing',
        'bad_signature',
        'address_mismatch',
        'own_node',
        'node_unreachable',
        'keysend_unsupported',
        'address_unreachable',
        'address_limits',
        'x_unauthorized',
        'x_invalid_answer',
        'x_rate_limited',
        'x_unavailable',
        'x_not_configured',
        'overloaded',
        'lnd_unavailable',
        'lnd_error',
      ],
    },
    limit,
    async (req, res) => {
      const { id } = parse(idParams, req.params, 'path');
      const input = parse(proofBody, body(req));
      res.json(await claims.prove(id, input.tweet));
    },
  );
}
