// Every key tipd stores is built here, and nowhere else: one typed function per kind of record, and
// the prefix of each kind that is read as a range. docs/money.md ("Stored keys") says what each
// one holds. Keys sort as strings, so numbers in them are zero-padded (`pad`).
import type { Account } from './accounts.ts';

/** Keys sort as strings: numbers in keys are zero-padded to this width. */
export const pad = (n: number | bigint): string => n.toString().padStart(16, '0');

/** The smallest string above every key that starts with `prefix` (for range reads). */
export const prefixEnd = (prefix: string): string => `${prefix}\xff`;

/** Range-read options for every key that starts with `prefix`. */
export const under = (prefix: string): { gt: string; lt: string } => ({ gt: prefix, lt: prefixEnd(prefix) });

/** What follows `prefix` in `key` (an id, a handle, …). */
export const after = (prefix: string, key: string): string => key.slice(prefix.length);

/** The last `:`-separated part of a key: the id in keys that end with one. */
export const lastPart = (key: string): string => key.slice(key.lastIndexOf(':') + 1);

export const keys = {
  // The ledger (ledger/)
  /** The store's layout version. */
  format: 'meta:format',
  /** The operator's wind-down (winddown/): when it began and why; absent while tipd takes new money. */
  windDown: 'meta:winddown',
  /** A ledger restored from a backup (backup/restored.ts): when, of when, and whether payments were resumed. */
  restored: 'meta:restored',
  /** A payment LND made after a restored backup, booked by the operator (backup/restored.ts): what it was. */
  restoreBooking: (paymentHash: string) => `restorebook:${paymentHash}`,
  /** An account's balance, in msat (decimal string). */
  balance: (account: Account) => `bal:${account}`,
  /** A transfer (or a run of them) in a supporter's history, under its (first) transfer id. */
  history: (account: Account, transferId: string) => `hist:${account}:${transferId}`,
  /** A transfer that touches no supporter. */
  transfer: (transferId: string) => `xfer:${transferId}`,
  /** The last transfer id, or event sequence number, handed out. */
  sequence: (name: 'xfer' | 'event') => `seq:${name}`,
  /** The events of one batch, under the sequence number of the last one. */
  events: (lastSeq: number) => `evt:${pad(lastSeq)}`,
  /** An idempotency key of a scope (a supporter): the request's fingerprint and its first result. */
  idempotency: (scope: string, key: string) => `idem:${scope}:${key}`,
  /** When an idempotency record (its whole key) was written: it is forgotten a while after (ledger/idempotency.ts). */
  idempotencyWritten: (at: string, idemKey: string) => `idemat:${at}:${idemKey}`,
  /** Set once every idempotency record written before `idemat:` existed has its entry there. */
  idempotencyIndexed: 'meta:idemat',

  // Supporters (supporters/)
  supporter: (supporterId: string) => `acct:${supporterId}`,
  /** A token's SHA-256 → the supporter it belongs to. */
  token: (tokenHash: string) => `tok:${tokenHash}`,

  // Deposits (deposits/)
  deposit: (depositId: string) => `dep:${depositId}`,
  /** A deposit not yet settled, failed or expired: looked up at every start. */
  openDeposit: (depositId: string) => `depopen:${depositId}`,
  /** A deposit invoice's payment hash → the deposit. */
  depositByHash: (paymentHash: string) => `dephash:${paymentHash}`,
  /** LND's settle index of the last settled invoice handled. */
  settleCursor: 'cursor:settle',

  // Escrow (escrow/)
  /** A handle as first seen, with its counts (also the topic of its events). */
  handle: (handleKey: string) => `handle:${handleKey}`,
  /** This supporter has given to this handle (supporter first: a close reads them in ranges). */
  given: (supporterId: string, handleKey: string) => `given:${supporterId}:${handleKey}`,
  /** The lots a handle got in one batch, under the first one's transfer id. */
  lots: (handleKey: string, firstTransferId: string) => `lot:${handleKey}:${firstTransferId}`,
  /** The supporters of those lots were told that they go back soon. */
  lotsWarned: (handleKey: string, firstTransferId: string) => `lotwarn:${handleKey}:${firstTransferId}`,
  /** A tip paid by invoice with no account behind it (LNURL-pay), under its transfer id: its payer's lot. */
  payerLot: (handleKey: string, transferId: string) => `paylot:${handleKey}:${transferId}`,
  /** This payer's Lightning Address has tipped this handle by LNURL-pay (counted once as a supporter). */
  payerGiven: (address: string, handleKey: string) => `paygiven:${handleKey}:${address}`,
  /** A close of this period allocated to this handle: announced at its end. */
  announce: (periodId: number, handleKey: string) => `announce:${pad(periodId)}:${handleKey}`,

  // Flattrs and periods (flattrs/)
  currentPeriod: 'period:current',
  /** A thing (a handle, or `handle/tweet`) a supporter flattred in a period. */
  flattr: (periodId: number, supporterId: string, thing: string) => `fl:${pad(periodId)}:${supporterId}:${thing}`,
  /** A flattr's id → its key. */
  flattrById: (flattrId: string) => `flid:${flattrId}`,
  /** How many things a supporter flattred in a period. */
  flattrCount: (periodId: number, supporterId: string) => `flcount:${pad(periodId)}:${supporterId}`,
  /** A period's close: where it stands and its sums. */
  close: (periodId: number) => `close:${pad(periodId)}`,
  /** This supporter was allocated by the close of this period. */
  allocated: (periodId: number, supporterId: string) => `alloc:${pad(periodId)}:${supporterId}`,

  // Withdrawals (withdrawals/)
  withdrawal: (withdrawalId: string) => `wd:${withdrawalId}`,
  /** A withdrawal whose outcome is not booked yet. */
  pendingWithdrawal: (withdrawalId: string) => `wdpending:${withdrawalId}`,
  /** An invoice's payment hash → the one withdrawal that pays it. */
  withdrawalByHash: (paymentHash: string) => `wdhash:${paymentHash}`,
  /**
   * A withdraw link (LNURL-withdraw), under its id: the SHA-256 of its k1, so the k1 (which lets
   * anyone holding it withdraw) is never stored.
   */
  withdrawLink: (linkId: string) => `wlink:${linkId}`,
  /** A withdraw link by expiry, to forget it a while after it expired unused. */
  withdrawLinkExpiry: (expiresAt: string, linkId: string) => `wlinkexp:${expiresAt}:${linkId}`,
  /** A supporter's unused withdraw links (id and expiry), to cap how many are open at once. */
  openWithdrawLinks: (supporterId: string) => `wlinkopen:${supporterId}`,

  // Claims (claims/)
  claim: (claimId: string) => `claim:${claimId}`,
  /** An open claim by expiry, to forget it a while after. */
  claimExpiry: (expiresAt: string, claimId: string) => `claimexp:${expiresAt}:${claimId}`,
  /** A handle's binding: where its escrow is paid, and the evidence. */
  binding: (handleKey: string) => `binding:${handleKey}`,
  /** A binding by another X account, waiting out its cooling-off. */
  rebinding: (handleKey: string) => `rebind:${handleKey}`,
  /** A tweet that proved a claim → the claim. */
  tweetUsed: (tweetId: string) => `tweetused:${tweetId}`,

  // Payouts (payouts/)
  payout: (payoutId: string) => `payout:${payoutId}`,
  /** A payout's payment hash → the payout: no hash is paid by two payouts (nor by a payout and a withdrawal). */
  payoutByHash: (paymentHash: string) => `payhash:${paymentHash}`,
  /** The one payout of a handle whose outcome is not booked yet. */
  openPayout: (handleKey: string) => `payoutopen:${handleKey}`,
  /** A handle's payouts, for its public list (newest last). */
  handlePayout: (handleKey: string, createdAt: string, payoutId: string) => `hpayout:${handleKey}:${createdAt}:${payoutId}`,
  /** Failed payouts of a handle in a row, and when the next may be tried. */
  payoutRetry: (handleKey: string) => `paytry:${handleKey}`,

  // Sign-in with a wallet (auth/)
  /** A sign-in (LNURL-auth), under the SHA-256 of its id: the id lets its holder pick up a token. */
  authSession: (idHash: string) => `lnauth:${idHash}`,
  /** A sign-in's challenge (k1, hex) → the SHA-256 of the sign-in's id. */
  authChallenge: (k1: string) => `lnauthk1:${k1}`,
  /** A sign-in by expiry, to forget it a while after. */
  authExpiry: (expiresAt: string, idHash: string) => `lnauthexp:${expiresAt}:${idHash}`,
  /** A wallet's linking key (compressed public key, hex) → the supporter it signs in as. */
  linkingKey: (pubkey: string) => `lnkey:${pubkey}`,
  /** The same link, under the account (→ when it was linked): the account's keys are read as a range. */
  accountLinkingKey: (supporterId: string, pubkey: string) => `lnkeys:${supporterId}:${pubkey}`,
};

