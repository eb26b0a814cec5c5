// Claims: a creator proves that an X handle is theirs and names the Lightning node to be paid. tipd
// issues a challenge (a message binding handle, node, this hub, a nonce and an expiry); the creator
// signs it with their node and tweets the signature with the claim id; tipd fetches the tweet and
// checks author, time, claim id and signature itself. A verified proof binds handle → node, keeping
// the evidence. A proof from another X account than the bound one waits out a cooling-off time.
import { randomBytes } from 'node:crypto';
import { Refusal } from '../errors.ts';
import type { Handle } from '../escrow/handles.ts';
import type { Ledger, Tx } from '../ledger/ledger.ts';
import type { Topic } from '../events/types.ts';
import { prefixEnd } from '../ledger/keys.ts';
import type { Lnd } from '../ln/lnd.ts';
import type { Logger } from '../process/log.ts';
import { repeat } from '../process/repeat.ts';
import type { HandleRecord } from '../escrow/tips.ts';
import type { XApi } from '../x/client.ts';
import { snowflakeTime } from '../x/tweets.ts';
import { isSignedBy, signaturePattern } from './signature.ts';

/** `cancelled`: it waited out a cooling-off, and the account the handle is bound to proved it again. */
export type ClaimState = 'open' | 'verified' | 'cooling_off' | 'cancelled';

interface ClaimRecord {
  id: string;
  handleKey: string;
  /** The handle as the creator wrote it. */
  handle: string;
  nodePubkey: string;
  hubPubkey: string;
  nonce: string;
  message: string;
  createdAt: string;
  expiresAt: string;
  state: ClaimState;
  tweetId: string | null;
}

export interface ClaimView {
  id: string;
  handle: string;
  nodePubkey: string;
  message: string;
  tweetTemplate: string;
  createdAt: string;
  expiresAt: string;
  state: ClaimState;
  tweetId: string | null;
}

/** What a verified proof showed, kept so that anyone can check it again, even if the tweet is deleted. */
export interface Binding {
  handle: string;
  nodePubkey: string;
  xUserId: string;
  xUsername: string;
  claimId: string;
  tweetId: string;
  tweetText: string;
  tweetAt: string;
  message: string;
  signature: string;
  verifiedAt: string;
}

/** A proof by another X account than the bound one: it takes effect at `effectiveAt`. */
export interface PendingBinding extends Binding {
  effectiveAt: string;
}

export type ClaimRefusal =
  | 'claim_not_found'
  | 'own_node'
  | 'node_unreachable'
  | 'keysend_unsupported'
  | 'challenge_used'
  | 'challenge_expired'
  | 'tweet_not_found'
  | 'tweet_before_challenge'
  | 'tweet_is_retweet'
  | 'author_mismatch'
  | 'claim_id_missing'
  | 'bad_signature';

export class ClaimRefused extends Refusal<ClaimRefusal> {}

export interface ClaimOptions {
  expiryMs: number;
  coolingOffMs: number;
  /** A payout of this much, under this fee cap, must find a route for a node to be accepted. */
  probeAmountMsat: bigint;
  probeFeeCapMsat: bigint;
  now?: () => Date;
}

export type ProofOutcome = { state: 'verified'; binding: Binding } | { state: 'cooling_off'; binding: PendingBinding };

const signatureHint = '<signature>';
/** Open claims are forgotten this long after they expired (a proof may come late, its tweet in time). */
const forgetAfterMs = 7 * 24 * 3600_000;

export class Claims {
  readonly #ledger: Ledger;
  readonly #lnd: Lnd;
  readonly #x: XApi;
  readonly #log: Logger;
  readonly #options: ClaimOptions;
  readonly #now: () => Date;
  readonly #bound = new Set<(handleKey: string) => void>();
  #loop: { stop(): void } | undefined;

  constructor(ledger: Ledger, lnd: Lnd, x: XApi, log: Logger, options: ClaimOptions) {
    this.#ledger = ledger;
    this.#lnd = lnd;
    this.#x = x;
    this.#log = log;
    this.#options = options;
    this.#now = options.now ?? (() => new Date());
  }

