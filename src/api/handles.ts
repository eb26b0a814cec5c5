// Handles over HTTP, public: what waits in a handle's escrow, who it is bound to (with the evidence),
// the handles with the most sats waiting, and a text a supporter can tweet to tell its creator that
// sats wait. Any web page may read them (CORS `*`: the tip button on other sites, web/button.ts).
import type { RequestHandler } from 'express';
import { z } from 'zod';
import type { Claims } from '../claims/claims.ts';
import { Refusal } from '../errors.ts';
import { handleSchema } from '../escrow/handles.ts';
import type { HandleView as EscrowView, Tips } from '../escrow/tips.ts';
import { encodeLnurl } from '../lnurl/lnurl.ts';
import { lightningAddress, payRequestUrl, type Site } from '../lnurl/pay.ts';
import { claimPageUrl } from '../pages/links.ts';
import { parse } from './http.ts';
import type { Api } from './openapi.ts';
import { handleView, notifyView, waitingHandles, type HandleView, type NotifyView, type WaitingHandles } from './views.ts';

const handleParams = z.strictObject({ handle: handleSchema });
/** The most handles the home page lists, and how often the list is read again. */
const waitingMax = 50;
const waitingRefreshMs = 30_000;

const waitingQuery = z.strictObject({ limit: z.coerce.number().int().min(1).max(waitingMax).default(10) });

/** Where the public reads are. */
export const handlesPath = '/v1/handles';

/**
 * Public reads: any origin may make them (they carry no credentials); mounted before the rate
 * limit, so that a page on another site also reads its refusals (api/server.ts).
 */
export const anyOrigin: RequestHandler = (_req, res, next) => {
  res.set('Access-Control-Allow-Origin', '*');
  next();
};

/**
 * `site`: where tipd is reached (TIPD_PUBLIC_URL), for the links it prints, the handle's Lightning
 * Address and LNURL; none without a public URL (never a request's Host).
 */
export function handleRoutes(api: Api, tips: Tips, claims: Claims, site: Site | undefined): void {
  // Reading every escrow's balance is not for each visit of the home page: once every so often.
  let waiting: { at: number; handles: Promise<EscrowView[]> } | undefined;
  api.route(
    {
      method: 'get',
      path: '/v1/handles',
      summary: 'The unclaimed handles with the most sats waiting, public (refreshed every 30 s)',
      auth: 'none',
      query: waitingQuery,
      responses: { 200: '{ handles: [{ handle, pendingMsat, supporters }] }' },
      returns: waitingHandles,
    },
    async (req, res) => {
      const { limit } = parse(waitingQuery, req.query, 'query');
      if (!waiting || Date.now() - waiting.at > waitingRefreshMs) {
        const handles = tips.mostWaiting(waitingMax);
        waiting = { at: Date.now(), handles };
        handles.catch(() => (waiting = undefined));
      }
      const handles = (await waiting.handles).slice(0, limit);
      res.json({ handles: handles.map(({ handle, pendingMsat, supporters }) => ({ handle, pendingMsat, supporters })) } satisfies WaitingHandles);
    },
  );

  api.route(
    {
      method: 'get',
      path: '/v1/handles/:handle',
      summary: "A handle's escrow and binding, public",
      auth: 'none',
      params: handleParams,
      responses: { 200: '{ handle, claimed, pendingMsat, supporters, tips, binding, pendingBinding, lightningAddress, lnurl, lightning }' },
      returns: handleView,
      errors: ['invalid_handle'],
    },
    async (req, res) => {
      const { handle } = parse(handleParams, req.params, 'path');
      const [view, { binding, pending }] = await Promise.all([tips.handle(handle), claims.bindingOf(handle.key)]);
      // Where any wallet pays it: the Lightning Address, and the LNURL for QR codes (upper case) as a `lightning:` URI.
      const lnurl = site ? encodeLnurl(payRequestUrl(site, handle)) : null;
      res.json({
        ...view,
        binding: binding ?? null,
        pendingBinding: pending ?? null,
        lightningAddress: site ? lightningAddress(site, handle) : null,
        lnurl,
        lightning: lnurl ? `lightning:${lnurl}` : null,
      } satisfies HandleView);
    },
  );

  api.route(
    {
      method: 'get',
      path: '/v1/handles/:handle/notify',
      summary: 'A text (and tweet link) telling the creator that sats wait',
      auth: 'none',
      params: handleParams,
      responses: { 200: '{ handle, pendingMsat, text, claimUrl, intentUrl }' },
      returns: notifyView,
      errors: ['invalid_handle', 'handle_claimed', 'nothing_waiting', 'public_url_unset'],
    },
    async (req, res) => {
      const { handle } = parse(handleParams, req.params, 'path');
      if (!site) throw new Refusal('public_url_unset');
      const view = await tips.handle(handle);
      if (view.claimed) throw new Refusal('handle_claimed', `@${view.handle} has claimed its tips: they are paid out as they come`);
      const pendingSat = BigInt(view.pendingMsat) / 1000n;
      if (pendingSat === 0n) throw new Refusal('nothing_waiting', `no sats wait for @${view.handle}`);
      const supporters = view.supporters === 1 ? '1 supporter' : `${view.supporters} supporters`;
      const claimUrl = claimPageUrl(site, view.handle);
      const text = `@${view.handle} ${pendingSat.toLocaleString('en-US')} sats from ${supporters} are waiting for you on tipd. Claim them with your Lightning wallet: ${claimUrl}`;
      res.json({
        handle: view.handle,
        pendingMsat: view.pendingMsat,
        text,
        claimUrl,
        intentUrl: `https://x.com/intent/tweet?text=${encodeURIComponent(text)}`,
      } satisfies NotifyView);
    },
  );
}
