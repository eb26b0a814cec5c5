// Pending transfers: money that may or may not leave tipd, as TigerBeetle's two-phase transfers. It
// is held in an account of its own (`pending:<kind>:<id>`), in the same operation that writes the
// record explaining it; then posted (the real amount to the outside, the real fee to system:fees,
// the rest back where it came from) or voided (all of it back). Each runs inside the writer, on a
// Tx; the caller's record says what was held, and is marked in the same operation.
import { accounts, type Account } from './accounts.ts';
import { InvariantViolation } from './invariants.ts';
import type { Tx } from './ledger.ts';

/** One kind of pending money: the accounts and transfer kinds that docs/money.md ("Kinds of transfer") lists for it. */
export interface PendingKind {
  /**
   * `withdrawal`, `payout`: names the pending account (`pending:<name>:<id>`) and the transfers
   * `<name>.hold`, `<name>` (the amount posted), `<name>.fee` and `<name>.release` (the rest).
   */
  name: string;
  /** Where posted money goes: the outside world, as seen by this kind. */
  outside: Account;
  /** The transfer that gives everything back on a void: `<name>.release`, or one of its own. */
  voidKind: string;
}

/** What one pending transfer holds, as its record states it. */
export interface Held {
  id: string;
  /** Where the money came from, and where whatever is not spent goes back. */
  from: Account;
  amountMsat: bigint;
  /** The most the fee may cost: held beside the amount. */
  feeReserveMsat: bigint;
  /** Written with every transfer of it (the record's id, the handle). */
  meta: Record<string, string>;
}

export const pendingAccount = (kind: PendingKind, id: string): Account => accounts.pending(`${kind.name}:${id}`);

/** Holds the amount and the fee reserve: from `held.from` into the pending account. */
export async function hold(tx: Tx, kind: PendingKind, held: Held): Promise<void> {
  await tx.transfer(`${kind.name}.hold`, held.from, pendingAccount(kind, held.id), held.amountMsat + held.feeReserveMsat, held.meta);
}

/**
 * Posts what was really paid: the amount to the outside, the fee to system:fees, and the rest back
 * to where it came from. A payment that contradicts the hold (another amount, a fee above the
 * reserve) is a broken invariant, never booked.
 */
export async function post(tx: Tx, kind: PendingKind, held: Held, paid: { amountMsat: bigint; feeMsat: bigint }): Promise<void> {
  const what = `${kind.name} ${held.id}`;
  if (paid.amountMsat !== held.amountMsat) throw new InvariantViolation(`${what}: LND paid ${paid.amountMsat} msat, not the ${held.amountMsat} held`);
  if (paid.feeMsat < 0n || paid.feeMsat > held.feeReserveMsat) {
    throw new InvariantViolation(`${what}: fee ${paid.feeMsat} msat outside the ${held.feeReserveMsat} held for it`);
  }
  const pending = await stillHeld(tx, kind, held);
  await tx.transfer(kind.name, pending, kind.outside, paid.amountMsat, held.meta);
  if (paid.feeMsat > 0n) await tx.transfer(`${kind.name}.fee`, pending, accounts.fees, paid.feeMsat, held.meta);
  const restMsat = held.amountMsat + held.feeReserveMsat - paid.amountMsat - paid.feeMsat;
  if (restMsat > 0n) await tx.transfer(`${kind.name}.release`, pending, held.from, restMsat, held.meta);
}

/** Gives everything held back to where it came from. */
export async function voidHold(tx: Tx, kind: PendingKind, held: Held): Promise<void> {
  const pending = await stillHeld(tx, kind, held);
  await tx.transfer(kind.voidKind, pending, held.from, held.amountMsat + held.feeReserveMsat, held.meta);
}

/** The pending account, which must hold exactly what the record says it holds. */
async function stillHeld(tx: Tx, kind: PendingKind, held: Held): Promise<Account> {
  const pending = pendingAccount(kind, held.id);
  const balanceMsat = await tx.balance(pending);
  if (balanceMsat !== held.amountMsat + held.feeReserveMsat) {
    throw new InvariantViolation(`${kind.name} ${held.id}: ${pending} holds ${balanceMsat} msat, its record ${held.amountMsat + held.feeReserveMsat}`);
  }
  return pending;
}