  /** Called with a handle's key whenever it gets bound (or re-bound) to a node. */
  onBound(listener: (handleKey: string) => void): void {
    this.#bound.add(listener);
  }

  #view(claim: ClaimRecord): ClaimView {
    const { handleKey: _k, hubPubkey: _h, nonce: _n, ...view } = claim;
    return { ...view, tweetTemplate: `Claiming my tips for @${claim.handle} on tipd. claim ${claim.id} sig ${signatureHint}` };
  }

  /** Refuses a node that tipd could not pay: unknown to the hub's graph, no keysend, or no route. */
  async checkPayable(nodePubkey: string): Promise<void> {
    if (nodePubkey === (await this.#lnd.ownPubkey())) throw new ClaimRefused('own_node', 'nodePubkey is the node of this tipd itself');
    const node = await this.#lnd.getNode(nodePubkey);
    if (!node || node.channelCount === 0) {
      throw new ClaimRefused(
        'node_unreachable',
        'the hub does not know this node or any public channel of it; open a public channel and wait for it to be announced',
      );
    }
    if (!node.keysend) throw new ClaimRefused('keysend_unsupported', 'the node does not advertise keysend; start LND with --accept-keysend');
    const routed = await this.#lnd.hasRoute({ destination: nodePubkey, amountMsat: this.#options.probeAmountMsat, maxFeeMsat: this.#options.probeFeeCapMsat });
    if (!routed)
      throw new ClaimRefused(
        'node_unreachable',
        `the hub finds no route to this node for ${this.#options.probeAmountMsat / 1000n} sat; it needs inbound liquidity from the network`,
      );
  }

  /** Issues a challenge for `handle` to be paid to `nodePubkey`. */
  async create(handle: Handle, nodePubkey: string): Promise<ClaimView> {
    await this.checkPayable(nodePubkey);
    const now = this.#now();
    const id = `tipd-${randomBytes(8).toString('hex')}`;
    const nonce = randomBytes(16).toString('hex');
    const expiresAt = new Date(now.getTime() + this.#options.expiryMs).toISOString();
    const hubPubkey = await this.#lnd.ownPubkey();
    const claim: ClaimRecord = {
      id,
      handleKey: handle.key,
      handle: handle.display,
      nodePubkey,
      hubPubkey,
      nonce,
      message: `tipd claim ${id}: pay @${handle.key} to node ${nodePubkey} via tipd node ${hubPubkey}, nonce ${nonce}, expires ${expiresAt}`,
      createdAt: now.toISOString(),
      expiresAt,
      state: 'open',
      tweetId: null,
    };
    await this.#ledger.run(
      (tx) => {
        tx.put(`claim:${id}`, claim);
        tx.put(`claimexp:${expiresAt}:${id}`, 0);
      },
      { sync: true },
    );
    this.#log.info({ claim: id, handle: handle.key, nodePubkey }, 'claim issued');
    return this.#view(claim);
  }

  async get(id: string): Promise<ClaimView | undefined> {
    const claim = await this.#ledger.read<ClaimRecord>(`claim:${id}`);
    return claim && this.#view(claim);
  }

  async bindingOf(handleKey: string): Promise<{ binding: Binding | undefined; pending: PendingBinding | undefined }> {
    const [binding, pending] = await Promise.all([
      this.#ledger.read<Binding>(`binding:${handleKey}`),
      this.#ledger.read<PendingBinding>(`rebind:${handleKey}`),
    ]);
    return { binding, pending };
  }

  /**
   * Checks the tweet `tweetId` as the proof of claim `id`. Every refusal throws a ClaimRefused
   * (or the X API's or LND's error) and changes nothing.
   */
  async prove(id: string, tweetId: string): Promise<ProofOutcome> {
    const claim = await this.#ledger.read<ClaimRecord>(`claim:${id}`);
    if (!claim) throw new ClaimRefused('claim_not_found', `no claim ${id}`);
    if (claim.state !== 'open') throw new ClaimRefused('challenge_used', 'this challenge has already been proven; ask for a new one');
    // What the id alone tells (a snowflake carries its time) is checked before asking the X API,
    // whose quota is the app's: a stream of hopeless proofs must not use it up.
    if ((await this.#ledger.read(`tweetused:${tweetId}`)) !== undefined) throw new ClaimRefused('challenge_used', 'this tweet has already proven a claim');
    const tweetAt = snowflakeTime(tweetId);
    if (tweetAt < new Date(claim.createdAt)) throw new ClaimRefused('tweet_before_challenge', 'the tweet is older than the challenge');
    if (tweetAt > new Date(claim.expiresAt))
      throw new ClaimRefused('challenge_expired', `the challenge expired at ${claim.expiresAt}, before the tweet was posted; ask for a new one`);
    const lookup = await this.#x.lookupTweet(tweetId);
    if (!lookup.found) {
      throw new ClaimRefused(
        'tweet_not_found',
        lookup.reason === 'not_found' ? `the X API has no tweet ${tweetId} (deleted, or never posted)` : `tweet ${tweetId} is not public`,
      );
    }
    const tweet = lookup.tweet;
    if (tweet.id !== tweetId) throw new ClaimRefused('tweet_not_found', `the X API answered with tweet ${tweet.id} for ${tweetId}`);
    if (tweet.authorUsername.toLowerCase() !== claim.handleKey) {
      throw new ClaimRefused('author_mismatch', `the tweet was posted by @${tweet.authorUsername}, not @${claim.handle}`);
    }
    // A retweet is by the handle but in someone else's words: retweeting a stranger's claim must not hand the handle over.
    if (tweet.retweetOf !== undefined || tweet.text.startsWith('RT @'))
      throw new ClaimRefused('tweet_is_retweet', 'the tweet is a retweet; post the signature in a tweet of your own');
    if (!tweet.text.includes(claim.id)) throw new ClaimRefused('claim_id_missing', `the tweet does not mention the claim id ${claim.id}`);
    const signature = (tweet.text.match(signaturePattern) ?? []).find((candidate) => isSignedBy(claim.message, candidate, claim.nodePubkey));
    if (!signature) throw new ClaimRefused('bad_signature', "the tweet carries no signature of the claim's message by the claimed node");
    await this.checkPayable(claim.nodePubkey);

    const evidence: Binding = {
      handle: tweet.authorUsername,
      nodePubkey: claim.nodePubkey,
      xUserId: tweet.authorId,
      xUsername: tweet.authorUsername,
      claimId: claim.id,
      tweetId: tweet.id,
      tweetText: tweet.text,
      tweetAt: tweetAt.toISOString(),
      message: claim.message,
      signature,
      verifiedAt: this.#now().toISOString(),
    };
    const outcome = await this.#ledger.run(
      async (tx): Promise<ProofOutcome> => {
        // Compare-and-set: a proof racing this one for the same challenge or tweet finds it used.
        const current = (await tx.get<ClaimRecord>(`claim:${id}`))!;
        if (current.state !== 'open' || (await tx.get(`tweetused:${tweet.id}`)) !== undefined) {
          throw new ClaimRefused('challenge_used', 'this challenge or tweet has already been used');
        }
        tx.put(`tweetused:${tweet.id}`, id);
        const bound = await tx.get<Binding>(`binding:${claim.handleKey}`);
        const topics: Topic[] = [`handle:${claim.handleKey}`];
        const waiting = await tx.get<PendingBinding>(`rebind:${claim.handleKey}`);
        if (bound && bound.xUserId !== tweet.authorId && this.#options.coolingOffMs > 0) {
          // Handles are renamed and recycled: another account gets the handle only after a wait,
          // which a new proof by the same waiting account does not start again.
          const effectiveAt = waiting?.xUserId === tweet.authorId ? waiting.effectiveAt : new Date(tx.now.getTime() + this.#options.coolingOffMs).toISOString();
          if (waiting && waiting.claimId !== id) await this.#cancel(tx, claim.handleKey, waiting);
          const pending: PendingBinding = { ...evidence, effectiveAt };
          tx.put(`rebind:${claim.handleKey}`, pending);
          tx.put(`claim:${id}`, { ...current, state: 'cooling_off', tweetId: tweet.id } satisfies ClaimRecord);
          tx.emit('claim.cooling_off', topics, {
            handle: evidence.handle,
            nodePubkey: evidence.nodePubkey,
            xUserId: evidence.xUserId,
            boundXUserId: bound.xUserId,
            effectiveAt: pending.effectiveAt,
            claimId: id,
          });
          return { state: 'cooling_off', binding: pending };
        }
        // The bound account proving again cancels a pending move to another account.
        if (waiting) await this.#cancel(tx, claim.handleKey, waiting);
        tx.del(`rebind:${claim.handleKey}`);
        this.#bind(tx, claim.handleKey, evidence, (await tx.get<HandleRecord>(`handle:${claim.handleKey}`)) ?? undefined);
        tx.put(`claim:${id}`, { ...current, state: 'verified', tweetId: tweet.id } satisfies ClaimRecord);
        return { state: 'verified', binding: evidence };
      },
      { sync: true },
    );
    this.#log.info({ claim: id, handle: claim.handleKey, state: outcome.state, nodePubkey: claim.nodePubkey, xUserId: tweet.authorId }, 'claim proven');
    if (outcome.state === 'verified') this.#announce(claim.handleKey);
    return outcome;
  }

  #bind(tx: Tx, handleKey: string, binding: Binding, record: HandleRecord | undefined): void {
    tx.put(`binding:${handleKey}`, binding);
    tx.put(`handle:${handleKey}`, {
      ...(record ?? { key: handleKey, display: binding.handle, firstSeenAt: tx.now.toISOString(), tips: 0, supporters: 0 }),
      claimed: true,
    } satisfies HandleRecord);
    tx.emit('claim.verified', [`handle:${handleKey}`], {
      handle: binding.handle,
      nodePubkey: binding.nodePubkey,
      xUserId: binding.xUserId,
      tweetId: binding.tweetId,
      claimId: binding.claimId,
    });
  }

  async #cancel(tx: Tx, handleKey: string, waiting: PendingBinding): Promise<void> {
    const claim = await tx.get<ClaimRecord>(`claim:${waiting.claimId}`);
    if (claim) tx.put(`claim:${claim.id}`, { ...claim, state: 'cancelled' } satisfies ClaimRecord);
    tx.emit('claim.cancelled', [`handle:${handleKey}`], {
      handle: waiting.handle,
      nodePubkey: waiting.nodePubkey,
      xUserId: waiting.xUserId,
      claimId: waiting.claimId,
    });
  }

  /** Forgets claims that were never proven, a while after they expired. */
  async forgetExpired(): Promise<number> {
    const before = new Date(this.#now().getTime() - forgetAfterMs).toISOString();
    const keys = await this.#ledger.db.keys({ gt: 'claimexp:', lt: `claimexp:${before}`, limit: 1_000 }).all();
    if (keys.length === 0) return 0;
    return this.#ledger.run(
      async (tx) => {
        let forgotten = 0;
        for (const key of keys) {
          const id = key.slice(key.lastIndexOf(':') + 1);
          const claim = await tx.get<ClaimRecord>(`claim:${id}`);
          // A proven claim stays: its binding names it.
          if (claim?.state === 'open') {
            tx.del(`claim:${id}`);
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
    const due = (await this.#ledger.db.values({ gt: 'rebind:', lt: prefixEnd('rebind:') }).all()) as PendingBinding[];
    let moved = 0;
    for (const pending of due) {
      if (new Date(pending.effectiveAt) > this.#now()) continue;
      const handleKey = pending.handle.toLowerCase();
      const applied = await this.#ledger.run(
        async (tx) => {
          const current = await tx.get<PendingBinding>(`rebind:${handleKey}`);
          if (!current || current.claimId !== pending.claimId) return false;
          tx.del(`rebind:${handleKey}`);
          const { effectiveAt: _e, ...binding } = current;
          this.#bind(tx, handleKey, binding, await tx.get<HandleRecord>(`handle:${handleKey}`));
          const claim = await tx.get<ClaimRecord>(`claim:${binding.claimId}`);
          if (claim) tx.put(`claim:${claim.id}`, { ...claim, state: 'verified' } satisfies ClaimRecord);
          return true;
        },
        { sync: true },
      );
      if (applied) {
        moved += 1;
        this.#log.info({ handle: handleKey, nodePubkey: pending.nodePubkey, xUserId: pending.xUserId }, 'cooling-off over: handle bound to the new account');
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
