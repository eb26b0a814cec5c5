// Tips over HTTP.
import { z } from 'zod';
import { handleSchema } from '../escrow/handles.ts';
import { amountSat, satToMsat } from '../ledger/money.ts';
import type { Supporters } from '../supporters/supporters.ts';
import type { Tips } from '../escrow/tips.ts';
import { tweetIdOf, tweetReferencePattern } from '../x/tweets.ts';
import type { Api } from './openapi.ts';
import { body, idempotencyOf, parse, requireSupporter, supporterOf } from './http.ts';
import { tipView } from './views.ts';

/** A tweet URL (x.com, twitter.com, mobile., www., /status or /statuses) or a bare id: only the id is kept. */
export const tweetIdSchema = z
  .string()
  .meta({ pattern: tweetReferencePattern })
  .transform((input, ctx) => {
    const id = tweetIdOf(input);
    if (id !== undefined) return id;
    ctx.addIssue({ code: 'custom', message: 'must be a tweet URL or a tweet id' });
    return z.NEVER;
  });

const tipBody = z.strictObject({ handle: handleSchema, amountSat: amountSat(), tweet: tweetIdSchema.optional() });

export function tipRoutes(api: Api, supporters: Supporters, tips: Tips): void {
  api.route(
    {
      method: 'post',
      path: '/v1/tips',
      summary: 'Tip a handle: the amount moves into its escrow at once (Idempotency-Key accepted)',
      refusedWhileWindingDown: true,
      auth: 'supporter',
      body: tipBody,
      responses: { 201: 'the tip' },
      returns: tipView,
      errors: ['invalid_handle', 'insufficient_balance', 'idempotency_key_reused', 'payments_held', 'overloaded'],
    },
    requireSupporter(supporters),
    async (req, res) => {
      const input = parse(tipBody, body(req));
      const idempotency = idempotencyOf(req);
      const tip = await tips.tip({
        supporterId: supporterOf(res),
        handle: input.handle,
        amountMsat: satToMsat(input.amountSat),
        tweetId: input.tweet ?? null,
        ...(idempotency ? { idempotency } : {}),
      });
      res.status(201).json(tip);
    },
  );
}
