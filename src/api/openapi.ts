// The API's description (OpenAPI 3.1), made from the same zod schemas that validate requests and
// answers and from the one table of error codes (errors.ts): every route is declared through
// `Api.route`, which both mounts it and records it here, with what it answers and the codes it may
// refuse with. A method a declared path does not take is answered 405 with the Allow header.
import assert from 'node:assert/strict';
import { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import { errorCodes, Refusal, type ErrorCode } from '../errors.ts';

export interface Operation {
  method: 'get' | 'post' | 'put' | 'delete';
  /** Express style: /v1/deposits/:id */
  path: string;
  summary: string;
  auth: 'supporter' | 'admin' | 'none';
  body?: z.ZodType;
  query?: z.ZodObject;
  /** The path's parameters, by name. */
  params?: z.ZodObject;
  /** Success status → what it means. */
  responses: Record<number, string>;
  /** What the success answers hold (api/views.ts): in the document, and the web pages' types. Required unless they have no body (204, 101). */
  returns?: z.ZodType;
  /** The success answers' media type, when not JSON. */
  mediaType?: string;
  /** The error codes of this route, beyond those that come with its body, parameters, auth and /v1 (see `errorsOf`). */
  errors?: ErrorCode[];
  /** Upgraded to a websocket outside express (no rate limit, no body). */
  websocket?: true;
  /** An LNURL route (LUD-01): called by wallets, errors in LNURL's format `{ status: "ERROR", reason, code }`. */
  lnurl?: true;
  /** Brings money in or claims a handle: refused (`winding_down`) once the operator winds tipd down (winddown/). */
  refusedWhileWindingDown?: true;
}

/** Success statuses whose answers have no body. */
const bodiless = new Set([101, 204]);

/** A declared path as a matcher of request paths, as express matches it: any case, a trailing slash allowed. */
const matcherOf = (path: string): RegExp => {
  const literal = path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${literal.replace(/:\w+/g, '[^/]+')}/?$`, 'i');
};

export class Api {
  readonly router = Router();
  readonly operations: Operation[] = [];
  readonly #windingDown: RequestHandler;
  /** Each declared path: its matcher, how many parameters it has, and its methods. */
  readonly #paths = new Map<string, { matcher: RegExp; params: number; methods: Set<string> }>();

  /** `windDown`: what refuses the routes that say `refusedWhileWindingDown`, once it has begun. */
  constructor(windDown: { assertOpen(): void }) {
    this.#windingDown = (_req, _res, next) => {
      windDown.assertOpen();
      next();
    };
    this.router.use(this.#methods);
  }

  route(operation: Operation, ...handlers: RequestHandler[]): void {
    const withBody = Object.keys(operation.responses).filter((status) => !bodiless.has(Number(status)));
    assert(withBody.length === 0 || operation.returns, `${operation.method} ${operation.path}: says what it answers (returns)`);
    this.operations.push(operation);
    const path = this.#paths.get(operation.path) ?? { matcher: matcherOf(operation.path), params: operation.path.split(':').length - 1, methods: new Set() };
    path.methods.add(operation.method.toUpperCase());
    this.#paths.set(operation.path, path);
    this.router[operation.method](operation.path, ...(operation.refusedWhileWindingDown ? [this.#windingDown] : []), ...handlers);
  }

  /**
   * The methods of a declared path a request names, or undefined if it names none. A path without
   * parameters comes before those with (OpenAPI's rule): /v1/withdrawals/lnurl is not /v1/withdrawals/:id.
   */
  #allowed(requestPath: string): Set<string> | undefined {
    const matching = [...this.#paths.values()].filter(({ matcher }) => matcher.test(requestPath));
    if (matching.length === 0) return undefined;
    const fewest = Math.min(...matching.map(({ params }) => params));
    const methods = new Set(matching.filter(({ params }) => params === fewest).flatMap(({ methods }) => [...methods]));
    // express answers HEAD as GET without its body.
    if (methods.has('GET')) methods.add('HEAD');
    return methods;
  }

  /** 405 with the Allow header for a method a declared path does not take; OPTIONS lists them. */
  readonly #methods: RequestHandler = (req, res, next) => {
    const methods = this.#allowed(req.path);
    if (!methods || methods.has(req.method)) return next();
    const allow = [...methods, 'OPTIONS'].join(', ');
    res.set('Allow', allow);
    if (req.method === 'OPTIONS') return void res.status(204).end();
    next(new Refusal('method_not_allowed', `${req.method} is not a method of ${req.path}: ${allow}`));
  };
}

/** Every error code a route may answer: its own, and those of what it takes and who may call it. */
export function errorsOf(op: Operation): ErrorCode[] {
  const codes = new Set<ErrorCode>(op.errors);
  // The HTTP server's (http-server.ts), for any request: too slow, too large a head, not HTTP/1.1.
  for (const code of ['request_timeout', 'headers_too_large', 'bad_request'] as const) codes.add(code);
  // Any request's JSON body is parsed before it is routed, whether the route takes one or not (a
  // websocket's GET without the upgrade comes to express too).
  for (const code of ['invalid_json', 'body_too_large', 'unsupported_encoding', 'request_aborted'] as const) codes.add(code);
  if (op.body) codes.add('invalid_request');
  // A handle in the path is refused as `invalid_handle`, which the route lists; other parameters as `invalid_request`.
  if (op.query || Object.keys(op.params?.shape ?? {}).some((name) => name !== 'handle')) codes.add('invalid_request');
  if (op.auth !== 'none') codes.add('unauthorized');
  if (op.auth === 'admin') codes.add('admin_disabled');
  if (op.refusedWhileWindingDown) codes.add('winding_down');
  if (op.path.startsWith('/v1/') || op.lnurl) codes.add('rate_limited');
  return [...codes];
}

/** A request's schema as its input (before transforms); a response's as it is sent (`output`). */
const schemaOf = (schema: z.ZodType, io: 'input' | 'output' = 'input') => {
  const { $schema: _drop, ...json } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  return json;
};

/** The error format, with the codes a status may carry; LNURL's own on its routes. */
const errorSchema = (codes: ErrorCode[], lnurl: boolean) =>
  lnurl
    ? {
        type: 'object',
        required: ['status', 'reason', 'code'],
        properties: { status: { const: 'ERROR' }, reason: { type: 'string' }, code: { type: 'string', enum: codes } },
      }
    : {
        type: 'object',
        required: ['error'],
        properties: {
          error: {
            type: 'object',
            required: ['code', 'message'],
            properties: { code: { type: 'string', enum: codes }, message: { type: 'string' }, details: {} },
          },
        },
      };

/** What the HTTP server answers itself (http-server.ts), in tipd's format whatever the route: it could not read the request. */
const serverCodes = new Set<ErrorCode>(['request_timeout', 'headers_too_large', 'bad_request']);

/** Error responses by status, each listing its codes; on LNURL's routes, the HTTP server's own still in tipd's format. */
function errorResponses(codes: ErrorCode[], lnurl: boolean): Record<string, unknown> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of [...codes].sort()) {
    const { status } = errorCodes[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const schemaOfStatus = (ofStatus: ErrorCode[]) => {
    const fromServer = ofStatus.filter((code) => serverCodes.has(code));
    if (!lnurl || fromServer.length === 0) return errorSchema(ofStatus, lnurl);
    return { anyOf: [errorSchema(ofStatus, true), errorSchema(fromServer, false)] };
  };
  return Object.fromEntries(
    [...byStatus].map(([status, ofStatus]) => [
      status,
      { description: ofStatus.join(' | '), content: { 'application/json': { schema: schemaOfStatus(ofStatus) } } },
    ]),
  );
}

function parametersOf(op: Operation): Record<string, unknown>[] {
  const pathNames = [...op.path.matchAll(/:(\w+)/g)].map(([, name]) => name!);
  const paramShape: Record<string, z.ZodType> = op.params?.shape ?? {};
  return [
    ...pathNames.map((name) => ({ name, in: 'path', required: true, schema: paramShape[name] ? schemaOf(paramShape[name]) : { type: 'string' } })),
    ...Object.entries(op.query?.shape ?? {}).map(([name, schema]) => ({
      name,
      in: 'query',
      required: !(schema as z.ZodType).safeParse(undefined).success,
      schema: schemaOf(schema as z.ZodType),
    })),
  ];
}

export function openApiDocument(operations: Operation[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of operations) {
    const path = op.path.replace(/:(\w+)/g, '{$1}');
    const parameters = parametersOf(op);
    paths[path] ??= {};
    paths[path][op.method] = {
      summary: op.summary,
      ...(op.auth === 'none' ? { security: [] } : { security: [{ [op.auth]: [] }] }),
      ...(parameters.length > 0 ? { parameters } : {}),
      // A request without a body is taken as `{}` (http.ts `body`): then the body is required only if `{}` is not enough.
      ...(op.body ? { requestBody: { required: !op.body.safeParse({}).success, content: { 'application/json': { schema: schemaOf(op.body) } } } } : {}),
      responses: {
        ...Object.fromEntries(
          Object.entries(op.responses).map(([status, description]) => [
            status,
            op.returns ? { description, content: { [op.mediaType ?? 'application/json']: { schema: schemaOf(op.returns, 'output') } } } : { description },
          ]),
        ),
        ...errorResponses(errorsOf(op), op.lnurl === true),
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'tipd',
      version: '1',
      description:
        'Lightning tipping: deposits, tips and flattrs to X handles, escrow, withdrawals. Amounts in: whole sats; amounts out: millisatoshis as decimal strings. Every refusal has a code from one table, listed under its status on each route. A method a path does not take is answered 405 `method_not_allowed`, with the Allow header.',
    },
    paths,
    components: {
      securitySchemes: {
        supporter: { type: 'http', scheme: 'bearer', description: 'a supporter token from POST /v1/accounts' },
        admin: { type: 'http', scheme: 'bearer', description: 'the operator token, TIPD_ADMIN_TOKEN' },
      },
    },
  };
}
