// Supporter accounts, their bearer tokens and their monthly budgets. A token (256 random bits) is
// shown once, at creation or rotation, and stored only as its SHA-256; rotation retires the old one
// at once. The budget is what each period close may allocate of the balance (flattrs/close.ts).
// An account made by a wallet's sign-in (auth/) has no token until its first one is handed out.
import { hash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Ledger, Tx } from '../ledger/ledger.ts';
import { keys } from '../ledger/keys.ts';
import { parseStoredIfAny } from '../ledger/records.ts';

/** A supporter's record (`acct:<id>`). */
export interface Supporter {
  id: string;
  createdAt: string;
  monthlyBudgetSat: number | null;
  /** The SHA-256 of its token; empty while it has none (made by a sign-in, not yet handed one). */
  tokenHash: string;
}

const supporterSchema = z.object({ id: z.string(), createdAt: z.string(), monthlyBudgetSat: z.number().nullable(), tokenHash: z.string() });

/** A supporter's record as read back from the store (checked: never misread; absent: undefined). */
const supporterRecord = (key: string, value: unknown): Supporter | undefined => parseStoredIfAny(supporterSchema, key, value);

/**
 * The token an `Authorization` header carries, if it is a bearer one: HTTP's scheme names are
 * case-insensitive (`bearer` works as `Bearer` does), and one or more spaces follow it.
 */
export const bearerTokenIn = (authorization: string | undefined): string | undefined => /^bearer +(\S+)$/i.exec(authorization ?? '')?.[1];

/** What is stored of a token (`tok:<hash>`, `tokenHash`): its SHA-256. */
export const hashToken = (token: string): string => hash('sha256', token);
const newToken = () => `tipd_${randomBytes(32).toString('base64url')}`;

export class Supporters {
  readonly #ledger: Ledger;
  readonly #rotated = new Set<(supporterId: string) => void>();

  /** Told after a supporter's token was replaced: whatever still runs on the old one must stop. */
  onTokenRotated(listener: (supporterId: string) => void): void {
    this.#rotated.add(listener);
  }
  constructor(ledger: Ledger) {
    this.#ledger = ledger;
  }

  async create(): Promise<{ id: string; token: string }> {
    const token = newToken();
    const id = await this.#ledger.run((tx) => this.#put(tx, hashToken(token)), { sync: true });
    return { id, token };
  }

  /** Inside an operation: a new account with no token yet (`tokenIn` makes its first); its id. */
  createIn(tx: Tx): string {
    return this.#put(tx, '');
  }

  #put(tx: Tx, tokenHash: string): string {
    const id = randomBytes(12).toString('base64url');
    const supporter: Supporter = { id, createdAt: tx.now.toISOString(), monthlyBudgetSat: null, tokenHash };
    tx.put(keys.supporter(id), supporter);
    if (tokenHash !== '') tx.put(keys.token(tokenHash), id);
    return id;
  }

  /** The supporter a bearer token belongs to, if any. */
  async authenticate(token: string): Promise<string | undefined> {
    return this.#ledger.read<string>(keys.token(hashToken(token)));
  }

  async get(id: string): Promise<Supporter | undefined> {
    const key = keys.supporter(id);
    return supporterRecord(key, await this.#ledger.read(key));
  }

  async rotateToken(id: string): Promise<string> {
    const token = await this.#ledger.run((tx) => this.tokenIn(tx, id), { sync: true });
    this.tokenReplaced(id);
    return token;
  }

  /**
   * Inside an operation: a new token for the account, retiring the one it had at once. Once the
   * operation is committed, the caller calls `tokenReplaced`.
   */
  async tokenIn(tx: Tx, id: string): Promise<string> {
    const key = keys.supporter(id);
    const supporter = supporterRecord(key, await tx.get(key));
    if (!supporter) throw new Error(`no supporter ${id}`);
    if (supporter.tokenHash !== '') tx.del(keys.token(supporter.tokenHash));
    const token = newToken();
    const tokenHash = hashToken(token);
    tx.put(key, { ...supporter, tokenHash });
    tx.put(keys.token(tokenHash), id);
    return token;
  }

  /** Tells whatever still runs on the supporter's old token (the websocket) that it was retired. */
  tokenReplaced(id: string): void {
    for (const listener of this.#rotated) listener(id);
  }

  /** Sets what each period close may allocate of the supporter's balance, in sats. */
  async setBudget(supporterId: string, monthlyBudgetSat: number): Promise<void> {
    await this.#ledger.run(
      async (tx) => {
        const key = keys.supporter(supporterId);
        const supporter = supporterRecord(key, await tx.get(key))!;
        tx.put(key, { ...supporter, monthlyBudgetSat });
      },
      { sync: true },
    );
  }
}
