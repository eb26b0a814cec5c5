// What the public routes that pages use answer, as zod schemas: the OpenAPI document describes
// their success responses from these, the routes build their answers to them (`satisfies`), and the
// web pages (web/) read their types from the same schemas. Amounts are msat as decimal strings.
import { z } from 'zod';
import { bindingSchema, pendingBindingSchema } from '../claims/records.ts';

const msat = z.string().regex(/^\d+$/);

/** A handle's public page: what waits in its escrow, where it is paid, and how any wallet pays it. */
export const handleView = z.object({
  handle: z.string(),
  claimed: z.boolean(),
  pendingMsat: msat,
  supporters: z.number().int(),
  tips: z.number().int(),
  binding: bindingSchema.nullable(),
  pendingBinding: pendingBindingSchema.nullable(),
  lightningAddress: z.string().nullable(),
  lnurl: z.string().nullable(),
  lightning: z.string().nullable(),
});
export type HandleView = z.infer<typeof handleView>;

/** The handles with the most sats waiting for their creators (unclaimed, public counts only). */
export const waitingHandles = z.object({
  handles: z.array(z.object({ handle: z.string(), pendingMsat: msat, supporters: z.number().int() })),
});
export type WaitingHandles = z.infer<typeof waitingHandles>;

/** The text a supporter tweets to tell a creator that sats wait, with its link to the claim page. */
export const notifyView = z.object({ handle: z.string(), pendingMsat: msat, text: z.string(), claimUrl: z.string(), intentUrl: z.string() });
export type NotifyView = z.infer<typeof notifyView>;

export { claimView, proofOutcome } from '../claims/records.ts';
export type { ClaimView, ProofOutcome } from '../claims/records.ts';
