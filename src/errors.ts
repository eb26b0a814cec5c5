// Every error code tipd answers with, in one table: its HTTP status and what it means. An expected
// failure (bad input, not enough balance, an upstream down) is a `Refusal` with one of these codes,
// thrown wherever it is found and turned into the JSON error format in one place (api/errors.ts);
// the OpenAPI document lists each route's codes from here. Anything else is a bug: a 500.

interface ErrorKind {
  status: number;
  /** What it means, when the refusal gives no message of its own. */
  message: string;
}

export const errorCodes = {
  // Any request
  invalid_request: { status: 400, message: 'the request is not valid (details.issues says where)' },
  invalid_json: { status: 400, message: 'request body is not valid JSON' },
  invalid_handle: { status: 400, message: 'must be an X handle: 1 to 15 letters, digits or _, with an optional @' },
  request_aborted: { status: 400, message: 'request was aborted by the client' },
  bad_request: { status: 400, message: 'malformed request' },
  unauthorized: { status: 401, message: 'send Authorization: Bearer <token> with a valid token' },
  admin_disabled: { status: 403, message: 'the admin API is off: set TIPD_ADMIN_TOKEN' },
  not_found: { status: 404, message: 'no such thing' },
  method_not_allowed: { status: 405, message: 'this path does not take this method: the Allow header lists those it takes' },
  request_timeout: { status: 408, message: 'the request did not arrive in time; send it again, whole' },
  body_too_large: { status: 413, message: 'request body is too large' },
  unsupported_encoding: { status: 415, message: 'request body must be UTF-8 JSON' },
  idempotency_key_reused: { status: 422, message: 'this Idempotency-Key was used with another request' },
  rate_limited: { status: 429, message: 'too many requests; slow down' },
  upgrade_required: { status: 426, message: 'this is a websocket: send the request with Upgrade: websocket' },
  headers_too_large: { status: 431, message: 'the request line and headers are too large' },
  internal: { status: 500, message: 'internal error' },
  pages_not_built: { status: 503, message: 'the web pages are not built: run npm run build:web' },
  overloaded: { status: 503, message: 'too many operations waiting; try again shortly' },
  winding_down: {
    status: 503,
    message: 'tipd is winding down: it takes no new deposits, tips or claims; balances can be withdrawn, and unclaimed tips are back with their supporters',
  },
  not_restored: { status: 409, message: 'this ledger was not restored from a backup' },
  payment_known: { status: 409, message: 'the ledger knows this payment already' },
  handle_not_claimed: { status: 409, message: 'the handle is not claimed in this ledger: have its creator claim it again, then book its payout' },
  payment_not_found: { status: 404, message: 'the Lightning node has no payment of this hash' },
  payment_not_succeeded: { status: 409, message: 'the Lightning node has not paid this (yet): book only a payment that succeeded' },
  payments_held: {
    status: 503,
    message:
      "tipd was restored from a backup: it sends no payment and moves no supporter's balance until its operator has compared it with the Lightning node; try again later",
  },

  // The websocket (GET /v1/events): refusing the upgrade; and answering a message (its status is
  // that of the same refusal over HTTP: a message has none)
  too_many_clients: { status: 503, message: 'too many websocket clients; try again later' },
  too_many_address_clients: { status: 429, message: 'too many websocket clients from this address' },
  invalid_message: { status: 400, message: 'send JSON: {type:"auth",token} | {type:"follow",handle} | {type:"resume",after}' },
  too_many_follows: { status: 400, message: 'too many topics followed' },
  too_many_messages: { status: 429, message: 'too many messages waiting to be handled; wait for the answers' },

  // Backups (POST /v1/admin/backup)
  backup_in_progress: { status: 409, message: 'a backup is being taken; wait for it to finish' },
  backup_failed: { status: 500, message: 'the backup could not be written (see the message); nothing of it is left' },

  // Money
  insufficient_balance: { status: 409, message: 'the balance does not cover this' },

  // Lightning
  lnd_unavailable: { status: 503, message: 'the Lightning node is not reachable; try again shortly' },
  lnd_not_synced: { status: 503, message: 'the Lightning node is not synced to the chain yet' },
  lnd_wrong_network: { status: 503, message: 'the Lightning node is on another network than tipd' },
  lnd_error: { status: 502, message: 'the Lightning node refused the request' },
  // … and what GET /healthz says of it, beside the three above
  lnd_permission_denied: { status: 503, message: 'the Lightning node refuses tipd’s macaroon' },
  lnd_invalid_answer: { status: 503, message: 'the Lightning node answered something tipd cannot rely on' },
  lnd_rejected: { status: 503, message: 'the Lightning node refused the request' },

  // Withdrawals: the invoice to pay
  invalid_payment_request: { status: 400, message: 'paymentRequest is not a BOLT11 payment request' },
  amount_missing: { status: 400, message: 'the invoice has no amount; ask your wallet for one that names the amount' },
  invoice_expired: { status: 400, message: 'the invoice has expired, or expires within a minute; ask the wallet for a fresh one' },
  wrong_network: { status: 400, message: 'the invoice is for another network than this tipd' },
  own_invoice: { status: 400, message: 'the invoice is one of this tipd’s own node' },
  invoice_already_used: { status: 409, message: 'another withdrawal already pays this invoice' },

  // LNURL (its routes answer these in LNURL's format, `{ status: "ERROR", reason, code }`)
  lnurl_unavailable: { status: 503, message: 'LNURL needs TIPD_PUBLIC_URL: this tipd has no public URL' },
  public_url_unset: { status: 503, message: 'links need TIPD_PUBLIC_URL: this tipd has no public URL' },
  amount_not_whole_sats: { status: 400, message: 'amount must be a whole number of sats (a multiple of 1000 msat)' },
  amount_out_of_range: { status: 400, message: 'amount is outside what the LNURL allows (minSendable..maxSendable, minWithdrawable..maxWithdrawable)' },
  comment_too_long: { status: 400, message: 'comment is longer than commentAllowed' },
  invalid_payerdata: { status: 400, message: 'payerdata must be JSON with only name and identifier (a Lightning Address)' },

  // Lightning Addresses tipd pays (a creator's, for a claim and its payouts)
  address_invalid: { status: 400, message: 'lightningAddress must look like name@domain' },
  address_unreachable: { status: 422, message: 'tipd cannot reach this Lightning Address, or it answered an error' },
  address_limits: { status: 422, message: 'the Lightning Address does not take payouts of the size tipd sends' },
  address_bad_invoice: { status: 502, message: 'the Lightning Address gave an invoice tipd will not pay' },
  address_mismatch: { status: 422, message: 'the tweet does not name exactly the Lightning Address claimed' },

  // LNURL-withdraw: a withdraw link (its k1) a supporter's wallet redeems with an invoice
  withdraw_link_unknown: { status: 404, message: 'no such withdraw link; ask for a new one' },
  withdraw_link_used: { status: 409, message: 'this withdraw link has been used already; ask for a new one' },
  withdraw_link_expired: { status: 410, message: 'this withdraw link has expired; ask for a new one' },
  too_many_withdraw_links: { status: 409, message: 'too many open withdraw links; use one, or wait for one to expire' },

  // Flattrs
  too_many_flattrs: { status: 409, message: 'too many flattrs in this period' },
  period_closed: { status: 409, message: 'the period of this flattr is closed' },

  // Handles
  handle_claimed: { status: 409, message: 'the handle has claimed its tips: they are paid out as they come' },
  nothing_waiting: { status: 409, message: 'no sats wait for this handle' },

  // Claims
  claim_not_found: { status: 404, message: 'no such claim' },
  own_node: { status: 400, message: 'nodePubkey is the node of this tipd itself' },
  node_unreachable: { status: 422, message: 'tipd cannot reach this node' },
  keysend_unsupported: { status: 422, message: 'the node does not advertise keysend; start LND with --accept-keysend' },
  challenge_used: { status: 409, message: 'this challenge or tweet has already been used' },
  challenge_expired: { status: 410, message: 'the challenge expired; ask for a new one' },
  tweet_not_found: { status: 422, message: 'the X API has no such public tweet' },
  tweet_before_challenge: { status: 422, message: 'the tweet is older than the challenge' },
  tweet_is_retweet: { status: 422, message: 'the tweet is a retweet; post the signature in a tweet of your own' },
  author_mismatch: { status: 422, message: 'the tweet was not posted by the handle claimed' },
  claim_id_missing: { status: 422, message: 'the tweet does not mention the claim id' },
  bad_signature: { status: 422, message: "the tweet carries no signature of the claim's message by the claimed node" },

  // Sign-in with a wallet (LNURL-auth, LUD-04): a k1 challenge the wallet signs with its linking key
  lnurl_auth_unknown: { status: 404, message: 'no such login challenge (k1); ask for a new one' },
  lnurl_auth_expired: { status: 410, message: 'the login challenge (k1) expired; ask for a new one' },
  lnurl_auth_used: { status: 409, message: 'this login challenge (k1) has already been signed' },
  lnurl_auth_malformed: { status: 400, message: 'sig must be a DER signature and key a compressed secp256k1 public key, both hex' },
  lnurl_auth_bad_signature: { status: 422, message: 'sig is not a signature of k1 by key' },
  lnurl_auth_key_taken: { status: 409, message: "this wallet's key already signs in to another account" },
  lnurl_auth_not_found: { status: 404, message: 'no such sign-in' },
  lnurl_auth_link_cancelled: {
    status: 409,
    message: "the token that asked for this link has been replaced since; ask for a new link with the account's token",
  },
  lnurl_auth_key_not_linked: { status: 404, message: 'no such wallet key is linked to this account' },

  // The X API, when it fails: not the creator's doing (503 while it may come back, 502 when it answers wrong)
  x_not_configured: { status: 503, message: 'no X API bearer token is configured (TIPD_X_BEARER_TOKEN)' },
  x_rate_limited: { status: 503, message: 'the X API is rate limited; the proof can be sent again' },
  x_unavailable: { status: 503, message: 'the X API is unavailable; the proof can be sent again' },
  x_unauthorized: { status: 502, message: 'the X API refused tipd’s bearer token' },
  x_invalid_answer: { status: 502, message: 'the X API answered something tipd cannot use' },
} as const satisfies Record<string, ErrorKind>;

export type ErrorCode = keyof typeof errorCodes;

/** The one JSON error format of tipd's answers. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: unknown };
}

export const errorBody = (code: ErrorCode, message: string, details?: unknown): ErrorBody => ({
  error: details === undefined ? { code, message } : { code, message, details },
});

/** An expected failure, with a code from the table: an answer to the client, never a crash. */
export class Refusal<Code extends ErrorCode = ErrorCode> extends Error {
  readonly code: Code;
  /** Machine-readable details for the client (e.g. `{ issues }`, `{ upstreamStatus }`). */
  readonly details: Record<string, unknown> | undefined;
  constructor(code: Code, message: string = errorCodes[code].message, details?: Record<string, unknown>) {
    super(message);
    this.name = 'Refusal';
    this.code = code;
    this.details = details;
  }

  get status(): number {
    return errorCodes[this.code].status;
  }
}
