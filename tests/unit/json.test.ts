// JSON bodies: a key twice in one object is found wherever it is, and only then.
import type { AddressInfo } from 'node:net';
import express from 'express';
import fc from 'fast-check';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { errorHandler } from '../../src/api/errors.ts';
import { duplicateKey, jsonBody } from '../../src/api/json.ts';
import { jsonReviver } from '../../src/ledger/money.ts';

describe('a key twice in one object of a JSON body', () => {
  it.each([
    ['{"amountSat":1,"amountSat":100000000}', 'amountSat'],
    ['{"a":1,"b":{"c":2,"c":3}}', 'c'],
    ['[{"a":1},{"a":2,"b":[{"x":1,"x":1}]}]', 'x'],
    ['{"a":1,"\\u0061":2}', 'a'],
    ['{"a":"}","a":1}', 'a'],
    ['{"a\\"":1,"a\\"":2}', 'a"'],
  ])('%s: %s', (text, key) => {
    expect(duplicateKey(text)).toBe(key);
  });

  it.each(['{"a":1,"b":2}', '{"a":{"a":{"a":1}}}', '[{"a":1},{"a":2}]', '{"a":["a","a"],"b":"a"}', '"a"', '[]', '{}', '{"a":"\\"a\\":1,"}'])(
    'none in %s',
    (text) => {
      expect(duplicateKey(text)).toBeUndefined();
    },
  );

  it('finds none in what JSON.stringify writes, and finds one added to any object of it', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (object) => {
        const text = JSON.stringify(object);
        if (duplicateKey(text) !== undefined) return false;
        const keys = Object.keys(object);
        if (keys.length === 0) return true;
        // The first key written again at the end of the outer object.
        const twice = `${text.slice(0, -1)},${JSON.stringify(keys[0])}:0}`;
        return duplicateKey(twice) !== undefined;
      }),
      { numRuns: 500 },
    );
  });
});

describe('a JSON body that is not JSON', () => {
  // Looked for keys twice before it was parsed, an unclosed string never ended: tipd hung for good
  // (found by the conformance run, tests/integration/conformance.test.ts).
  it.each(['{"a', '{"a":"b', '["', '{"a":1,"'])('%s is answered 400 invalid_json, at once', async (text) => {
    const app = express()
      .use(jsonBody({ limit: 1024, reviver: jsonReviver }))
      .post('/', (_req, res) => res.json({ ok: true }))
      .use(errorHandler(pino({ level: 'silent' }), { halt: () => undefined }));
    const server = app.listen(0);
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const answer = await fetch(`http://127.0.0.1:${port}/`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: text,
        signal: AbortSignal.timeout(2_000),
      });
      expect([answer.status, ((await answer.json()) as { error: { code: string } }).error.code]).toEqual([400, 'invalid_json']);
    } finally {
      server.close();
    }
  });
});
