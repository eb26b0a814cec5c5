// Claims: a creator proves that an X handle is theirs and names where to be paid: a Lightning node,
// or a Lightning Address (payouts/destination.ts). tipd issues a challenge (a message binding
// handle, destination, this hub, a nonce and an expiry, under a fresh claim id); the creator tweets
// the claim id with the proof of the destination (a node's signature of the message, or the
// address itself); tipd fetches the tweet and checks author, time, claim id and proof itself. A
// verified proof binds handle → destination, keeping the evidence. A proof from another X account
// than the bound one waits out a cooling-off time.
import { randomBytes } from 'node:crypto';
import type { z } from 'zod';
import { Refusal } from '../errors.ts';
import type { Handle } from '../escrow/handles.ts';
import type { HandleRecord } from '../escrow/escrow.ts';
import { topics, type EventData } from '../events/types.ts';
import type { Ledger, Tx } from '../ledger/ledger.ts';
import { keys, lastPart, prefixes, under } from '../ledger/keys.ts';
import { parseStored } from '../ledger/records.ts';
import { challengeWords, checkPayable, destinationOf, proofIn, storedFieldsOf, tweetProofHint, type Destination, type Rails } from '../payouts/destination.ts';
import type { Logger } from '../process/log.ts';
import { repeat } from '../process/repeat.ts';
import type { Tweet, XApi } from '../x/client.ts';
import { snowflakeTime } from '../x/tweets.ts';
import {
  bindingSchema,
  claimSchema,
  pendingBindingSchema,
  type Binding,
  type ClaimRecord,
  type ClaimView,
  type PendingBinding,
  type ProofOutcome,
} from './records.ts';

export type { ClaimView, ProofOutcome } from './records.ts';

export interface ClaimOptions {
  expiryMs: number;
  coolingOffMs: number;
  /** A payout of this much, under this fee cap, must find a route for a node to be accepted. */
  probeAmountMsat: bigint;
  probeFeeCapMsat: bigint;
  now?: () => Date;
}

/** Where claims' idempotency keys live: not a supporter's (their scope is the supporter's id). */
const claimsIdempotencyScope = 'public:claims';

/** Open claims are forgotten this long after they expired (a proof may come late, its tweet in time). */
const forgetAfterMs = 7 * 24 * 3600_000;

export class Claims {
  readonly #ledger: Ledger;
  readonly #rails: Rails;
  readonly #x: XApi;
  readonly #log: Logger;
  readonly #options: ClaimOptions;
  readonly #now: () => Date;
  readonly #bound = new Set<(handleKey: string) => void>();
  #loop: { stop(): void } | undefined;

  constructor(ledger: Ledger, rails: Rails, x: XApi, log: Logger, options: ClaimOptions) {
    this.#ledger = ledger;
    this.#rails = rails;
    this.#x = x;
    this.#log = log;
    this.#options = options;
    this.#now = options.now ?? (() => new Date());
  }

  /** Called with a handle's key whenever it gets bound (or re-bound) to a destination. */
  onBound(listener: (handleKey: string) => void): void {
    this.#bound.add(listener);
  }

