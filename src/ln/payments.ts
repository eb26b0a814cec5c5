// Outgoing Lightning payments through LND: a keysend, a BOLT11 invoice, and where a payment stands
// by its hash. Each answers with a PaymentState: `failed` only on LND's own final word; anything
// tipd could not learn (a timeout, a dropped stream) is `unknown`, to be asked again by hash.
import { subscribeToPastPayment, subscribeToPayViaDetails, subscribeToPayViaRequest, type AuthenticatedLnd } from 'lightning';
import { hash } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { z } from 'zod';
import { hex32, msat, parseAnswer } from './answers.ts';
import { decodeInvoice } from './bolt11.ts';
import { asLndError, errorText, LndError } from './errors.ts';

/** TLV record type that carries a keysend preimage. */
export const keysendRecordType = '5482373484';

export type PaymentState =
  | { state: 'succeeded'; paymentHash: string; amountMsat: bigint; feeMsat: bigint; preimage: string }
  /** LND's own final word: the payment failed and no funds left. */
  | { state: 'failed'; paymentHash: string; reason: string }
  /** LND still has HTLCs out for it. */
  | { state: 'in_flight'; paymentHash: string }
  /** tipd could not learn the outcome (timeout, dropped connection): ask again by hash; never treat as failed. */
  | { state: 'unknown'; paymentHash: string; reason: string };

const confirmedPaymentSchema = z.object({
  id: hex32,
  mtokens: msat,
  fee_mtokens: msat,
  secret: hex32,
});

/** The first is_* flag LND set on a failed payment, e.g. "route_not_found". */
const failureReason = (failed: Record<string, unknown>): string =>
  Object.entries(failed)
    .find(([key, value]) => key.startsWith('is_') && value === true)?.[0]
    .slice(3) ?? 'failed';

/** The LND connection and the time an answer may take. */
export interface PaymentsLnd {
  lnd: AuthenticatedLnd;
  timeoutMs: number;
}

/**
 * Sends a keysend payment carrying `preimage` (32 random bytes the caller generated and recorded
 * before calling). Routing fees are capped at maxFeeMsat.
 */
export function keysend(
  { lnd, timeoutMs }: PaymentsLnd,
  args: { destination: string; amountMsat: bigint; maxFeeMsat: bigint; preimage: Buffer },
): Promise<PaymentState> {
  const paymentHash = hash('sha256', args.preimage);
  return pay(paymentHash, timeoutMs, () =>
    subscribeToPayViaDetails({
      lnd,
      destination: args.destination,
      id: paymentHash,
      mtokens: args.amountMsat.toString(),
      max_fee_mtokens: args.maxFeeMsat.toString(),
      messages: [{ type: keysendRecordType, value: args.preimage.toString('hex') }],
      pathfinding_timeout: timeoutMs,
    }),
  );
}

/** Pays a BOLT11 invoice that carries its amount; routing fees are capped at maxFeeMsat. */
export function payInvoice({ lnd, timeoutMs }: PaymentsLnd, args: { paymentRequest: string; maxFeeMsat: bigint }): Promise<PaymentState> {
  const decoded = decodeInvoice(args.paymentRequest);
  if (!decoded) return Promise.resolve({ state: 'failed', paymentHash: '', reason: 'not a BOLT11 payment request' });
  return pay(decoded.paymentHash, timeoutMs, () =>
    subscribeToPayViaRequest({ lnd, request: decoded.request, max_fee_mtokens: args.maxFeeMsat.toString(), pathfinding_timeout: timeoutMs }),
  );
}

/**
 * Waits for LND's final word on a payment. `failed` only when LND says so; a dropped
 * subscription or no answer in time is `unknown`, to be looked up later by hash.
 */
function pay(paymentHash: string, timeoutMs: number, start: () => EventEmitter): Promise<PaymentState> {
  // Give LND time to find a route and settle; past that, the payment may still be in flight.
  return follow(paymentHash, 'pay', timeoutMs * 2, start, (err) => ({ state: 'unknown', paymentHash, reason: errorText(err, 'pay') }));
}

/**
 * Where a payment stands, by hash; `undefined` when LND never saw it. No answer in time is
 * `unknown`: LND knows the payment but has no HTLC out right now, or LND is slow.
 */
export async function getPayment({ lnd, timeoutMs }: PaymentsLnd, paymentHash: string): Promise<PaymentState | undefined> {
  let notFound = false;
  const state = await follow(
    paymentHash,
    'getPayment',
    timeoutMs,
    () => subscribeToPastPayment({ lnd, id: paymentHash }),
    (err) => {
      const error = asLndError(err, 'getPayment');
      if (error instanceof LndError && error.lndMessage === 'SentPaymentNotFound') {
        notFound = true;
        return { state: 'unknown', paymentHash, reason: 'not found' };
      }
      throw error;
    },
  );
  return notFound ? undefined : state;
}

/** Reads a payment's events (from sending or tracking it) until one says where it stands. */
function follow(
  paymentHash: string,
  what: string,
  timeoutMs: number,
  start: () => EventEmitter,
  onError: (err: unknown) => PaymentState,
): Promise<PaymentState> {
  return new Promise((resolve, reject) => {
    let sub: EventEmitter | undefined;
    const finish = (answer: () => PaymentState) => {
      clearTimeout(timer);
      // Without listeners, `lightning` cancels the gRPC stream.
      sub?.removeAllListeners();
      sub?.on('error', () => {});
      try {
        resolve(answer());
      } catch (err) {
        reject(err);
      }
    };
    const timer = setTimeout(
      () => finish(() => ({ state: 'unknown', paymentHash, reason: `${what}: no final answer from LND within ${timeoutMs} ms` })),
      timeoutMs,
    );
    try {
      sub = start();
    } catch (err) {
      // `lightning` refused the arguments before anything was sent.
      finish(() => ({ state: 'failed', paymentHash, reason: `not sent: ${err instanceof Error ? err.message : String(err)}` }));
      return;
    }
    sub.on('confirmed', (event: unknown) =>
      finish(() => {
        const p = parseAnswer(what, confirmedPaymentSchema, event);
        if (p.id !== paymentHash) throw new LndError('lnd_invalid_answer', `${what}: LND confirmed ${p.id}, not ${paymentHash}`);
        // `mtokens` of a confirmed payment includes the routing fee.
        return { state: 'succeeded', paymentHash, amountMsat: p.mtokens - p.fee_mtokens, feeMsat: p.fee_mtokens, preimage: p.secret };
      }),
    );
    sub.on('failed', (event: Record<string, unknown>) => finish(() => ({ state: 'failed', paymentHash, reason: failureReason(event) })));
    if (what === 'getPayment') sub.on('paying', () => finish(() => ({ state: 'in_flight', paymentHash })));
    sub.on('error', (err: unknown) => finish(() => onError(err)));
  });
}
