// The API's description (OpenAPI 3.1), made from the same zod schemas that validate requests:
// every route is declared through `Api.route`, which both mounts it and records it here.
import { Router, type RequestHandler } from 'express';
import { z } from 'zod';

export interface Operation {
  method: 'get' | 'post' | 'put' | 'delete';
  /** Express style: /v1/deposits/:id */
  path: string;
  summary: string;
  auth: 'supporter' | 'admin' | 'none';
  body?: z.ZodType;
  query?: z.ZodObject;
  /** Status code → what it means (errors use the common error format). */
  responses: Record<number, string>;
}

export class Api {
  readonly router = Router();
  readonly operations: Operation[] = [];

  route(operation: Operation, ...handlers: RequestHandler[]): void {
    this.operations.push(operation);
    this.router[operation.method](operation.path, ...handlers);
  }
}

const schemaOf = (schema: z.ZodType) => {
  const { $schema: _drop, ...json } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return json;
};

const errorSchema = {
  type: 'object',
  required: ['error'],
  properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' }, details: {} } } },
};

export function openApiDocument(operations: Operation[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of operations) {
    const path = op.path.replace(/:(\w+)/g, '{$1}');
    const parameters = [
      ...[...op.path.matchAll(/:(\w+)/g)].map(([, name]) => ({ name, in: 'path', required: true, schema: { type: 'string' } })),
      ...Object.entries(op.query?.shape ?? {}).map(([name, schema]) => ({
        name,
        in: 'query',
        required: !(schema as z.ZodType).safeParse(undefined).success,
        schema: schemaOf(schema as z.ZodType),
      })),
    ];
    paths[path] ??= {};
    paths[path][op.method] = {
      summary: op.summary,
      ...(op.auth === 'none' ? { security: [] } : { security: [{ [op.auth]: [] }] }),
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(op.body ? { requestBody: { required: true, content: { 'application/json': { schema: schemaOf(op.body) } } } } : {}),
      responses: Object.fromEntries(
        Object.entries(op.responses).map(([status, description]) => [
          status,
          Number(status) >= 400 ? { description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } } : { description },
        ]),
      ),
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
      schemas: { Error: errorSchema },
      securitySchemes: {
        supporter: { type: 'http', scheme: 'bearer', description: 'a supporter token from POST /v1/accounts' },
        admin: { type: 'http', scheme: 'bearer', description: 'the operator token, TIPD_ADMIN_TOKEN' },
      },
    },
  };
}
