// The one JSON error format of the HTTP API, { error: { code, message } }, and the express
// middleware that turns every failure into it. Expected failures are ApiErrors with a
// machine-readable code; anything else is a bug, logged and answered as a bare 500.
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { LndError } from '../ln/lnd.ts';
import type { Logger } from '../process/log.ts';
import { Refusal } from '../errors.ts';

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: unknown;
  constructor(status: number, code: string, message: string, details?: unknown) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

export const errorBody = (code: string, message: string, details?: unknown): ErrorBody => ({
  error: details === undefined ? { code, message } : { code, message, details },
});

export const notFound: RequestHandler = (req, _res, next) => {
  next(new ApiError(404, 'not_found', `no route for ${req.method} ${req.path}`));
};

/** body-parser marks its own errors with `type` and an HTTP status. */
function fromBodyParser(err: { type?: string; status?: number; limit?: number }): ApiError | undefined {
  switch (err.type) {
    case 'entity.too.large':
      return new ApiError(413, 'body_too_large', `request body is larger than ${err.limit} bytes`);
    case 'entity.parse.failed':
      return new ApiError(400, 'invalid_json', 'request body is not valid JSON');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new ApiError(415, 'unsupported_encoding', 'request body must be UTF-8 JSON');
    case 'request.aborted':
      return new ApiError(400, 'request_aborted', 'request was aborted by the client');
    default:
      return typeof err.status === 'number' && err.status >= 400 && err.status < 500 ? new ApiError(err.status, 'bad_request', 'malformed request') : undefined;
  }
}

/** LND failing a request is not the client's doing: 503 while it is unreachable, 502 otherwise. */
function fromLnd(err: LndError, log: Logger): ApiError {
  log.warn({ code: err.code, lndMessage: err.lndMessage }, err.message);
  return err.code === 'lnd_unavailable'
    ? new ApiError(503, 'lnd_unavailable', 'the Lightning node is not reachable; try again shortly')
    : new ApiError(502, 'lnd_error', 'the Lightning node refused the request');
}

export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const apiError =
      err instanceof ApiError
        ? err
        : err instanceof Refusal
          ? new ApiError(err.status, err.code, err.message, err.details)
          : err instanceof LndError
            ? fromLnd(err, log)
            : fromBodyParser(err as object);
    if (apiError) {
      res.status(apiError.status).json(errorBody(apiError.code, apiError.message, apiError.details));
      return;
    }
    log.error({ err, method: req.method, path: req.path }, 'unhandled error');
    res.status(500).json(errorBody('internal', 'internal error'));
  };
}
