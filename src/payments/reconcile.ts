// Payments tipd sent through LND (withdrawals, payouts) that it has not yet booked an outcome for:
// after a restart, or when LND gave no final answer, each is looked up in LND by payment hash and
// settled by what LND says. A payment is never sent again.
import type { Logger } from '../process/log.ts';
import type { Lnd, PaymentState } from '../ln/lnd.ts';

/**
 * LND records a payment before its first HTLC, so one it does not know was never sent; but a call
 * still on its way to LND is not known yet either. Only a payment this old, and not being sent by
 * this process, is taken as never sent.
 */
const neverSentAfterMs = 60_000;

export interface PendingPayment {
  id: string;
  paymentHash: string;
  createdAt: string;
}

/**
 * Settles each pending payment by LND's answer (`settle`), or as failed if LND never saw it and it
 * is old enough. Those in `sending` are left to the call paying them. One that cannot be settled
 * now is logged and does not hold up the others; the next pass tries it again.
 */
export async function reconcilePending(
  pending: PendingPayment[],
  {
    lnd,
    sending,
    now,
    settle,
    log,
    what,
  }: {
    lnd: Lnd;
    sending: ReadonlySet<string>;
    now: Date;
    settle: (id: string, state: PaymentState) => Promise<unknown>;
    log: Logger;
    what: 'withdrawal' | 'payout';
  },
): Promise<void> {
  for (const payment of pending) {
    if (sending.has(payment.id)) continue;
    try {
      const found = await lnd.getPayment(payment.paymentHash);
      if (found) await settle(payment.id, found);
      else if (now.getTime() - Date.parse(payment.createdAt) > neverSentAfterMs) {
        await settle(payment.id, { state: 'failed', paymentHash: payment.paymentHash, reason: 'never sent (tipd stopped before paying)' });
      }
    } catch (err) {
      log.error({ err, [what]: payment.id }, `could not settle a pending ${what}; will try again`);
    }
  }
}
