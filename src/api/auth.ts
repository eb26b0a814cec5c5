// Sign-in with a wallet over HTTP (LNURL-auth, LUD-04): the browser asks for a sign-in and polls
// it; the wallet answers at the LNURL's callback (under /lnurl/: LNURL's error format, any origin).
// A signed-in supporter lists the wallet keys linked to the account and unlinks one.
import type { RequestHandler } from 'express';
import { z } from 'zod';
import type { LnurlAuth } from '../auth/lnurl-auth.ts';
import type { Supporters } from '../supporters/supporters.ts';
import { bearerTokenOf, body, idParams, parse, requireSupporter, supporterOf } from './http.ts';
import type { Api } from './openapi.ts';
import { rateLimiter } from './rate-limit.ts';
import { authChallengeView, authPollView, linkedKeysView, lnurlOk } from './views.ts';

const createBody = z.strictObject({ action: z.enum(['login', 'link']).default('login') });

/**
 * What the wallet adds to the LNURL's query (LUD-04); their form is checked by auth/signature.ts
 * (refused as `lnurl_auth_malformed`, as wallets expect): the patterns are for the description.
 */
const callbackQuery = z.object({
  tag: z.literal('login'),
  k1: z.string().max(64).meta({ pattern: '^[0-9a-fA-F]{64}$' }),
  sig: z.string().max(144).meta({ pattern: '^(?:[0-9a-fA-F]{2}){8,72}$' }),
  key: z.string().max(66).meta({ pattern: '^0[23][0-9a-fA-F]{64}$' }),
  // Informational: the action that counts is the one the sign-in was made with.
  action: z.enum(['register', 'login', 'link', 'auth']).optional(),
});

/** A sign-in's id is the browser's secret (it gets a token): sent in a body, never in a URL. */
const pollBody = idParams;

const keyParams = z.strictObject({
  key: z.string().regex(/^0[23][0-9a-fA-F]{64}$/, 'must be a linking key: 66 hex characters starting with 02 or 03'),
});

/**
 * `signInsPerMinute`: sign-ins asked for a minute per address (0: no limit), far fewer than other
 * calls: each one is stored until it is forgotten, 15 minutes later.
 */
export function authRoutes(api: Api, auth: LnurlAuth, supporters: Supporters, signInsPerMinute: number): void {
  const requireAuth = requireSupporter(supporters);
  const limit = rateLimiter(signInsPerMinute, async () => false);
  // A link needs the supporter's token; a login needs none.
  const supporterIfLink: RequestHandler = (req, res, next) => {
    const { action } = parse(createBody, body(req));
    if (action === 'link') return requireAuth(req, res, next);
    next();
  };

  api.route(
    {
      method: 'post',
      path: '/v1/auth/lnurl',
      summary:
        'Sign in with a wallet: an LNURL to sign, and an id to poll with (POST /v1/auth/lnurl/poll); { action: "link" } with a token links a wallet to the account',
      auth: 'none',
      body: createBody,
      responses: { 201: '{ id, lnurl, k1, expiresAt }' },
      returns: authChallengeView,
      errors: ['unauthorized', 'lnurl_unavailable', 'overloaded'],
    },
    limit,
    supporterIfLink,
    async (req, res) => {
      const { action } = parse(createBody, body(req));
      res.status(201).json(await auth.create(action, action === 'link' ? bearerTokenOf(req) : undefined));
    },
  );

  api.route(
    {
      method: 'post',
      path: '/v1/auth/lnurl/poll',
      summary:
        'Where a sign-in stands, asked with its id (in the body: the id is a secret): pending, signed_in (its token in the first answer after the signature), linked (with the key) or expired',
      auth: 'none',
      body: pollBody,
      responses: { 200: '{ state, expiresAt?, supporterId?, token?, key? }' },
      returns: authPollView,
      errors: ['lnurl_auth_not_found', 'overloaded'],
    },
    async (req, res) => {
      const { id } = parse(pollBody, body(req));
      res.set('Cache-Control', 'no-store').json(await auth.poll(id));
    },
  );

  api.route(
    {
      method: 'get',
      path: '/lnurl/auth',
      summary: "LNURL-auth callback (LUD-04): the wallet's signature of k1 with its linking key",
      auth: 'none',
      query: callbackQuery,
      responses: { 200: '{ status: "OK" }' },
      returns: lnurlOk,
      errors: [
        'lnurl_auth_malformed',
        'lnurl_auth_bad_signature',
        'lnurl_auth_unknown',
        'lnurl_auth_expired',
        'lnurl_auth_used',
        'lnurl_auth_key_taken',
        'lnurl_auth_link_cancelled',
        'overloaded',
      ],
      lnurl: true,
    },
    async (req, res) => {
      const query = parse(callbackQuery, req.query, 'query');
      await auth.signed(query);
      res.json({ status: 'OK' });
    },
  );

  api.route(
    {
      method: 'get',
      path: '/v1/auth/keys',
      summary: 'The wallet keys linked to the account (each signs in to it)',
      auth: 'supporter',
      responses: { 200: '{ keys: [{ key, linkedAt }] }' },
      returns: linkedKeysView,
    },
    requireAuth,
    async (_req, res) => {
      res.set('Cache-Control', 'no-store').json({ keys: await auth.linkedKeys(supporterOf(res)) });
    },
  );

  api.route(
    {
      method: 'delete',
      path: '/v1/auth/keys/:key',
      summary: 'Unlink a wallet key from the account: it no longer signs in to it',
      auth: 'supporter',
      params: keyParams,
      responses: { 204: 'unlinked' },
      errors: ['lnurl_auth_key_not_linked', 'overloaded'],
    },
    requireAuth,
    async (req, res) => {
      const { key } = parse(keyParams, req.params, 'path');
      await auth.unlink(supporterOf(res), key);
      res.status(204).end();
    },
  );
}
