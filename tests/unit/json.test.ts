// JSON bodies: a key twice in one object is found wherever it is, and only then.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { duplicateKey } from '../../src/api/json.ts';

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
