// What a person should do next, for each refusal the pages may meet: tipd's message says what went
// wrong; this says what to try. Codes from the server's one table (src/errors.ts).
import type { ErrorCode } from '../../src/errors.ts';
import { ApiError } from './api.ts';

export const nextStep: Partial<Record<ErrorCode | 'network', string>> = {
  network: 'Check your connection, then try again.',
  invalid_handle: 'An X handle is 1 to 15 letters, digits or underscores, like @satoshi.',
  invalid_request: 'Check the highlighted field.',
  rate_limited: 'Too many tries from your network in a minute: wait a minute, then try again.',
  overloaded: 'tipd is busy: try again in a few seconds.',
  lnd_unavailable: "tipd's Lightning node is not answering: try again in a minute.",
  lnd_error: "tipd's Lightning node refused: try again; if it keeps failing, tell the operator.",
  lnurl_unavailable: 'This tipd has no public address for wallets yet: tell its operator (TIPD_PUBLIC_URL).',
  amount_out_of_range: 'Choose an amount between the smallest and the largest shown.',
  amount_not_whole_sats: 'Use a whole number of sats.',
  comment_too_long: 'Shorten the comment.',
  insufficient_balance: 'Fund it first, or ask for less.',
  // The claim: where to be paid
  address_invalid: 'A Lightning Address looks like name@wallet.com: copy it from your wallet’s receive screen.',
  address_unreachable: 'Your wallet’s server did not answer as a Lightning Address should: check it in your wallet, or use another address.',
  address_limits: 'Your address does not accept payments of the size tipd sends: use an address without such a limit, or a node.',
  own_node: 'That is tipd’s own node: name your node, from `lncli getinfo` (identity_pubkey) or your wallet’s node info.',
  node_unreachable: 'tipd found no route to your node: open a channel with inbound liquidity (or wait for it to confirm), then try again.',
  keysend_unsupported: 'Turn on keysend in your node (LND: accept-keysend=true; Zeus and Alby Hub have it in their settings), then try again.',
  idempotency_key_reused: 'Reload the page and start again.',
  // The proof
  claim_not_found: 'This claim is unknown: start again from step one.',
  challenge_expired: 'The message expired: start again for a fresh one (it lasts a day).',
  challenge_used: 'This message or tweet was already used: if the handle shows as claimed, you are done; otherwise start again.',
  tweet_not_found: 'tipd cannot see that tweet: check the link, and that your account is public and the tweet not deleted.',
  tweet_before_challenge: 'That tweet is older than this claim: post a new tweet with the text above.',
  tweet_is_retweet: 'Post the text in a tweet of your own, not a retweet or a quote.',
  author_mismatch: 'The tweet must be posted from the account of the handle you claim: sign in to X as that account.',
  claim_id_missing: 'The tweet must carry the claim id: post the text above unchanged.',
  bad_signature: 'The signature in the tweet is not your node’s signature of this exact message: sign it again and paste it whole.',
  address_mismatch: 'The tweet must name exactly the Lightning Address you chose: post the text above unchanged.',
  x_rate_limited: 'X is busy: send the link again in a minute.',
  x_unavailable: 'X did not answer: send the link again in a minute.',
  x_unauthorized: 'tipd cannot read X right now: tell the operator; your tweet stays valid.',
  x_invalid_answer: 'X answered something tipd cannot read: send the link again; if it keeps failing, tell the operator.',
  x_not_configured: 'This tipd cannot read X yet: tell the operator (TIPD_X_BEARER_TOKEN).',
};

/** Refusals whose message from tipd is for programs (it names accounts, in msat): said for people instead. */
const saidForPeople: Partial<Record<ErrorCode, string>> = {
  insufficient_balance: 'Your balance does not cover this.',
};

/** A refusal in words for a person: tipd's message as a sentence, then what to do next. */
export function explain(err: unknown): string {
  if (!(err instanceof ApiError)) return 'Something went wrong; try again.';
  const said = (err.code !== 'network' && saidForPeople[err.code]) || err.message;
  const message = `${said.charAt(0).toUpperCase()}${said.slice(1)}`.replace(/\.?$/, '.');
  const next = nextStep[err.code];
  return next ? `${message} ${next}` : message;
}
