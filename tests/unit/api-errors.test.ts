// What the API answers and logs when a request fails on something unexpected: the error in the
// log, with the request's method and path; nothing of it in the answer.
import { Writable } from 'node:stream';
import type { Request, Response } from 'express';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { errorHandler } from '../../src/api/errors.ts';
import { loggedPath } from '../../src/api/http.ts';

describe('a path as logged', () => {
  // A page loaded before sign-ins were polled by POST still asks GET /v1/auth/lnurl/<its secret id>.
  const id = 'Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5';
  it.each([
    { path: `/v1/auth/lnurl/${id}`, logged: '/v1/auth/lnurl/:id' },
    { path: `/V1/Auth/LNURL/${id}/`, logged: '/v1/auth/lnurl/:id/' },
    { path: '/v1/auth/lnurl/poll', logged: '/v1/auth/lnurl/poll' },
    { path: '/v1/auth/lnurl', logged: '/v1/auth/lnurl' },
    { path: '/v1/deposits/abc', logged: '/v1/deposits/abc' },
  ])('$path is logged as $logged', ({ path, logged }) => {
    expect(loggedPath(path)).toBe(logged);
  });
});

describe('an unexpected error', () => {
  it('is logged with the request it failed, and answered 500 without its message', () => {
    const lines: Record<string, unknown>[] = [];
    const log = pino(
      { level: 'error' },
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
          done();
        },
      }),
    );
    let answered: { status?: number; body?: unknown } = {};
    const res = {
      status(status: number) {
        answered.status = status;
        return this;
      },
      json(body: unknown) {
        answered = { ...answered, body };
        return this;
      },
    } as unknown as Response;
    const handle = errorHandler(log, { halt: () => {} });
    handle(new Error('boom: the store is gone'), { method: 'GET', path: '/v1/account' } as Request, res, () => {});
    expect(answered).toEqual({ status: 500, body: { error: { code: 'internal', message: 'internal error' } } });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ msg: 'unhandled error', method: 'GET', path: '/v1/account', err: { message: 'boom: the store is gone' } });
  });
});
