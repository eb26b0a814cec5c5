// Named crash points, for the crash tests: a tipd started with TIPD_CRASH_AT=<name> kills itself
// with SIGKILL when it reaches that point, as a power cut would. Unset, this does nothing.
const armed = process.env.TIPD_CRASH_AT;

export type CrashPoint =
  /** A deposit invoice LND settled, not yet credited. */
  | 'deposit.settled-not-credited'
  /** A withdrawal paid by LND, its outcome not yet booked. */
  | 'withdrawal.paid-not-booked'
  /** An LNURL withdrawal held and its link marked used, LND not yet asked to pay. */
  | 'lnurl-withdraw.held-not-paid'
  /** A period close that has allocated its first window of supporters, not the rest. */
  | 'close.after-first-window'
  /** A payout made ready (a Lightning Address's invoice fetched and checked), nothing stored or held yet. */
  | 'payout.prepared-not-held'
  /** A payout recorded and its escrow held, LND not yet asked to pay it. */
  | 'payout.held-not-sent'
  /** A payout LND has finished, its outcome not yet booked. */
  | 'payout.sent-not-booked';

export function crashPoint(name: CrashPoint): void {
  if (armed === name) process.kill(process.pid, 'SIGKILL');
}
