// The express middleware that turns every failure into the one JSON error format (errors.ts): a
// Refusal is answered with its code's status from the error table; the errors of LND, the X API
// and the JSON body parser become Refusals here (GET /healthz alone answers LND's own reason).
// A broken money invariant stops tipd (the ledger is halted); it and anything else unexpected are
// answered 500.
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { errorBody, Refusal } from '../errors.ts';
import { lnurlError } from '../lnurl/lnurl.ts';
import { InvariantViolation, type Ledger } from '../ledger/ledger.ts';
import { LndError } from '../ln/lnd.ts';
import type { Logger } from '../process/log.ts';
import { XApiError } from '../x/client.ts';
import { isLnurlPath } from './lnurl.ts';
import { loggedPath } from './http.ts';

export const notFound: RequestHandler = (req, _res, next) => {
  next(new Refusal('not_found', `no route for ${req.method} ${loggedPath(req.path)}`));
};

/** body-parser marks its own errors with `type` and an HTTP status. */
function fromBodyParser(err: { type?: string; status?: number; limit?: number }): Refusal | undefined {
  switch (err.type) {
    case 'entity.too.large':
      return new Refusal('body_too_large', `request body is larger than ${err.limit} bytes`);
    case 'entity.parse.failed':
      return new Refusal('invalid_json');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new Refusal('unsupported_encoding');
    case 'request.aborted':
      return new Refusal('request_aborted');
    default:
      return typeof err.status === 'number' && err.status >= 400 && err.status < 500 ? new Refusal('bad_request') : undefined;
  }
}

/** LND failing a request is not the client's doing: 503 while it is unreachable, 502 otherwise. */
function fromLnd(err: LndError, log: Logger): Refusal {
  log.warn({ code: err.code, lndMessage: err.lndMessage }, err.message);
  return new Refusal(err.code === 'lnd_unavailable' ? 'lnd_unavailable' : 'lnd_error');
}

/** The X API failing is not the creator's doing: the proof can simply be sent again. */
const fromX = (err: XApiError): Refusal =>
  new Refusal(err.code, `${err.message}; the proof can be sent again`, {
    upstreamStatus: err.upstreamStatus ?? null,
    ...(err.resetAt ? { retryAfter: err.resetAt.toISOString() } : {}),
  });

/** What a failure is as an answer to the client, or undefined for a bug. */
function refusalOf(err: unknown, log: Logger): Refusal | undefined {
  if (err instanceof Refusal) return err;
  if (err instanceof LndError) return fromLnd(err, log);
  if (err instanceof XApiError) return fromX(err);
  return typeof err === 'object' && err !== null ? fromBodyParser(err) : undefined;
}

export function errorHandler(log: Logger, ledger: Pick<Ledger, 'halt'>): ErrorRequestHandler {
  return (err, req, res, _next) => {
    if (err instanceof InvariantViolation) {
      ledger.halt(err);
      res.status(500).json(isLnurlPath(req.path) ? lnurlError('internal', 'internal error') : errorBody('internal', 'internal error'));
      return;
    }
    const refusal = refusalOf(err, log);
    if (!refusal) log.error({ err, method: req.method, path: loggedPath(req.path) }, 'unhandled error');
    const { status, code, message, details } = refusal ?? new Refusal('internal');
    // Wallets read LNURL's own error format (LUD-01) on its routes.
    res.status(status).json(isLnurlPath(req.path) ? lnurlError(code, message) : errorBody(code, message, details));
  };
}
