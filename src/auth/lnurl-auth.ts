// Sign-in with a wallet (LNURL-auth, LUD-04). A browser asks for a sign-in: a random k1 in an
// LNURL for the wallet, and an id of its own to poll with. The wallet signs k1 with its linking key
// (a key per host); a key seen for the first time makes a new supporter account, a key seen before
// signs in to its account, and a signed-in supporter may link a further key to its own account.
// Each k1 is signed once, before it expires; the browser then picks up a fresh token, once.
import { hash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { Refusal } from '../errors.ts';
import type { Ledger, Tx } from '../ledger/ledger.ts';
import { keys, lastPart, prefixes } from '../ledger/keys.ts';
import { parseStoredIfAny, storedFields } from '../ledger/records.ts';
import { encodeLnurl } from '../lnurl/lnurl.ts';
import type { Logger } from '../process/log.ts';
import { repeat } from '../process/repeat.ts';
import type { Supporters } from '../supporters/supporters.ts';
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
});
type Session = z.infer<typeof sessionSchema>;

const sessionOf = (key: string, value: unknown): Session | undefined => parseStoredIfAny(sessionSchema, key, value);
const supporterIdOf = (key: string, value: unknown): string | undefined => parseStoredIfAny(z.string(), key, value);

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
  | { state: 'linked'; supporterId: string };

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
/** Most sign-ins forgotten in one operation. */
const forgetBatchMax = 1_000;
const sweepIntervalMs = 60_000;

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

  /** A new sign-in; `link` needs the signed-in supporter the key is to be linked to. */
  async create(action: AuthAction, supporterId?: string): Promise<AuthChallenge> {
    const { publicUrl } = this.#options;
    if (publicUrl === undefined) throw new Refusal('lnurl_unavailable');
    if (action === 'link' && supporterId === undefined) throw new Error('a link needs the supporter to link to');
    const id = randomBytes(32).toString('base64url');
    const k1 = randomBytes(32).toString('hex');
    const idHash = hashId(id);
    const expiresAt = await this.#ledger.run(
      (tx) => {
        const expiresAt = new Date(tx.now.getTime() + this.#options.expiryMs).toISOString();
        const session: Session = {
          k1,
          action,
          state: 'pending',
          supporterId: supporterId ?? null,
          createdAt: tx.nowIso,
          expiresAt,
          tokenHandedOut: false,
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
   * written, unless k1 is a pending sign-in, not expired, and the signature is good.
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
        if (session.state !== 'pending') throw new Refusal('lnurl_auth_used');
        if (tx.now >= new Date(session.expiresAt)) throw new Refusal('lnurl_auth_expired');
        const keyKey = keys.linkingKey(key);
        const linked = supporterIdOf(keyKey, await tx.get(keyKey));
        if (session.action === 'link') {
          const supporterId = session.supporterId!;
          if (linked !== undefined && linked !== supporterId) throw new Refusal('lnurl_auth_key_taken');
          tx.put(keyKey, supporterId);
          tx.put(sessionKey, { ...session, state: 'linked' } satisfies Session);
          return { supporterId, action: session.action, created: false };
        }
        const supporterId = linked ?? this.#supporters.createIn(tx);
        if (linked === undefined) tx.put(keyKey, supporterId);
        tx.put(sessionKey, { ...session, state: 'signed_in', supporterId } satisfies Session);
        return { supporterId, action: session.action, created: linked === undefined };
      },
      { sync: true },
    );
    this.#log.info({ supporter: outcome.supporterId, action: outcome.action, newAccount: outcome.created }, 'wallet signed a login challenge');
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
        const token = await this.#supporters.tokenIn(tx, supporterId);
        tx.put(sessionKey, { ...session, tokenHandedOut: true } satisfies Session);
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
        return { state: 'linked', supporterId: session.supporterId! };
    }
  }

  /** Forgets sign-ins a while after they expired (the accounts and linking keys stay); how many. */
  async forgetExpired(): Promise<number> {
    const before = new Date(this.#now().getTime() - forgetAfterMs).toISOString();
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
