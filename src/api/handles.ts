// Handles over HTTP, public: what waits in a handle's escrow, who it is bound to (with the evidence),
// and a text a supporter can tweet to tell its creator that sats wait.
import { z } from 'zod';
import type { Claims } from '../claims/claims.ts';
import { Refusal } from '../errors.ts';
import { handleSchema } from '../escrow/handles.ts';
import type { Tips } from '../escrow/tips.ts';
import { encodeLnurl } from '../lnurl/lnurl.ts';
import { lightningAddress, payRequestUrl, type Site } from '../lnurl/pay.ts';
import { parse } from './http.ts';
import type { Api } from './openapi.ts';

const handleParams = z.strictObject({ handle: handleSchema });

/**
 * `publicUrl`: the base of the links tipd prints (TIPD_PUBLIC_URL); without one, the request's own.
 * `site`: the same, for the handle's Lightning Address and LNURL (none without a public URL).
 */
export function handleRoutes(api: Api, tips: Tips, claims: Claims, publicUrl: string | undefined, site: Site | undefined): void {
  api.route(
    {
      method: 'get',
      path: '/v1/handles/:handle',
      summary: "A handle's escrow and binding, public",
      auth: 'none',
      params: handleParams,
      responses: { 200: '{ handle, claimed, pendingMsat, supporters, tips, binding, pendingBinding, lightningAddress, lnurl, lightning }' },
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
      });
    },
  );

  api.route(
    {
      method: 'get',
      path: '/v1/handles/:handle/notify',
      summary: 'A text (and tweet link) telling the creator that sats wait',
      auth: 'none',
      params: handleParams,
      responses: { 200: '{ text, intentUrl, pendingMsat }' },
      errors: ['invalid_handle', 'handle_claimed', 'nothing_waiting'],
    },
    async (req, res) => {
      const { handle } = parse(handleParams, req.params, 'path');
      const view = await tips.handle(handle);
      if (view.claimed) throw new Refusal('handle_claimed', `@${view.handle} has claimed its tips: they are paid out as they come`);
      const pendingSat = BigInt(view.pendingMsat) / 1000n;
      if (pendingSat === 0n) throw new Refusal('nothing_waiting', `no sats wait for @${view.handle}`);
      const site = publicUrl ?? `${req.protocol}://${req.get('host')}`;
      const supporters = view.supporters === 1 ? '1 supporter' : `${view.supporters} supporters`;
      const text = `@${view.handle} ${pendingSat.toLocaleString('en-US')} sats from ${supporters} are waiting for you on tipd. Claim them with your Lightning node: POST ${site}/v1/claims`;
      res.json({ handle: view.handle, pendingMsat: view.pendingMsat, text, intentUrl: `https://x.com/intent/tweet?text=${encodeURIComponent(text)}` });
    },
  );
}
