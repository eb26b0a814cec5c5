// Sign-in with a wallet (LNURL-auth, LUD-04). A browser asks for a sign-in: a random k1 in an
// LNURL for the wallet, and an id of its own to poll with. The wallet signs k1 with its linking key
// (a key per host); a key seen for the first time makes a new supporter account, a key seen before
// signs in to its account, and a signed-in supporter may link a further key to its own account
// (while the token that asked is still the account's), list its keys and unlink one. Each k1 is
// signed once, before it expires (the same wallet may send its answer again); the browser then
// picks up a fresh token, once. Every link and sign-in is an event of the account's.
import { hash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { Refusal } from '../errors.ts';
import type { Ledger, Tx } from '../ledger/ledger.ts';
import { topics } from '../events/types.ts';
import { keys, lastPart, prefixes, under } from '../ledger/keys.ts';
import { parseStoredIfAny, storedFields } from '../ledger/records.ts';
import { encodeLnurl } from '../lnurl/lnurl.ts';
import type { Logger } from '../process/log.ts';
import { repeat } from '../process/repeat.ts';
import { hashToken, type Supporters } from '../supporters/supporters.ts';
import { checkLoginSignature, loginSignatureOf, type LoginSignature } from './signature.ts';

/** `login`: sign in (a new key makes a new account); `link`: add the key to a signed-in account. */
export type AuthAction = 'login' | 'link';

/**
 * A sign-in as stored (`lnauth:<SHA-256 of its id>`). No token is stored in it: a token is made
 * only when the browser picks it up (`poll`), and only its hash is kept, as for any token.
 */
const sessionSchema = z.object({
  k1: storedFields.hex32,
  action: z.enum(['login', 'link']),
  state: z.enum(['pending', 'signed_in', 'linked']),
  /** The account to link to; for a login, the account signed in to once the wallet has signed. */
  supporterId: z.string().nullable(),
  createdAt: storedFields.time,
  expiresAt: storedFields.time,
  tokenHandedOut: z.boolean(),
  /**
   * A link: the SHA-256 of the token that asked for it; the link is made only while the account
   * still has that token. (This and `key` are absent in sign-ins stored before tipd kept them.)
   */
  tokenHash: storedFields.hex32.optional(),
  /** The linking key that signed (once signed). */
  key: storedFields.pubkey.optional(),
});
type Session = z.infer<typeof sessionSchema>;

const sessionOf = (key: string, value: unknown): Session | undefined => parseStoredIfAny(sessionSchema, key, value);
const supporterIdOf = (key: string, value: unknown): string | undefined => parseStoredIfAny(z.string(), key, value);

/** Inside an operation: `key` signs in to the account from now on (`lnkey:`), and is listed with it (`lnkeys:`). */
function linkIn(tx: Tx, key: string, supporterId: string): void {
  tx.put(keys.linkingKey(key), supporterId);
  tx.put(keys.accountLinkingKey(supporterId, key), tx.nowIso);
}

/** The id is the browser's proof that the sign-in is its own: the store keeps only its hash. */
const hashId = (id: string): string => hash('sha256', id);

export interface AuthChallenge {
  /** Known only to the browser that asked: it polls with it. */
  id: string;
  /** For the wallet: bech32 of `<public URL>/lnurl/auth?tag=login&k1=…&action=…`. */
  lnurl: string;
  k1: string;
  expiresAt: string;
}

export type AuthPoll =
  | { state: 'pending'; expiresAt: string }
  | { state: 'expired' }
  | { state: 'signed_in'; supporterId: string; token?: string }
  /** `key`: the wallet's key that was linked. */
  | { state: 'linked'; supporterId: string; key?: string };

/** A wallet key linked to an account: it signs in to it. */
export interface LinkedKey {
  /** The linking key (compressed public key, hex). */
  key: string;
  linkedAt: string;
}

export interface LnurlAuthOptions {
  /** The base of the LNURL (TIPD_PUBLIC_URL); without one, no sign-in can be offered. */
  publicUrl: string | undefined;
  /** How long a k1 can be signed. */
  expiryMs: number;
  now?: () => Date;
}

/** A wallet's signature may come just before the k1 expires: its token can be picked up this much later. */
const pickUpGraceMs = 60_000;
/** Sign-ins are forgotten this long after they expired (until then, polls answer `expired`). */
const forgetAfterMs = 10 * 60_000;
/** Most sign-ins forgotten in one operation, and operations in one sweep (which then goes on at the next). */
const forgetBatchMax = 1_000;
const forgetBatchesPerSweepMax = 100;
const sweepIntervalMs = 60_000;
/** Most keys listed for one account. */
const linkedKeysListMax = 1_000;

const linkedKeySchema = storedFields.pubkey;

export class LnurlAuth {
  readonly #ledger: Ledger;
  readonly #supporters: Supporters;
  readonly #log: Logger;
  readonly #options: LnurlAuthOptions;
  readonly #now: () => Date;
  #loop: { stop(): void } | undefined;

  constructor(ledger: Ledger, supporters: Supporters, log: Logger, options: LnurlAuthOptions) {
    this.#ledger = ledger;
    this.#supporters = supporters;
    this.#log = log;
    this.#options = options;
    this.#now = options.now ?? (() => new Date());
  }

  /**
   * A new sign-in; `link` needs the token of the signed-in supporter the key is to be linked to:
   * the link is made only while the account still has that token (a rotation cancels it).
   */
  async create(action: AuthAction, token?: string): Promise<AuthChallenge> {
    const { publicUrl } = this.#options;
    if (publicUrl === undefined) throw new Refusal('lnurl_unavailable');
    if (action === 'link' && token === undefined) throw new Error('a link needs the token of the account to link to');
    const id = randomBytes(32).toString('base64url');
    const k1 = randomBytes(32).toString('hex');
    const idHash = hashId(id);
    const tokenHash = action === 'link' ? hashToken(token!) : undefined;
    const expiresAt = await this.#ledger.run(
      async (tx) => {
        let supporterId: string | null = null;
        if (tokenHash !== undefined) {
          const tokenKey = keys.token(tokenHash);
          supporterId = supporterIdOf(tokenKey, await tx.get(tokenKey)) ?? null;
          if (supporterId === null) throw new Refusal('unauthorized');
        }
        const expiresAt = new Date(tx.now.getTime() + this.#options.expiryMs).toISOString();
        const session: Session = {
          k1,
          action,
          state: 'pending',
          supporterId,
          createdAt: tx.nowIso,
          expiresAt,
          tokenHandedOut: false,
          ...(tokenHash === undefined ? {} : { tokenHash }),
        };
        tx.put(keys.authSession(idHash), session);
        tx.put(keys.authChallenge(k1), idHash);
        tx.put(keys.authExpiry(expiresAt, idHash), 0);
        return expiresAt;
      },
      { sync: true },
    );
    return { id, lnurl: encodeLnurl(`${publicUrl}/lnurl/auth?tag=login&k1=${k1}&action=${action}`), k1, expiresAt };
  }

  /**
   * The wallet's answer: `sig`, a signature of `k1` by its linking key `key`. Refused, with nothing
   * written, unless k1 is a pending sign-in, not expired, and the signature is good; the same key's
   * good signature of a k1 it has signed already is answered as the first was (its answer may have
   * been lost), and writes nothing.
   */
  async signed(input: LoginSignature): Promise<void> {
    const answer = loginSignatureOf(input);
    checkLoginSignature(answer);
    const { k1, key } = answer;
    const outcome = await this.#ledger.run(
      async (tx) => {
        const sessionKey = await this.#sessionKeyOf(tx, k1);
        const session = sessionOf(sessionKey, await tx.get(sessionKey));
        if (!session) throw new Refusal('lnurl_auth_unknown');
        if (session.state !== 'pending') {
          if (session.key === key) return undefined;
          throw new Refusal('lnurl_auth_used');
        }
        if (tx.now >= new Date(session.expiresAt)) throw new Refusal('lnurl_auth_expired');
        const keyKey = keys.linkingKey(key);
        const linked = supporterIdOf(keyKey, await tx.get(keyKey));
        if (session.action === 'link') {
          const supporterId = session.supporterId!;
          // A token that was replaced (rotated, or by a sign-in) may have leaked: its links go with it.
          const tokenKey = session.tokenHash === undefined ? undefined : keys.token(session.tokenHash);
          if (tokenKey === undefined || supporterIdOf(tokenKey, await tx.get(tokenKey)) !== supporterId) throw new Refusal('lnurl_auth_link_cancelled');
          if (linked !== undefined && linked !== supporterId) throw new Refusal('lnurl_auth_key_taken');
          if (linked === undefined) linkIn(tx, key, supporterId);
          tx.put(sessionKey, { ...session, state: 'linked', key } satisfies Session);
          tx.emit('auth.linked', [topics.supporter(supporterId)], { key });
          return { supporterId, action: session.action, created: false };
        }
        const supporterId = linked ?? this.#supporters.createIn(tx);
        if (linked === undefined) linkIn(tx, key, supporterId);
        tx.put(sessionKey, { ...session, state: 'signed_in', supporterId, key } satisfies Session);
        return { supporterId, action: session.action, created: linked === undefined };
      },
      { sync: true },
    );
    if (outcome === undefined) {
      this.#log.info('wallet sent its answer to a login challenge again');
      return;
    }
    this.#log.info({ supporter: outcome.supporterId, action: outcome.action, newAccount: outcome.created }, 'wallet signed a login challenge');
  }

  /** The wallet keys that sign in to the account, in the order of the keys (at most 1,000). */
  async linkedKeys(supporterId: string): Promise<LinkedKey[]> {
    const entries = await this.#ledger.db.iterator({ ...under(prefixes.accountLinkingKeys(supporterId)), limit: linkedKeysListMax }).all();
    return entries.map(([indexKey, linkedAt]) => ({ key: lastPart(indexKey), linkedAt: parseStoredIfAny(storedFields.time, indexKey, linkedAt)! }));
  }

  /** Unlinks a wallet key from the account: it no longer signs in to it (nor picks up a token it signed for). */
  async unlink(supporterId: string, key: string): Promise<void> {
    const pubkey = key.toLowerCase();
    if (!linkedKeySchema.safeParse(pubkey).success) throw new Refusal('lnurl_auth_key_not_linked');
    await this.#ledger.run(
      async (tx) => {
        const indexKey = keys.accountLinkingKey(supporterId, pubkey);
        const keyKey = keys.linkingKey(pubkey);
        if ((await tx.get(indexKey)) === undefined || supporterIdOf(keyKey, await tx.get(keyKey)) !== supporterId)
          throw new Refusal('lnurl_auth_key_not_linked');
        tx.del(indexKey);
        tx.del(keyKey);
        tx.emit('auth.unlinked', [topics.supporter(supporterId)], { key: pubkey });
      },
      { sync: true },
    );
    this.#log.info({ supporter: supporterId }, 'wallet key unlinked');
  }

  async #sessionKeyOf(tx: Tx, k1: string): Promise<string> {
    const challengeKey = keys.authChallenge(k1);
    const idHash = parseStoredIfAny(storedFields.hex32, challengeKey, await tx.get(challengeKey));
    if (idHash === undefined) throw new Refusal('lnurl_auth_unknown');
    return keys.authSession(idHash);
  }

  /**
   * Where the sign-in `id` stands. The first poll after the wallet signed a login gets a fresh token
   * for the account (retiring the one it had, as a rotation does); later ones get none.
   */
  async poll(id: string): Promise<AuthPoll> {
    const sessionKey = keys.authSession(hashId(id));
    const seen = sessionOf(sessionKey, await this.#ledger.read(sessionKey));
    if (!seen) throw new Refusal('lnurl_auth_not_found');
    if (!this.#tokenDue(seen, this.#now())) return this.#view(seen, this.#now());
    // Checked again inside one operation, so that two polls at once cannot both get a token.
    const { answer, replaced } = await this.#ledger.run(
      async (tx) => {
        const session = sessionOf(sessionKey, await tx.get(sessionKey));
        if (!session) throw new Refusal('lnurl_auth_not_found');
        if (!this.#tokenDue(session, tx.now)) return { answer: this.#view(session, tx.now), replaced: undefined };
        const supporterId = session.supporterId!;
        // A key unlinked since it signed gets no token.
        const keyKey = session.key === undefined ? undefined : keys.linkingKey(session.key);
        if (keyKey === undefined || supporterIdOf(keyKey, await tx.get(keyKey)) !== supporterId) {
          return { answer: { state: 'expired' } satisfies AuthPoll, replaced: undefined };
        }
        const token = await this.#supporters.tokenIn(tx, supporterId);
        tx.put(sessionKey, { ...session, tokenHandedOut: true } satisfies Session);
        tx.emit('auth.signed_in', [topics.supporter(supporterId)], { key: session.key! });
        return { answer: { state: 'signed_in', supporterId, token } satisfies AuthPoll, replaced: supporterId };
      },
      { sync: true },
    );
    if (replaced !== undefined) this.#supporters.tokenReplaced(replaced);
    return answer;
  }

  #tokenDue(session: Session, now: Date): boolean {
    return session.state === 'signed_in' && !session.tokenHandedOut && now.getTime() < new Date(session.expiresAt).getTime() + pickUpGraceMs;
  }

  #view(session: Session, now: Date): AuthPoll {
    const expiresAtMs = new Date(session.expiresAt).getTime();
    switch (session.state) {
      case 'pending':
        return now.getTime() < expiresAtMs ? { state: 'pending', expiresAt: session.expiresAt } : { state: 'expired' };
      case 'signed_in':
        // Its token was never picked up: the browser that asked is gone.
        return session.tokenHandedOut ? { state: 'signed_in', supporterId: session.supporterId! } : { state: 'expired' };
      case 'linked':
        return { state: 'linked', supporterId: session.supporterId!, ...(session.key === undefined ? {} : { key: session.key }) };
    }
  }

  /**
   * Forgets sign-ins a while after they expired (the accounts and linking keys stay), a batch at a
   * time while batches come back full, up to a bound per sweep (the next sweep goes on); how many.
   */
  async forgetExpired(): Promise<number> {
    const before = new Date(this.#now().getTime() - forgetAfterMs).toISOString();
    let forgotten = 0;
    for (let batch = 0; batch < forgetBatchesPerSweepMax; batch += 1) {
      const count = await this.#forgetBatch(before);
      forgotten += count;
      if (count < forgetBatchMax) break;
    }
    return forgotten;
  }

  async #forgetBatch(before: string): Promise<number> {
    const expired = await this.#ledger.db.keys({ gt: prefixes.authExpiries, lt: `${prefixes.authExpiries}${before}`, limit: forgetBatchMax }).all();
    if (expired.length === 0) return 0;
    return this.#ledger.run(
      async (tx) => {
        for (const expiryKey of expired) {
          const sessionKey = keys.authSession(lastPart(expiryKey));
          const session = sessionOf(sessionKey, await tx.get(sessionKey));
          if (session) tx.del(keys.authChallenge(session.k1));
          tx.del(sessionKey);
          tx.del(expiryKey);
        }
        return expired.length;
      },
      { sync: true },
    );
  }

  start(): void {
    this.stop();
    this.#loop = repeat('forgetting expired sign-ins', sweepIntervalMs, () => this.forgetExpired(), this.#log);
  }

  stop(): void {
    this.#loop?.stop();
  }
}
