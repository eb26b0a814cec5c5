// Withdraw links (LNURL-withdraw, LUD-03): a supporter asks for one, shows it to a wallet, and the
// wallet redeems it with an invoice of its own. Whoever holds a link's k1 can withdraw, so it is
// random, short-lived, single-use and never stored: the link is kept under its SHA-256. Redeeming
// marks the link used in the very operation that holds the withdrawal (withdrawals.ts), so a link
// is never used without its hold, and never holds twice. A supporter holds a few open links at
// most, and those that expire unused are swept away.
import { hash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { Refusal } from '../errors.ts';
import { accounts, type Ledger, type Tx } from '../ledger/ledger.ts';
import { keys, lastPart, prefixes } from '../ledger/keys.ts';
import { parseStoredIfAny, storedFields } from '../ledger/records.ts';
import { decodeInvoice, type DecodedInvoice } from '../ln/bolt11.ts';
import type { Logger } from '../process/log.ts';
import { repeat } from '../process/repeat.ts';
import type { WithdrawalView } from './records.ts';
import type { PayableInvoice, Withdrawals } from './withdrawals.ts';

/** A link as stored (`wlink:<id>`); `withdrawalId` is set in the operation that uses it. */
export const withdrawLinkSchema = z.object({
  id: z.string().min(1),
  supporterId: z.string().min(1),
  minWithdrawableMsat: storedFields.msat,
  maxWithdrawableMsat: storedFields.msat,
  createdAt: storedFields.time,
  expiresAt: storedFields.time,
  withdrawalId: z.string().min(1).nullable(),
});
export type WithdrawLinkRecord = z.infer<typeof withdrawLinkSchema>;

/** A supporter's unused links as stored (`wlinkopen:<supporter>`): at most `openLinksMax` unexpired. */
const openLinksSchema = z.array(z.object({ id: z.string().min(1), expiresAt: storedFields.time }));
type OpenLinks = z.infer<typeof openLinksSchema>;

/** What its supporter sees of a link: where it stands, and the withdrawal it made. */
export interface WithdrawLinkView {
  id: string;
  state: 'open' | 'used' | 'expired';
  minWithdrawableMsat: string;
  maxWithdrawableMsat: string;
  expiresAt: string;
  withdrawal: WithdrawalView | null;
}

/** What a wallet is shown: the link's bounds, the most lowered to what the balance covers now. */
export interface WithdrawBounds {
  minWithdrawableMsat: bigint;
  maxWithdrawableMsat: bigint;
}

export interface WithdrawLinkOptions {
  /** How long a link may be redeemed after it is made. */
  ttlMs: number;
  now?: () => Date;
}

/** A link's id: the SHA-256 of its k1, so the store never holds what lets one withdraw. */
export const linkIdOf = (k1: string): string => hash('sha256', k1.toLowerCase(), 'base64url');

/** Expired links unused are forgotten this long after they expired (until then, their supporter sees `expired`). */
const forgetAfterMs = 3600_000;
/** Links forgotten in one operation, at most. */
const forgetBatchMax = 1_000;
/** Operations of one pass, at most: a pass goes on while a batch comes back full, and the next pass takes the rest. */
const forgetBatchesPerPassMax = 10;
const forgetEveryMs = 60_000;
/**
 * Unused, unexpired links one supporter may hold at once. Making a link needs a supporter's token,
 * so this caps how fast links can pile up (with the sweep above): a wallet needs one at a time.
 */
export const openLinksMax = 20;

type LinkProblem = 'withdraw_link_unknown' | 'withdraw_link_used' | 'withdraw_link_expired';

/** Why a link cannot be redeemed now, or nothing. */
export function linkProblem(link: WithdrawLinkRecord | undefined, now: Date): LinkProblem | undefined {
  if (!link) return 'withdraw_link_unknown';
  if (link.withdrawalId !== null) return 'withdraw_link_used';
  if (new Date(link.expiresAt) <= now) return 'withdraw_link_expired';
  return undefined;
}

export class WithdrawLinks {
  readonly #ledger: Ledger;
  readonly #withdrawals: Withdrawals;
  readonly #log: Logger;
  readonly #options: WithdrawLinkOptions;
  readonly #now: () => Date;
  #loop: { stop(): void } | undefined;

  constructor(ledger: Ledger, withdrawals: Withdrawals, log: Logger, options: WithdrawLinkOptions) {
    this.#ledger = ledger;
    this.#withdrawals = withdrawals;
    this.#log = log;
    this.#options = options;
    this.#now = options.now ?? (() => new Date());
  }

  async #read(id: string): Promise<WithdrawLinkRecord | undefined> {
    return parseStoredIfAny(withdrawLinkSchema, keys.withdrawLink(id), await this.#ledger.read(keys.withdrawLink(id)));
  }

  /** The largest amount the supporter's balance covers now, its fee reserve beside it (whole sats). */
  async #coveredMsat(supporterId: string): Promise<bigint> {
    return this.#withdrawals.largestCoveredMsat(await this.#ledger.balance(accounts.supporter(supporterId)));
  }

  /**
   * A new link: for exactly `amountMsat` if given, or for up to what the balance covers now;
   * refused when the balance does not cover that amount (or a single sat) with its fee reserve.
   */
  async create(supporterId: string, amountMsat?: bigint): Promise<{ k1: string; link: WithdrawLinkRecord }> {
    const coveredMsat = await this.#coveredMsat(supporterId);
    const maxMsat = amountMsat ?? coveredMsat;
    if (maxMsat === 0n || maxMsat > coveredMsat) throw new Refusal('insufficient_balance');
    const k1 = randomBytes(32).toString('hex');
    const now = this.#now();
    const link: WithdrawLinkRecord = {
      id: linkIdOf(k1),
      supporterId,
      minWithdrawableMsat: (amountMsat ?? 1_000n).toString(),
      maxWithdrawableMsat: maxMsat.toString(),
      createdAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + this.#options.ttlMs).toISOString(),
      withdrawalId: null,
    };
    await this.#ledger.run(
      async (tx) => {
        // Counted inside the writer: links made at once cannot pass the cap together.
        const open = (await this.#openLinks(tx, supporterId)).filter((other) => new Date(other.expiresAt) > now);
        if (open.length >= openLinksMax) {
          throw new Refusal('too_many_withdraw_links', `${openLinksMax} withdraw links are open at once, the most; use one, or wait for one to expire`);
        }
        tx.put(keys.withdrawLink(link.id), link);
        tx.put(keys.withdrawLinkExpiry(link.expiresAt, link.id), 0);
        tx.put(keys.openWithdrawLinks(supporterId), [...open, { id: link.id, expiresAt: link.expiresAt }] satisfies OpenLinks);
      },
      { sync: true },
    );
    return { k1, link };
  }

  async #openLinks(tx: Tx, supporterId: string): Promise<OpenLinks> {
    const key = keys.openWithdrawLinks(supporterId);
    return parseStoredIfAny(openLinksSchema, key, await tx.get(key)) ?? [];
  }

  /** Inside the writer: `link` is no longer one of its supporter's open links (used, or forgotten). */
  async #closeLink(tx: Tx, link: WithdrawLinkRecord): Promise<void> {
    const open = (await this.#openLinks(tx, link.supporterId)).filter((other) => other.id !== link.id);
    if (open.length === 0) tx.del(keys.openWithdrawLinks(link.supporterId));
    else tx.put(keys.openWithdrawLinks(link.supporterId), open satisfies OpenLinks);
  }

  /** The link of `k1` if it can be redeemed now; the refusal saying why not otherwise. */
  async #usable(k1: string): Promise<WithdrawLinkRecord> {
    const link = await this.#read(linkIdOf(k1));
    const problem = linkProblem(link, this.#now());
    if (problem || !link) throw new Refusal(problem ?? 'withdraw_link_unknown');
    return link;
  }

  /** What the wallet is shown for `k1`: the bounds, the most lowered to what the balance covers now. */
  async bounds(k1: string): Promise<WithdrawBounds> {
    const link = await this.#usable(k1);
    const minMsat = BigInt(link.minWithdrawableMsat);
    const coveredMsat = await this.#coveredMsat(link.supporterId);
    const maxMsat = BigInt(link.maxWithdrawableMsat) < coveredMsat ? BigInt(link.maxWithdrawableMsat) : coveredMsat;
    if (maxMsat < minMsat) throw new Refusal('insufficient_balance');
    return { minWithdrawableMsat: minMsat, maxWithdrawableMsat: maxMsat };
  }

  /**
   * Redeems `k1` with the wallet's invoice: the withdrawal is held and recorded, and the link marked
   * used, in one operation; answers once that is on disk, while LND pays in the background. The
   * same k1 and invoice again (a wallet's retry) get that withdrawal while it goes ahead.
   */
  async redeem(k1: string, paymentRequest: string): Promise<WithdrawalView> {
    const decoded = decodeInvoice(paymentRequest);
    const retried = await this.#retried(k1, decoded);
    if (retried) return retried;
    const link = await this.#usable(k1);
    const invoice = await this.#withdrawals.payable(decoded);
    if (invoice.amountMsat < BigInt(link.minWithdrawableMsat) || invoice.amountMsat > BigInt(link.maxWithdrawableMsat)) {
      throw new Refusal(
        'amount_out_of_range',
        `the invoice is for ${invoice.amountMsat} msat; this link pays from ${link.minWithdrawableMsat} to ${link.maxWithdrawableMsat} msat`,
      );
    }
    try {
      return await this.#hold(link, invoice);
    } catch (err) {
      // A retry that raced its first callback: the first held, and this one found the link used
      // (or its invoice taken by the first's withdrawal).
      if (err instanceof Refusal && (err.code === 'withdraw_link_used' || err.code === 'invoice_already_used')) {
        const raced = await this.#retried(k1, decoded);
        if (raced) return raced;
      }
      throw err;
    }
  }

  /**
   * A wallet's retry of a callback already answered (it did not hear the OK, or calls twice): the
   * withdrawal `k1`'s link made for this very invoice, while it is going ahead (pending or paid).
   * Nothing is written; a used link with another invoice, or whose payment failed, is refused.
   */
  async #retried(k1: string, decoded: DecodedInvoice | undefined): Promise<WithdrawalView | undefined> {
    if (!decoded) return undefined;
    const link = await this.#read(linkIdOf(k1));
    if (!link || link.withdrawalId === null) return undefined;
    const withdrawal = await this.#withdrawals.get(link.supporterId, link.withdrawalId);
    if (withdrawal?.paymentHash !== decoded.paymentHash || withdrawal.state === 'failed') return undefined;
    return withdrawal;
  }

  /** The withdrawal held and the link used, in one operation. */
  #hold(link: WithdrawLinkRecord, invoice: PayableInvoice): Promise<WithdrawalView> {
    const key = keys.withdrawLink(link.id);
    return this.#withdrawals.createInBackground(link.supporterId, invoice, async (tx, withdrawal) => {
      // Again inside the writer (compare and set): a second redeem racing this one finds it used.
      const current = parseStoredIfAny(withdrawLinkSchema, key, await tx.get(key));
      const problem = linkProblem(current, this.#now());
      if (problem || !current) throw new Refusal(problem ?? 'withdraw_link_unknown');
      tx.put(key, { ...current, withdrawalId: withdrawal.id } satisfies WithdrawLinkRecord);
      // A used link is kept (it names its withdrawal): out of the index of those to forget.
      tx.del(keys.withdrawLinkExpiry(current.expiresAt, current.id));
      await this.#closeLink(tx, current);
    });
  }

  /** A link of the supporter's, and the withdrawal it made, if any. */
  async get(supporterId: string, id: string): Promise<WithdrawLinkView | undefined> {
    const link = await this.#read(id);
    if (!link || link.supporterId !== supporterId) return undefined;
    const withdrawal = link.withdrawalId === null ? undefined : await this.#withdrawals.get(supporterId, link.withdrawalId);
    return {
      id: link.id,
      state: link.withdrawalId !== null ? 'used' : new Date(link.expiresAt) <= this.#now() ? 'expired' : 'open',
      minWithdrawableMsat: link.minWithdrawableMsat,
      maxWithdrawableMsat: link.maxWithdrawableMsat,
      expiresAt: link.expiresAt,
      withdrawal: withdrawal ?? null,
    };
  }

  /**
   * Forgets links that expired unused a while ago, `forgetBatchMax` to an operation, going on while
   * a batch comes back full (a backlog is drained, not left to grow), at most
   * `forgetBatchesPerPassMax` batches in one pass; answers how many were forgotten.
   */
  async forgetExpired(): Promise<number> {
    const before = new Date(this.#now().getTime() - forgetAfterMs).toISOString();
    let forgotten = 0;
    for (let batch = 0; batch < forgetBatchesPerPassMax; batch += 1) {
      const { read, forgotten: more } = await this.#forgetBatch(before);
      forgotten += more;
      if (read < forgetBatchMax) break;
    }
    return forgotten;
  }

  /** One operation: forgets up to `forgetBatchMax` links that expired unused before `before`. */
  async #forgetBatch(before: string): Promise<{ read: number; forgotten: number }> {
    const expired = await this.#ledger.db
      .keys({ gt: prefixes.withdrawLinkExpiries, lt: `${prefixes.withdrawLinkExpiries}${before}`, limit: forgetBatchMax })
      .all();
    if (expired.length === 0) return { read: 0, forgotten: 0 };
    const forgotten = await this.#ledger.run(
      async (tx) => {
        let count = 0;
        for (const indexKey of expired) {
          const key = keys.withdrawLink(lastPart(indexKey));
          const link = parseStoredIfAny(withdrawLinkSchema, key, await tx.get(key));
          // Used since the index was read: kept.
          if (link?.withdrawalId === null) {
            tx.del(key);
            await this.#closeLink(tx, link);
            count += 1;
          }
          tx.del(indexKey);
        }
        return count;
      },
      { sync: true },
    );
    return { read: expired.length, forgotten };
  }

  start(): void {
    this.stop();
    this.#loop = repeat('forgetting expired withdraw links', forgetEveryMs, () => this.forgetExpired(), this.#log);
  }

  stop(): void {
    this.#loop?.stop();
  }
}
