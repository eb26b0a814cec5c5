// Supporter accounts and their bearer tokens. A token (256 random bits) is shown once, at
// creation or rotation, and stored only as its SHA-256; rotation retires the old one at once.
import { hash, randomBytes } from 'node:crypto';
import type { Ledger } from '../ledger/ledger.ts';

export interface Supporter {
  id: string;
  createdAt: string;
  monthlyBudgetSat: number | null;
  tokenHash: string;
}

const hashToken = (token: string) => hash('sha256', token);
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
    const id = randomBytes(12).toString('base64url');
    const token = newToken();
    await this.#ledger.run(
      (tx) => {
        const supporter: Supporter = { id, createdAt: tx.now.toISOString(), monthlyBudgetSat: null, tokenHash: hashToken(token) };
        tx.put(`acct:${id}`, supporter);
        tx.put(`tok:${supporter.tokenHash}`, id);
      },
      { sync: true },
    );
    return { id, token };
  }

  /** The supporter a bearer token belongs to, if any. */
  async authenticate(token: string): Promise<string | undefined> {
    return this.#ledger.read<string>(`tok:${hashToken(token)}`);
  }

  get(id: string): Promise<Supporter | undefined> {
    return this.#ledger.read<Supporter>(`acct:${id}`);
  }

  async rotateToken(id: string): Promise<string> {
    const token = newToken();
    await this.#ledger.run(
      async (tx) => {
        const supporter = await tx.get<Supporter>(`acct:${id}`);
        if (!supporter) throw new Error(`no supporter ${id}`);
        tx.del(`tok:${supporter.tokenHash}`);
        const tokenHash = hashToken(token);
        tx.put(`acct:${id}`, { ...supporter, tokenHash });
        tx.put(`tok:${tokenHash}`, id);
      },
      { sync: true },
    );
    for (const listener of this.#rotated) listener(id);
    return token;
  }
}
