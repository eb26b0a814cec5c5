// Who may open a websocket at /v1/events: the rules that keep one address, or a crowd of anonymous
// sockets, from taking every slot. Anonymous sockets (not signed in as a supporter) have their own
// room, smaller than clientsMax: the rest is kept for supporters. An anonymous socket may still
// borrow a kept slot, to sign in by its first message (as browsers do), on condition that it does so
// soon (the hub closes it otherwise), and it gives the slot up to a supporter who needs it. Upgrades
// count in a per-minute budget, per token or per address, as requests do in the HTTP rate limit.
import { hash } from 'node:crypto';
import { ipKeyGenerator } from 'express-rate-limit';
import type { ErrorCode } from '../errors.ts';

export interface AdmissionLimits {
  /** Sockets in all. */
  clientsMax: number;
  /** Anonymous sockets in all; the rest of `clientsMax` is kept for supporters. */
  anonymousClientsMax: number;
  /** Sockets of one address (an IPv6 /56), supporters' too; 0: no limit. */
  clientsPerAddressMax: number;
  /** Anonymous sockets of one address; 0: no limit. */
  anonymousClientsPerAddressMax: number;
  /** Upgrades a minute per token, or per address without one; 0: no limit. */
  upgradesPerMinuteMax: number;
}

/** A socket let in: what it counts in, until it is released. */
export interface Ticket {
  readonly address: string;
  anonymous: boolean;
  /** Let in over the anonymous room, into a slot kept for supporters: it must sign in soon. */
  readonly borrowed: boolean;
  released: boolean;
}

/** Let in (and the borrower that gave up its slot for it, already released), or refused. */
export type Admitted = { ticket: Ticket; evicted: Ticket | undefined } | { refused: ErrorCode; message: string };

interface Counts {
  clients: number;
  anonymous: number;
}

const windowMs = 60_000;

/** The key of an address in every count: IPv6 by its /56, as the HTTP rate limit does. */
export const addressKey = (remoteAddress: string | undefined): string => ipKeyGenerator(remoteAddress ?? 'unknown');

export class Admission {
  readonly #limits: AdmissionLimits;
  #clients = 0;
  #anonymous = 0;
  readonly #byAddress = new Map<string, Counts>();
  /** Anonymous sockets in slots kept for supporters, oldest first. */
  readonly #borrowers = new Set<Ticket>();
  /** Upgrades in the current minute, by key; the whole map starts again each minute. */
  readonly #upgrades = new Map<string, number>();
  #windowEndsAt = 0;

  constructor(limits: AdmissionLimits) {
    this.#limits = limits;
  }

  /**
   * One more upgrade this minute, of a supporter's `token` (already checked), or of `address`
   * without one; false once past the budget. Every upgrade counts, refused or not.
   */
  spend(address: string, token: string | undefined, now = Date.now()): boolean {
    if (this.#limits.upgradesPerMinuteMax === 0) return true;
    if (now >= this.#windowEndsAt) {
      this.#upgrades.clear();
      this.#windowEndsAt = now + windowMs;
    }
    const key = token === undefined ? `a:${address}` : `t:${hash('sha256', token)}`;
    const spent = (this.#upgrades.get(key) ?? 0) + 1;
    this.#upgrades.set(key, spent);
    return spent <= this.#limits.upgradesPerMinuteMax;
  }

  /** Lets a socket of `address` in, a supporter's or an anonymous one, or says why not. */
  admit(address: string, anonymous: boolean): Admitted {
    const limits = this.#limits;
    const counts = this.#byAddress.get(address) ?? { clients: 0, anonymous: 0 };
    if (limits.clientsPerAddressMax > 0 && counts.clients >= limits.clientsPerAddressMax) {
      return { refused: 'too_many_address_clients', message: `at most ${limits.clientsPerAddressMax} websockets from one address` };
    }
    if (anonymous && limits.anonymousClientsPerAddressMax > 0 && counts.anonymous >= limits.anonymousClientsPerAddressMax) {
      return {
        refused: 'too_many_address_clients',
        message: `at most ${limits.anonymousClientsPerAddressMax} websockets from one address without a token; send Authorization: Bearer <token>`,
      };
    }
    // A supporter takes the slot of the oldest borrower when there is no other.
    const evicted = this.#clients >= limits.clientsMax && !anonymous ? this.#borrowers.values().next().value : undefined;
    if (evicted) this.release(evicted);
    if (this.#clients >= limits.clientsMax) return { refused: 'too_many_clients', message: 'too many websocket clients; try again later' };
    const ticket: Ticket = { address, anonymous, borrowed: anonymous && this.#anonymous >= limits.anonymousClientsMax, released: false };
    counts.clients += 1;
    this.#clients += 1;
    if (anonymous) {
      counts.anonymous += 1;
      this.#anonymous += 1;
    }
    if (ticket.borrowed) this.#borrowers.add(ticket);
    this.#byAddress.set(address, counts);
    return { ticket, evicted };
  }

  /** The socket signed in as a supporter: it counts as anonymous no more. */
  signedIn(ticket: Ticket): void {
    if (ticket.released || !ticket.anonymous) return;
    ticket.anonymous = false;
    this.#borrowers.delete(ticket);
    this.#anonymous -= 1;
    this.#byAddress.get(ticket.address)!.anonymous -= 1;
  }

  /** The socket is gone; a second call does nothing. */
  release(ticket: Ticket): void {
    if (ticket.released) return;
    ticket.released = true;
    this.#borrowers.delete(ticket);
    this.#clients -= 1;
    const counts = this.#byAddress.get(ticket.address)!;
    counts.clients -= 1;
    if (ticket.anonymous) {
      this.#anonymous -= 1;
      counts.anonymous -= 1;
    }
    if (counts.clients === 0) this.#byAddress.delete(ticket.address);
  }

  /** Sockets in all, and of them anonymous: for tests and logs. */
  get counts(): Counts {
    return { clients: this.#clients, anonymous: this.#anonymous };
  }
}
