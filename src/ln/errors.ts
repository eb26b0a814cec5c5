// LND's errors as tipd sees them: `lightning` throws [status, name, { err }] arrays (and the network
// plain Errors); at this boundary they become LndError, with a code saying whether LND was out of
// reach, refused the credentials, or refused the request.

export type LndErrorCode =
  | 'lnd_unavailable' // could not reach LND, or it did not answer in time
  | 'lnd_permission_denied' // the macaroon lacks a permission
  | 'lnd_wrong_network'
  | 'lnd_not_synced'
  | 'lnd_invalid_answer' // LND answered something tipd cannot rely on
  | 'lnd_rejected'; // LND refused the request; `lndMessage` says why

export class LndError extends Error {
  readonly code: LndErrorCode;
  /** LND's or the library's own error name, e.g. "SentPaymentNotFound". */
  readonly lndMessage: string | undefined;
  /** The gRPC status code LND answered with, when there was one (5: NOT_FOUND). */
  readonly grpcCode: number | undefined;
  constructor(code: LndErrorCode, message: string, lndMessage?: string, grpcCode?: number) {
    super(message);
    this.name = 'LndError';
    this.code = code;
    this.lndMessage = lndMessage;
    this.grpcCode = grpcCode;
  }
}

// gRPC status codes (grpc/status.h) that say something about the connection or the credentials.
const grpcUnavailable = new Set([1, 4, 14]); // CANCELLED, DEADLINE_EXCEEDED, UNAVAILABLE
const grpcDenied = new Set([7, 16]); // PERMISSION_DENIED, UNAUTHENTICATED
const unreachable = /ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|socket hang up|No connection established|Connection dropped|FailedToConnectToDaemon/i;
const denied = /permission denied|verification failed|cannot get macaroon|macaroon/i;

/**
 * Turns what `lightning` threw into an LndError: its [status, name, { err }] arrays, and Errors of
 * the network. Anything else (a TypeError, a refused argument) is a bug and is returned as it was.
 */
export function asLndError(err: unknown, what: string): unknown {
  if (err instanceof LndError) return err;
  if (!Array.isArray(err)) {
    return err instanceof Error && unreachable.test(err.message) ? new LndError('lnd_unavailable', `${what}: ${err.message}`) : err;
  }
  const [, name, extra] = err as [number, string, { err?: { details?: string; code?: number } }?];
  const detail = extra?.err?.details ?? '';
  const grpcCode = extra?.err?.code;
  const text = `${what}: ${name}${detail ? ` (${detail})` : ''}`;
  if ((grpcCode !== undefined && grpcDenied.has(grpcCode)) || denied.test(detail)) return new LndError('lnd_permission_denied', text, name, grpcCode);
  if ((grpcCode !== undefined && grpcUnavailable.has(grpcCode)) || unreachable.test(`${name} ${detail}`))
    return new LndError('lnd_unavailable', text, name, grpcCode);
  return new LndError('lnd_rejected', text, name, grpcCode);
}

/** What went wrong, as one line, whatever was thrown. */
export const errorText = (err: unknown, what: string): string => {
  const e = asLndError(err, what);
  return e instanceof Error ? e.message : String(e);
};
