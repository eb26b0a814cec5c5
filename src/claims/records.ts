// What claims store, as zod schemas (the types are read from them): a claim (`claim:<id>`), a
// binding (`binding:<handle>`) and a binding waiting out its cooling-off (`rebind:<handle>`). Each
// is checked when read back where a wrong shape would be misread: proving a claim, holding a
// payout; it is kept as it was stored.
import { z } from 'zod';
import { storedFields } from '../ledger/records.ts';

/** A destination (payouts/destination.ts) as stored: a node, or a Lightning Address (exactly one; `destinationOf` checks). */
export const destinationFields = {
  nodePubkey: storedFields.pubkey.optional(),
  lightningAddress: z.string().min(3).optional(),
};

/** `cancelled`: it waited out a cooling-off, and the account the handle is bound to proved it again. */
export const claimStates = ['open', 'verified', 'cooling_off', 'cancelled'] as const;
export type ClaimState = (typeof claimStates)[number];

export const claimSchema = z.object({
  id: z.string().min(1),
  handleKey: z.string().min(1),
  /** The handle as the creator wrote it. */
  handle: z.string().min(1),
  ...destinationFields,
  hubPubkey: storedFields.pubkey,
  nonce: z.string().min(1),
  message: z.string().min(1),
  createdAt: storedFields.time,
  expiresAt: storedFields.time,
  state: z.enum(claimStates),
  tweetId: z.string().nullable(),
});
export type ClaimRecord = z.infer<typeof claimSchema>;

/** What a verified proof showed, kept so that anyone can check it again, even if the tweet is deleted. */
export const bindingSchema = z.object({
  handle: z.string().min(1),
  ...destinationFields,
  xUserId: z.string().min(1),
  xUsername: z.string().min(1),
  claimId: z.string().min(1),
  tweetId: z.string().min(1),
  tweetText: z.string(),
  tweetAt: storedFields.time,
  message: z.string().min(1),
  /** The proof in the tweet: the node's signature of the message, or the Lightning Address it names. */
  signature: z.string().min(1),
  verifiedAt: storedFields.time,
});
export type Binding = z.infer<typeof bindingSchema>;

/** A proof by another X account than the bound one: it takes effect at `effectiveAt`. */
export const pendingBindingSchema = bindingSchema.extend({ effectiveAt: storedFields.time });
export type PendingBinding = z.infer<typeof pendingBindingSchema>;

/** A claim as its creator sees it (its nonce is inside its message), with the tweet to post. */
export const claimView = z.object({
  id: z.string(),
  handle: z.string(),
  nodePubkey: z.string().optional(),
  lightningAddress: z.string().optional(),
  message: z.string(),
  tweetTemplate: z.string(),
  createdAt: z.string(),
  expiresAt: z.string(),
  state: z.enum(claimStates),
  tweetId: z.string().nullable(),
});
export type ClaimView = z.infer<typeof claimView>;

/** What a proof did: the handle is bound now, or after a cooling-off (another X account proved it). */
export const proofOutcome = z.discriminatedUnion('state', [
  z.object({ state: z.literal('verified'), binding: bindingSchema }),
  z.object({ state: z.literal('cooling_off'), binding: pendingBindingSchema }),
]);
export type ProofOutcome = z.infer<typeof proofOutcome>;