  #view(claim: ClaimRecord): ClaimView {
    const { handleKey: _k, hubPubkey: _h, nonce: _n, ...view } = claim;
    return { ...view, tweetTemplate: `Claiming my tips for @${claim.handle} on tipd. claim ${claim.id} ${tweetProofHint(destinationOf(claim))}` };
  }

  /** Refuses a destination tipd could not pay (destination.ts says when). */
  checkPayable(destination: Destination): Promise<void> {
    return checkPayable(this.#rails, destination, { amountMsat: this.#options.probeAmountMsat, feeCapMsat: this.#options.probeFeeCapMsat });
  }

  /**
   * Issues a challenge for `handle` to be paid to `destination`. With an idempotency key (a page's
   * form sent twice), a repeat gets the first claim.
   */
  async create(handle: Handle, destination: Destination, idempotency?: { key: string; fingerprint: string }): Promise<ClaimView> {
    await this.checkPayable(destination);
    const now = this.#now();
    const id = `tipd-${randomBytes(8).toString('hex')}`;
    const nonce = randomBytes(16).toString('hex');
    const expiresAt = new Date(now.getTime() + this.#options.expiryMs).toISOString();
    const hubPubkey = await this.#rails.lnd.ownPubkey();
    const claim: ClaimRecord = {
      id,
      handleKey: handle.key,
      handle: handle.display,
      ...storedFieldsOf(destination),
      hubPubkey,
      nonce,
      message: `tipd claim ${id}: pay @${handle.key} to ${challengeWords(destination)} via tipd node ${hubPubkey}, nonce ${nonce}, expires ${expiresAt}`,
      createdAt: now.toISOString(),
      expiresAt,
      state: 'open',
      tweetId: null,
    };
    const issued = await this.#ledger.run(
      (tx) => {
        tx.put(keys.claim(id), claim);
        tx.put(keys.claimExpiry(expiresAt, id), 0);
        return this.#view(claim);
      },
      { sync: true, ...(idempotency ? { idempotency: { scope: claimsIdempotencyScope, ...idempotency } } : {}) },
    );
    if (issued.id === id) this.#log.info({ claim: id, handle: handle.key, ...storedFieldsOf(destination) }, 'claim issued');
    return issued;
  }

  async get(id: string): Promise<ClaimView | undefined> {
    const claim = await this.#ledger.read<ClaimRecord>(keys.claim(id));
    return claim && this.#view(claim);
  }

  async bindingOf(handleKey: string): Promise<{ binding: Binding | undefined; pending: PendingBinding | undefined }> {
    const [binding, pending] = await Promise.all([
      this.#ledger.read<Binding>(keys.binding(handleKey)),
      this.#ledger.read<PendingBinding>(keys.rebinding(handleKey)),
    ]);
    return { binding, pending };
  }

  /**
   * Checks the tweet `tweetId` as the proof of claim `id`. Every refusal throws a Refusal (or the
   * X API's or LND's error) and changes nothing.
   */
  async prove(id: string, tweetId: string): Promise<ProofOutcome> {
    const stored = await this.#ledger.read(keys.claim(id));
    if (stored === undefined) throw new Refusal('claim_not_found', `no claim ${id}`);
    const claim = parseStored(claimSchema, keys.claim(id), stored);
    const { tweet, tweetAt, proof } = await this.#checkTweet(claim, tweetId);
    const destination = destinationOf(claim);
    await this.checkPayable(destination);
    const evidence: Binding = {
      handle: tweet.authorUsername,
      ...storedFieldsOf(destination),
      xUserId: tweet.authorId,
      xUsername: tweet.authorUsername,
      claimId: claim.id,
      tweetId: tweet.id,
      tweetText: tweet.text,
      tweetAt: tweetAt.toISOString(),
      message: claim.message,
      signature: proof,
      verifiedAt: this.#now().toISOString(),
    };
    const outcome = await this.#ledger.run((tx) => this.#bindOrWait(tx, claim, evidence), { sync: true });
    this.#log.info({ claim: id, handle: claim.handleKey, state: outcome.state, ...storedFieldsOf(destination), xUserId: tweet.authorId }, 'claim proven');
    if (outcome.state === 'verified') this.#announce(claim.handleKey);
    return outcome;
  }

  /** The tweet, if it proves `claim`: by the handle, in its time, not a retweet, with the claim id and the proof of the destination. */
  async #checkTweet(claim: ClaimRecord, tweetId: string): Promise<{ tweet: Tweet; tweetAt: Date; proof: string }> {
    if (claim.state !== 'open') throw new Refusal('challenge_used', 'this challenge has already been proven; ask for a new one');
    // What the id alone tells (a snowflake carries its time) is checked before asking the X API,
    // whose quota is the app's: a stream of hopeless proofs must not use it up.
    if ((await this.#ledger.read(keys.tweetUsed(tweetId))) !== undefined) throw new Refusal('challenge_used', 'this tweet has already proven a claim');
    const tweetAt = snowflakeTime(tweetId);
    if (tweetAt < new Date(claim.createdAt)) throw new Refusal('tweet_before_challenge', 'the tweet is older than the challenge');
    if (tweetAt > new Date(claim.expiresAt))
      throw new Refusal('challenge_expired', `the challenge expired at ${claim.expiresAt}, before the tweet was posted; ask for a new one`);
    const lookup = await this.#x.lookupTweet(tweetId);
    if (!lookup.found) {
      throw new Refusal(
        'tweet_not_found',
        lookup.reason === 'not_found' ? `the X API has no tweet ${tweetId} (deleted, or never posted)` : `tweet ${tweetId} is not public`,
      );
    }
    const tweet = lookup.tweet;
    if (tweet.id !== tweetId) throw new Refusal('tweet_not_found', `the X API answered with tweet ${tweet.id} for ${tweetId}`);
    if (tweet.authorUsername.toLowerCase() !== claim.handleKey) {
      throw new Refusal('author_mismatch', `the tweet was posted by @${tweet.authorUsername}, not @${claim.handle}`);
    }
    // A retweet is by the handle but in someone else's words: retweeting a stranger's claim must not hand the handle over.
    if (tweet.retweetOf !== undefined || tweet.text.startsWith('RT @'))
      throw new Refusal('tweet_is_retweet', 'the tweet is a retweet; post the signature in a tweet of your own');
    if (!tweet.text.includes(claim.id)) throw new Refusal('claim_id_missing', `the tweet does not mention the claim id ${claim.id}`);
    const destination = destinationOf(claim);
    const proof = proofIn(destination, claim.message, tweet.text);
    if (!proof && destination.type === 'node') throw new Refusal('bad_signature', "the tweet carries no signature of the claim's message by the claimed node");
    if (!proof) throw new Refusal('address_mismatch', `the tweet does not name the claimed Lightning Address (${challengeWords(destination)})`);
    return { tweet, tweetAt, proof };
  }

  /** Inside the writer: binds the handle, or lets the proof wait out a cooling-off when another X account holds it. */
  async #bindOrWait(tx: Tx, claim: ClaimRecord, evidence: Binding): Promise<ProofOutcome> {
    const { id, handleKey } = claim;
    // Compare-and-set: a proof racing this one for the same challenge or tweet finds it used.
    const current = await this.#stored(tx, claimSchema, keys.claim(id));
    // Forgotten meanwhile (a week after it expired): as if it had never been.
    if (!current) throw new Refusal('claim_not_found', `no claim ${id}`);
    if (current.state !== 'open' || (await tx.get(keys.tweetUsed(evidence.tweetId))) !== undefined) {
      throw new Refusal('challenge_used', 'this challenge or tweet has already been used');
    }
    tx.put(keys.tweetUsed(evidence.tweetId), id);
    const bound = await this.#stored(tx, bindingSchema, keys.binding(handleKey));
    const waiting = await this.#stored(tx, pendingBindingSchema, keys.rebinding(handleKey));
    if (bound && bound.xUserId !== evidence.xUserId && this.#options.coolingOffMs > 0) {
      // Handles are renamed and recycled: another account gets the handle only after a wait,
      // which a new proof by the same waiting account does not start again.
      const effectiveAt = waiting?.xUserId === evidence.xUserId ? waiting.effectiveAt : new Date(tx.now.getTime() + this.#options.coolingOffMs).toISOString();
      if (waiting && waiting.claimId !== id) await this.#cancel(tx, handleKey, waiting);
      const pending: PendingBinding = { ...evidence, effectiveAt };
      tx.put(keys.rebinding(handleKey), pending);
      tx.put(keys.claim(id), { ...current, state: 'cooling_off', tweetId: evidence.tweetId } satisfies ClaimRecord);
      tx.emit('claim.cooling_off', [topics.handle(handleKey)], {
        handle: evidence.handle,
        ...storedFieldsOf(destinationOf(evidence)),
        xUserId: evidence.xUserId,
        boundXUserId: bound.xUserId,
        effectiveAt: pending.effectiveAt,
        claimId: id,
      } satisfies EventData['claim.cooling_off']);
      return { state: 'cooling_off', binding: pending };
    }
    // The bound account proving again cancels a pending move to another account.
    if (waiting) await this.#cancel(tx, handleKey, waiting);
    tx.del(keys.rebinding(handleKey));
    this.#bind(tx, handleKey, evidence, (await tx.get<HandleRecord>(keys.handle(handleKey))) ?? undefined);
    tx.put(keys.claim(id), { ...current, state: 'verified', tweetId: evidence.tweetId } satisfies ClaimRecord);
    return { state: 'verified', binding: evidence };
  }

  /** A record read inside the writer, checked; undefined if there is none. */
  async #stored<T>(tx: Tx, schema: z.ZodType<T>, key: string): Promise<T | undefined> {
    const value = await tx.get(key);
    return value === undefined ? undefined : parseStored(schema, key, value);
  }

  #bind(tx: Tx, handleKey: string, binding: Binding, record: HandleRecord | undefined): void {
    tx.put(keys.binding(handleKey), binding);
    // From now on the handle is shown as X spells it (a tip by Lightning Address may have first seen it in lower case).
    const display = binding.xUsername.toLowerCase() === handleKey ? binding.xUsername : (record?.display ?? binding.handle);
    tx.put(keys.handle(handleKey), {
      ...(record ?? { key: handleKey, firstSeenAt: tx.now.toISOString(), tips: 0, supporters: 0 }),
      display,
      claimed: true,
    } satisfies HandleRecord);
    tx.emit('claim.verified', [topics.handle(handleKey)], {
      handle: binding.handle,
      ...storedFieldsOf(destinationOf(binding)),
      xUserId: binding.xUserId,
      tweetId: binding.tweetId,
      claimId: binding.claimId,
    } satisfies EventData['claim.verified']);
  }

  async #cancel(tx: Tx, handleKey: string, waiting: PendingBinding): Promise<void> {
    const claim = await this.#stored(tx, claimSchema, keys.claim(waiting.claimId));
    if (claim) tx.put(keys.claim(claim.id), { ...claim, state: 'cancelled' } satisfies ClaimRecord);
    tx.emit('claim.cancelled', [topics.handle(handleKey)], {
      handle: waiting.handle,
      ...storedFieldsOf(destinationOf(waiting)),
      xUserId: waiting.xUserId,
      claimId: waiting.claimId,
    } satisfies EventData['claim.cancelled']);
  }

  /** Forgets claims that were never proven, a while after they expired. */
  async forgetExpired(): Promise<number> {
    const before = new Date(this.#now().getTime() - forgetAfterMs).toISOString();
    const expired = await this.#ledger.db.keys({ gt: prefixes.claimExpiries, lt: `${prefixes.claimExpiries}${before}`, limit: 1_000 }).all();
    if (expired.length === 0) return 0;
    return this.#ledger.run(
      async (tx) => {
        let forgotten = 0;
        for (const key of expired) {
          const id = lastPart(key);
          const claim = await tx.get<ClaimRecord>(keys.claim(id));
          // A proven claim stays: its binding names it.
          if (claim?.state === 'open') {
            tx.del(keys.claim(id));
            forgotten += 1;
          }
          tx.del(key);
        }
        return forgotten;
      },
      { sync: true },
    );
  }

  #announce(handleKey: string): void {
    for (const listener of this.#bound) listener(handleKey);
  }

  /** Moves the bindings whose cooling-off time is over. */
  async settleCoolingOff(): Promise<number> {
    const due = await this.#ledger.db.iterator(under(prefixes.rebindings)).all();
    let moved = 0;
    for (const [key, value] of due) {
      const pending = parseStored(pendingBindingSchema, key, value);
      if (new Date(pending.effectiveAt) > this.#now()) continue;
      const handleKey = pending.handle.toLowerCase();
      const applied = await this.#ledger.run(
        async (tx) => {
          const current = await this.#stored(tx, pendingBindingSchema, keys.rebinding(handleKey));
          if (!current || current.claimId !== pending.claimId) return false;
          tx.del(keys.rebinding(handleKey));
          const { effectiveAt: _e, ...binding } = current;
          this.#bind(tx, handleKey, binding, await tx.get<HandleRecord>(keys.handle(handleKey)));
          const claim = await this.#stored(tx, claimSchema, keys.claim(binding.claimId));
          if (claim) tx.put(keys.claim(claim.id), { ...claim, state: 'verified' } satisfies ClaimRecord);
          return true;
        },
        { sync: true },
      );
      if (applied) {
        moved += 1;
        this.#log.info(
          { handle: handleKey, ...storedFieldsOf(destinationOf(pending)), xUserId: pending.xUserId },
          'cooling-off over: handle bound to the new account',
        );
        this.#announce(handleKey);
      }
    }
    return moved;
  }

  start(): void {
    this.stop();
    const intervalMs = Math.min(60_000, Math.max(1_000, Math.floor(this.#options.coolingOffMs / 4)));
    this.#loop = repeat(
      'settling cooled-off claims',
      intervalMs,
      async () => {
        await this.settleCoolingOff();
        await this.forgetExpired();
      },
      this.#log,
    );
  }

  stop(): void {
    this.#loop?.stop();
  }
}