/** The prefixes of the kinds of record that are read as ranges (see `keys` for what each holds). */
export const prefixes = {
  balances: 'bal:',
  idempotency: 'idem:',
  idempotencyWritten: 'idemat:',
  history: (account: Account) => `hist:${account}:`,
  events: 'evt:',
  supporters: 'acct:',
  openDeposits: 'depopen:',
  handles: 'handle:',
  given: (supporterId: string) => `given:${supporterId}:`,
  lots: (handleKey: string) => `lot:${handleKey}:`,
  payerLots: 'paylot:',
  handlePayerLots: (handleKey: string) => `paylot:${handleKey}:`,
  announce: (periodId: number) => `announce:${pad(periodId)}:`,
  flattrs: (periodId: number) => `fl:${pad(periodId)}:`,
  supporterFlattrs: (periodId: number, supporterId: string) => `fl:${pad(periodId)}:${supporterId}:`,
  closes: 'close:',
  pendingWithdrawals: 'wdpending:',
  withdrawLinkExpiries: 'wlinkexp:',
  claimExpiries: 'claimexp:',
  bindings: 'binding:',
  rebindings: 'rebind:',
  openPayouts: 'payoutopen:',
  handlePayouts: (handleKey: string) => `hpayout:${handleKey}:`,
  payoutRetries: 'paytry:',
  authExpiries: 'lnauthexp:',
  accountLinkingKeys: (supporterId: string) => `lnkeys:${supporterId}:`,
};
