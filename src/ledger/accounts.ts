// The accounts of tipd's double-entry ledger, and the rule that binds them: only system accounts
// (the outside world, as seen through deposits, withdrawals, payouts and fees) may go below zero.
// docs/money.md ("Accounts") says what each holds.
export type Account = `supporter:${string}` | `escrow:${string}` | `pending:${string}` | `system:${string}`;

export const accounts = {
  supporter: (id: string): Account => `supporter:${id}`,
  escrow: (handleKey: string): Account => `escrow:${handleKey}`,
  pending: (what: string): Account => `pending:${what}`,
  /** Money that came in over Lightning (deposits): goes negative as it is credited out. */
  deposits: 'system:deposits' as Account,
  /** Money that left over Lightning to a supporter's own invoice (withdrawals). */
  withdrawals: 'system:withdrawals' as Account,
  /** Money that left over Lightning to creators' nodes (keysend payouts of escrow). */
  payouts: 'system:payouts' as Account,
  /** Routing fees paid to the Lightning network. */
  fees: 'system:fees' as Account,
};

/** Only system accounts (the outside world) may go negative. */
export const mayGoNegative = (account: Account): boolean => account.startsWith('system:');
