// Every event tipd emits, as one union of its type and data: what the ledger stores with each batch
// and the websocket sends (events/hub.ts), and what background work follows (payouts start on
// `tip.sent` and `handle.allocated`). Amounts are msat as decimal strings, times ISO 8601.
import type { DepositView } from '../deposits/deposits.ts';
import type { TipView } from '../escrow/tips.ts';
import type { PayoutView } from '../payouts/records.ts';
import type { WithdrawalView } from '../withdrawals/records.ts';

/**
 * Who may see an event: a supporter (`account:<id>`), anyone following a handle (`handle:<key>`),
 * or every client (`service`: what concerns all, such as a wind-down).
 */
export type Topic = `account:${string}` | `handle:${string}` | 'service';

export const topics = {
  service: 'service' as Topic,
  supporter: (supporterId: string): Topic => `account:${supporterId}`,
  /** The same string as the handle's record key (`keys.handle`). */
  handle: (handleKey: string): Topic => `handle:${handleKey}`,
};

interface ClaimData {
  handle: string;
  /** The destination: a node, or a Lightning Address. */
  nodePubkey?: string;
  lightningAddress?: string;
  xUserId: string;
  claimId: string;
}

/** What each type of event carries. */
export interface EventData {
  'deposit.settled': DepositView & { transferId: string; receivedMsat: string };
  /** A tip: its supporter sees this; the handle's followers its public view, `handle.tipped`. */
  'tip.sent': TipView & { pendingMsat: string };
  /** A tip as anyone may see it; one paid by LNURL-pay (no account: no `tip.sent`) carries its payer's comment and name, if given. */
  'handle.tipped': { handle: string; amountMsat: string; pendingMsat: string; comment?: string; from?: string };
  /** A supporter's share of a period close. */
  allocation: { periodId: number; allocatedMsat: string; things: number };
  /** What a period close allocated to a handle, in sum, once per close. */
  'handle.allocated': { handle: string; periodId: number; amountMsat: string; allocations: number; pendingMsat: string };
  /** A lot gone back to its supporter; followers see `handle.refunded`. */
  refund: { handle: string; amountMsat: string; tippedAt: string; pendingMsat: string };
  'handle.refunded': { handle: string; amountMsat: string; pendingMsat: string };
  'refund.upcoming': { handle: string; amountMsat: string; tippedAt: string; returnsAt: string };
  'withdrawal.succeeded': WithdrawalView;
  'withdrawal.failed': WithdrawalView;
  'claim.verified': ClaimData & { tweetId: string };
  'claim.cooling_off': ClaimData & { boundXUserId: string; effectiveAt: string };
  'claim.cancelled': ClaimData;
  'payout.pending': PayoutView & { handle: string };
  'payout.succeeded': PayoutView & { handle: string };
  'payout.failed': PayoutView & { handle: string };
  /** A payout that could not be made ready (a Lightning Address down, an error, a bad invoice): nothing held; tried again at `nextAttemptAt`. */
  'payout.attempt_failed': { handle: string; code: string; reason: string; nextAttemptAt: string };
  /** A wallet's key (its linking key, hex) was linked to the account: it signs in to it from now on. */
  'auth.linked': { key: string };
  /** A wallet's key signed in to the account: a new token was handed out, the old one retired. */
  'auth.signed_in': { key: string };
  /** A wallet's key was unlinked from the account. */
  'auth.unlinked': { key: string };
  /** The operator is winding tipd down: no new money comes in; balances can be withdrawn, unclaimed tips are back with their supporters. */
  'service.winding_down': { startedAt: string; reason: string };
}

export type EventType = keyof EventData;

/** An event as emitted: its type and data, one of the union. */
export type TipdEvent = { [T in EventType]: { type: T; data: EventData[T] } }[EventType];

/** An event as stored and sent: numbered, timed, with its topics. */
export type StoredEvent = TipdEvent & { seq: number; at: string; topics: Topic[] };
