// What tipd takes as a JSON body beyond what JSON.parse checks: UTF-8 only (the error message has
// always said so; body-parser also takes UTF-16 and UTF-32), and no key twice in one object (JSON
// lets the last one win, so `{"amountSat":1,"amountSat":100000000}` would ask for the second while
// a log or a proxy shows the first: for money, refused).
import express, { type RequestHandler } from 'express';
import { Refusal } from '../errors.ts';

/** The first key that appears twice in one object of `text`, valid JSON; undefined if none does. */
export function duplicateKey(text: string): string | undefined {
  // Each open object's keys so far (an array: null), and whether the next string is a key.
  const open: (Set<string> | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let end = i + 1;
      while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      const keys = open.at(-1);
      if (expectKey && keys) {
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        if (keys.has(key)) return key;
        keys.add(key);
        expectKey = false;
      }
      i = end;
    } else if (c === '{') {
      open.push(new Set());
      expectKey = true;
    } else if (c === '[') {
      open.push(null);
      expectKey = false;
    } else if (c === '}' || c === ']') {
      open.pop();
      expectKey = false;
    } else if (c === ',') {
      expectKey = open.at(-1) !== null && open.length > 0;
    }
  }
  return undefined;
}

const rawOf = Symbol('the JSON body as sent');

/**
 * express.json, as tipd takes JSON: UTF-8 only (a charset named otherwise is 415), and no key twice
 * in one object (400 `invalid_json`). One middleware, so that a request passes one layer.
 */
export function jsonBody(options: { limit: number; reviver: (key: string, value: unknown) => unknown }): RequestHandler {
  const parse = express.json({
    ...options,
    strict: true,
    // Sees the raw text once body-parser has read it, before it is parsed: kept, and looked at
    // once it has parsed (`duplicateKey` takes valid JSON only: an unclosed string would never end).
    verify: (req, _res, buf) => {
      (req as { [rawOf]?: Buffer })[rawOf] = buf;
    },
  });
  return (req, res, next) => {
    const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(req.headers['content-type'] ?? '')?.[1]?.toLowerCase();
    if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') return next(new Refusal('unsupported_encoding'));
    parse(req, res, (err?: unknown) => {
      if (err) return next(err);
      const raw = (req as { [rawOf]?: Buffer })[rawOf];
      const key = raw === undefined ? undefined : duplicateKey(raw.toString('utf8'));
      next(key === undefined ? undefined : new Refusal('invalid_json', `request body: the key "${key.slice(0, 40)}" appears twice in one object`));
    });
  };
}
