// The HTTP(S) server tipd listens with, built here for main.ts and the tests alike: Node's
// timeouts set for a payments API (a client that sends its request slowly is cut off in seconds,
// not minutes), a cap on connections, and the JSON error format where Node lets tipd answer a
// request it could not read (too slow, too large a head, not HTTP).
import http, { STATUS_CODES, type RequestListener, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import { errorBody, errorCodes, type ErrorCode } from '../errors.ts';
import type { Logger } from '../process/log.ts';

export interface HttpLimits {
  /**
   * A request's line and headers must have arrived this long after its first byte (on a new
   * connection: after it was accepted, or after the TLS handshake, which itself gets as long).
   */
  headersTimeoutMs: number;
  /** The whole request, headers and body, this long after its first byte. The answer's time is not counted. */
  requestTimeoutMs: number;
  /** A connection idle between two requests is closed after this long. */
  keepAliveTimeoutMs: number;
  /** Open connections per listening server, websockets included; over it Node closes new ones unanswered. */
  connectionsMax: number;
  /** How often Node looks for requests past their timeouts: each is cut off within this much after it. */
  timeoutCheckIntervalMs: number;
  /** The largest request line and headers taken, in bytes. */
  headerBytesMax: number;
}

/** A drop over the connection cap is logged at most once in this long, with the count since. */
const dropWarnIntervalMs = 60_000;

/** What tipd answers when Node could not read a request, by Node's error code. */
function refusalOf(err: NodeJS.ErrnoException, limits: HttpLimits): { code: ErrorCode; message: string } {
  switch (err.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return {
        code: 'request_timeout',
        message: `the request did not arrive in time: its headers must arrive within ${limits.headersTimeoutMs} ms of its first byte, all of it within ${limits.requestTimeoutMs} ms; send it again, whole`,
      };
    case 'HPE_HEADER_OVERFLOW':
      return { code: 'headers_too_large', message: `the request line and headers must fit in ${limits.headerBytesMax} bytes` };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return { code: 'body_too_large', message: 'the chunk extensions of the request body are too large' };
    default:
      return { code: 'bad_request', message: `the request is not valid HTTP/1.1 (${err.code ?? 'unreadable'})` };
  }
}

/** An HTTP/1.1 answer written straight to the socket, in the API's error format, closing the connection. */
function rawAnswer(code: ErrorCode, message: string): string {
  const { status } = errorCodes[code];
  const body = JSON.stringify(errorBody(code, message));
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
    `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`
  );
}

/**
 * An HTTP server, or an HTTPS one with `tls`, serving `app` within `limits`. What it does at each
 * limit, and what the client sees:
 * - headers or whole request too slow: 408 `request_timeout`, then the connection is closed;
 * - request line and headers over `headerBytesMax`: 431 `headers_too_large`, then closed;
 * - not HTTP/1.1 Node can parse: 400 `bad_request`, then closed;
 * - idle keep-alive connection: closed without a word (no request is under way);
 * - TLS handshake too slow: closed without a word (no HTTP yet);
 * - over `connectionsMax`: Node accepts the connection and closes it at once, without a word
 *   (the client sees its connection reset or ended before any answer); a warning is logged.
 * A websocket (GET /v1/events) leaves these timeouts once it is upgraded, but counts against the cap.
 */
export function createHttpServer(app: RequestListener, limits: HttpLimits, log: Logger, tls?: { cert: Buffer; key: Buffer }): http.Server | https.Server {
  const options: http.ServerOptions = {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionsCheckingInterval: limits.timeoutCheckIntervalMs,
    maxHeaderSize: limits.headerBytesMax,
  };
  const server = tls
    ? https.createServer({ ...options, cert: tls.cert, key: tls.key, handshakeTimeout: limits.headersTimeoutMs }, app)
    : http.createServer(options, app);
  server.maxConnections = limits.connectionsMax;

  // The response under way on each connection, if any: what Node already began to answer is not
  // cut into by an error answer.
  const responses = new WeakMap<Duplex, ServerResponse>();
  server.on('request', (req: http.IncomingMessage, res: ServerResponse) => responses.set(req.socket, res));

  // Node's HTTP parser and its request timer; an https server sends its TLS errors here too (a
  // handshake too slow or refused), where there is no HTTP to answer in.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    const res = responses.get(socket);
    const httpError = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || err.code?.startsWith('HPE_') === true;
    // Answerable: no request yet on this connection; or the last was read whole and answered (the
    // error is of the next); or the last is the one that failed (its body too slow), with nothing
    // of its answer sent yet. Not when it was answered before its body came (e.g. a 401): one
    // request, one answer.
    const answerable = socket.writable && (res === undefined || (res.req.complete ? res.writableEnded : !res.headersSent));
    if (!httpError || !answerable) {
      log.debug({ nodeCode: err.code }, 'connection closed on a client error');
      socket.destroy();
      return;
    }
    const { code, message } = refusalOf(err, limits);
    log.info({ status: errorCodes[code].status, code, nodeCode: err.code }, 'a request tipd could not read is refused');
    // Closed once written (the server keeps half-open connections open: ending alone would not do).
    socket.end(rawAnswer(code, message), () => socket.destroy());
  });

  let droppedConnections = 0;
  let lastDropWarnAt = -Infinity;
  server.on('drop', () => {
    droppedConnections += 1;
    const now = Date.now();
    if (now - lastDropWarnAt < dropWarnIntervalMs) return;
    log.warn(
      { droppedConnections, connectionsMax: limits.connectionsMax },
      'connection cap reached: new connections are closed unanswered (TIPD_HTTP_CONNECTIONS_MAX)',
    );
    droppedConnections = 0;
    lastDropWarnAt = now;
  });
  return server;
}
