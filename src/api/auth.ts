// Sign-in with a wallet over HTTP (LNURL-auth, LUD-04): the browser asks for a sign-in and polls
// it; the wallet answers at the LNURL's callback (under /lnurl/: LNURL's error format, any origin).
import type { RequestHandler } from 'express';
import { z } from 'zod';
import type { LnurlAuth } from '../auth/lnurl-auth.ts';
import type { Supporters } from '../supporters/supporters.ts';
import { body, idParams, parse, requireSupporter, supporterOf } from './http.ts';
import type { Api } from './openapi.ts';

const createBody = z.strictObject({ action: z.enum(['login', 'link']).default('login') });

/** What the wallet adds to the LNURL's query (LUD-04); their form is checked by auth/signature.ts. */
const callbackQuery = z.object({
  tag: z.literal('login'),
  k1: z.string().max(64),
  sig: z.string().max(144),
  key: z.string().max(66),
  // Informational: the action that counts is the one the sign-in was made with.
  action: z.enum(['register', 'login', 'link', 'auth']).optional(),
});

export function authRoutes(api: Api, auth: LnurlAuth, supporters: Supporters): void {
  const requireAuth = requireSupporter(supporters);
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
      summary: 'Sign in with a wallet: an LNURL to sign, and an id to poll; { action: "link" } with a token links a wallet to the account',
      auth: 'none',
      body: createBody,
      responses: { 201: '{ id, lnurl, k1, expiresAt }' },
      errors: ['unauthorized', 'lnurl_unavailable', 'overloaded'],
    },
    supporterIfLink,
    async (req, res) => {
      const { action } = parse(createBody, body(req));
      res.status(201).json(await auth.create(action, action === 'link' ? supporterOf(res) : undefined));
    },
  );

  api.route(
    {
      method: 'get',
      path: '/v1/auth/lnurl/:id',
      summary: 'Where a sign-in stands: pending, signed_in (its token in the first answer after the signature), linked or expired',
      auth: 'none',
      params: idParams,
      responses: { 200: '{ state, expiresAt?, supporterId?, token? }' },
      errors: ['lnurl_auth_not_found', 'overloaded'],
    },
    async (req, res) => {
      const { id } = parse(idParams, req.params, 'path');
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
      errors: [
        'lnurl_auth_malformed',
        'lnurl_auth_bad_signature',
        'lnurl_auth_unknown',
        'lnurl_auth_expired',
        'lnurl_auth_used',
        'lnurl_auth_key_taken',
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
}
