// tipd's API as the pages call it, on their own origin: typed by the server's own schemas
// (src/api/views.ts) and error table (src/errors.ts), errors thrown as `ApiError` with their code.
import { useMemo, useRef } from 'preact/hooks';
import type { ErrorCode } from '../../src/errors.ts';
import type { ClaimView, HandleView, NotifyView, ProofOutcome, VerifyView, WaitingHandles } from '../../src/api/views.ts';
import type { PayoutView } from '../../src/payouts/records.ts';

export type { ClaimView, HandleView, NotifyView, ProofOutcome, WaitingHandles, PayoutView };

/** A refusal of tipd's (or of the network: `network`), with its code from the one table. */
export class ApiError extends Error {
  readonly code: ErrorCode | 'network';
  /** The HTTP status; 0 when no answer came. */
  readonly status: number;
  readonly details: { issues?: { path: string; message: string }[] } | undefined;
  constructor(code: ErrorCode | 'network', message: string, status = 0, details?: ApiError['details']) {
    super(message);
    this.code = code;
    this.status = status;
    this.details = details;
  }

  /**
   * tipd refused the request itself (a 4xx): nothing was done, and a changed request is another
   * one (a new idempotency key). Anything else (no answer, a 5xx from tipd or a proxy) may have
   * been done: a retry must send the same key.
   */
  get refused(): boolean {
    return this.status >= 400 && this.status < 500;
  }
}

export interface CallOptions {
  /** A supporter's bearer token (the supporter's app). */
  token?: string;
  body?: unknown;
  /** Sent as Idempotency-Key: a form sent twice (a double click, a retry) does its work once. */
  idempotencyKey?: string;
}

export async function call<T>(method: 'GET' | 'POST', path: string, options: CallOptions = {}): Promise<T> {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (options.idempotencyKey) headers['idempotency-key'] = options.idempotencyKey;
  let res: Response;
  try {
    res = await fetch(path, { method, headers, ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }) });
  } catch {
    throw new ApiError('network', 'tipd could not be reached: check your connection and try again');
  }
  const answer = (await res.json().catch(() => undefined)) as Record<string, unknown> | undefined;
  if (res.ok && answer) return answer as T;
  // The API's format, { error: { code, message, details } }, or LNURL's, { status: 'ERROR', reason, code }.
  const error = answer?.error as { code: ErrorCode; message: string; details?: ApiError['details'] } | undefined;
  if (error) throw new ApiError(error.code, error.message, res.status, error.details);
  if (answer?.status === 'ERROR') throw new ApiError(answer.code as ErrorCode, String(answer.reason), res.status);
  throw new ApiError('internal', `tipd answered ${res.status}`, res.status);
}

const path = (handle: string) => `/v1/handles/${encodeURIComponent(handle)}`;

export const api = {
  handle: (handle: string) => call<HandleView>('GET', path(handle)),
  waiting: (limit: number) => call<WaitingHandles>('GET', `/v1/handles?limit=${limit}`),
  notify: (handle: string) => call<NotifyView>('GET', `${path(handle)}/notify`),
  payouts: (handle: string, limit = 10) =>
    call<{ handle: string; payouts: PayoutView[]; next: string | null }>('GET', `/v1/payouts?handle=${encodeURIComponent(handle)}&limit=${limit}`),
  claim: (destination: { nodePubkey: string } | { lightningAddress: string }, handle: string, idempotencyKey: string) =>
    call<ClaimView>('POST', '/v1/claims', { body: { handle, ...destination }, idempotencyKey }),
  prove: (claimId: string, tweet: string) => call<ProofOutcome>('POST', `/v1/claims/${encodeURIComponent(claimId)}/proof`, { body: { tweet } }),
};

/** A handle's LNURL-pay request (LUD-06), as wallets read it: amounts in msat. */
export interface PayRequest {
  callback: string;
  minSendable: number;
  maxSendable: number;
  commentAllowed?: number;
}

export const payRequestOf = (handle: string): Promise<PayRequest> => call<PayRequest>('GET', `/.well-known/lnurlp/${encodeURIComponent(handle.toLowerCase())}`);

/** An invoice made through the handle's own LNURL-pay, as a wallet would: for wallets that scan only invoices. */
export async function invoiceFrom(payRequest: PayRequest, amountSat: number, comment: string): Promise<{ pr: string; verify: string }> {
  const url = new URL(payRequest.callback);
  url.searchParams.set('amount', String(amountSat * 1000));
  if (comment && (payRequest.commentAllowed ?? 0) > 0) url.searchParams.set('comment', comment);
  // The callback is on tipd's public URL: this page's origin, when tipd is reached as configured.
  const { pr, verify } = await call<{ pr: string; verify: string }>('GET', url.pathname + url.search);
  return { pr, verify: new URL(verify).pathname };
}

/** LUD-21: whether an invoice is paid, and when it expires. */
export const verified = (verifyPath: string): Promise<VerifyView> => call<VerifyView>('GET', verifyPath);

/** A fresh idempotency key for one form's submission. */
const newIdempotencyKey = (): string =>
  // randomUUID needs a secure context (https, or localhost); getRandomValues does not.
  Array.from(crypto.getRandomValues(new Uint8Array(16)), (byte) => byte.toString(16).padStart(2, '0')).join('');

/** How long a form keeps one key for its retries: well within the day tipd remembers a key. */
const keyKeptMs = 3600_000;

/**
 * A form's idempotency key: the same for a double click, or a retry after a lost answer, so that
 * it asks once; a fresh one after `renew()` (something else is asked now) or an hour after it was
 * first sent (tipd forgets a key after a day: a retry then would ask again).
 */
export function useIdempotencyKey(): { current: () => string; renew: () => void } {
  const made = useRef<{ key: string; firstSentAt?: number }>({ key: newIdempotencyKey() });
  return useMemo(() => {
    const renew = () => void (made.current = { key: newIdempotencyKey() });
    return {
      current: () => {
        const { firstSentAt } = made.current;
        if (firstSentAt !== undefined && Date.now() - firstSentAt > keyKeptMs) renew();
        made.current.firstSentAt ??= Date.now();
        return made.current.key;
      },
      renew,
    };
  }, []);
}
