// The API's description (OpenAPI 3.1), made from the same zod schemas that validate requests and
// from the one table of error codes (errors.ts): every route is declared through `Api.route`,
// which both mounts it and records it here, with the codes it may answer.
import { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import { errorCodes, type ErrorCode } from '../errors.ts';

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
  /** What the success answers hold (api/views.ts): in the document, and the web pages' types. */
  returns?: z.ZodType;
  /** The error codes of this route, beyond those that come with its body, parameters, auth and /v1 (see `errorsOf`). */
  errors?: ErrorCode[];
  /** Upgraded to a websocket outside express (no rate limit, no body). */
  websocket?: true;
  /** An LNURL route (LUD-01): called by wallets, errors in LNURL's format `{ status: "ERROR", reason, code }`. */
  lnurl?: true;
  /** Brings money in or claims a handle: refused (`winding_down`) once the operator winds tipd down (winddown/). */
  refusedWhileWindingDown?: true;
}

export class Api {
  readonly router = Router();
  readonly operations: Operation[] = [];
  readonly #windingDown: RequestHandler;

  /** `windDown`: what refuses the routes that say `refusedWhileWindingDown`, once it has begun. */
  constructor(windDown: { assertOpen(): void }) {
    this.#windingDown = (_req, _res, next) => {
      windDown.assertOpen();
      next();
    };
  }

  route(operation: Operation, ...handlers: RequestHandler[]): void {
    this.operations.push(operation);
    this.router[operation.method](operation.path, ...(operation.refusedWhileWindingDown ? [this.#windingDown] : []), ...handlers);
  }
}

/**
 * The HTTP server's own refusals (api/http-server.ts), on any route: a request line and headers
 * too long (a query string too), or a request too slow to arrive.
 */
const serverCodes = new Set<ErrorCode>(['headers_too_large', 'request_timeout']);

/** Every error code a route may answer: its own, and those of what it takes and who may call it. */
export function errorsOf(op: Operation): ErrorCode[] {
  const codes = new Set<ErrorCode>(op.errors);
  // Any request's JSON body is parsed before it is routed, whether the route takes one or not.
  if (!op.websocket) for (const code of ['invalid_json', 'body_too_large', 'unsupported_encoding', 'request_aborted'] as const) codes.add(code);
  for (const code of serverCodes) codes.add(code);
  if (op.body) codes.add('invalid_request');
  // A handle in the path is refused as `invalid_handle`, which the route lists; other parameters as `invalid_request`.
  if (op.query || Object.keys(op.params?.shape ?? {}).some((name) => name !== 'handle')) codes.add('invalid_request');
  // A path that is not valid percent-encoding.
  if (op.path.includes(':')) codes.add('bad_request');
  if (op.auth !== 'none') codes.add('unauthorized');
  if (op.auth === 'admin') codes.add('admin_disabled');
  if (op.refusedWhileWindingDown) codes.add('winding_down');
  if ((op.path.startsWith('/v1/') || op.lnurl) && !op.websocket) codes.add('rate_limited');
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

/** Error responses by status, each listing its codes. */
function errorResponses(codes: ErrorCode[], lnurl: boolean): Record<string, unknown> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of [...codes].sort()) {
    const { status } = errorCodes[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return Object.fromEntries(
    [...byStatus].map(([status, ofStatus]) => [
      status,
      // The HTTP server answers its own in the API's format, whatever the route (it cannot know it).
      {
        description: ofStatus.join(' | '),
        content: { 'application/json': { schema: errorSchema(ofStatus, lnurl && !ofStatus.every((c) => serverCodes.has(c))) } },
      },
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
      // A body whose every field may be left out may be left out whole (express reads none as `{}`).
      ...(op.body ? { requestBody: { required: !op.body.safeParse({}).success, content: { 'application/json': { schema: schemaOf(op.body) } } } } : {}),
      responses: {
        ...Object.fromEntries(
          Object.entries(op.responses).map(([status, description]) => [
            status,
            op.returns ? { description, content: { 'application/json': { schema: schemaOf(op.returns, 'output') } } } : { description },
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
        'Lightning tipping: deposits, tips and flattrs to X handles, escrow, withdrawals. Amounts in: whole sats; amounts out: millisatoshis as decimal strings.',
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
