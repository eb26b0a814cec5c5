// The accounts of tipd's double-entry ledger, and the rules that bind them: money moves only as a
// transfer of a positive amount from one account to another, the changes of a batch sum to zero,
// and only system accounts (the outside world, as seen through deposits, withdrawals, payouts and
// fees) may go below zero. docs/money.md ("Accounts") says what each holds.
import { Refusal } from '../errors.ts';

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

/** What breaks the rules in a transfer of `amountMsat` from `debit` to `credit` (a bug of its caller), if anything. */
export function transferViolation(debit: Account, credit: Account, amountMsat: bigint): string | undefined {
  if (amountMsat <= 0n) return `transfer of ${amountMsat} msat: amounts must be positive`;
  if (debit === credit) return `transfer from ${debit} to itself`;
  return undefined;
}

/** Refuses a transfer that would take a guarded account below zero: an answer to its caller, not a bug. */
export function refuseOverdraft(debit: Account, fromMsat: bigint, amountMsat: bigint): void {
  if (fromMsat < amountMsat && !mayGoNegative(debit)) {
    throw new Refusal('insufficient_balance', `${debit} holds ${fromMsat} msat, ${amountMsat} msat needed`);
  }
}

/**
 * What breaks the rules in the balances a batch leaves (`after`, by account) against those it
 * found (`before`), if anything: the changes must sum to zero, and no guarded account may end
 * below zero. One pass over the accounts the batch touched.
 */
export function balancesViolation(after: ReadonlyMap<Account, bigint>, before: ReadonlyMap<Account, bigint>): string | undefined {
  let sumMsat = 0n;
  for (const [account, balanceMsat] of after) {
    const beforeMsat = before.get(account);
    if (beforeMsat === undefined) return `a batch changed ${account} without knowing its balance before`;
    if (balanceMsat < 0n && !mayGoNegative(account)) return `a batch would leave ${account} at ${balanceMsat} msat`;
    sumMsat += balanceMsat - beforeMsat;
  }
  return sumMsat === 0n ? undefined : `the balance changes of a batch sum to ${sumMsat} msat, not zero`;
}
