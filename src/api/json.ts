// What tipd takes as a JSON body beyond what JSON.parse checks: UTF-8 only (the error message has
// always said so; body-parser also takes UTF-16 and UTF-32), and no key twice in one object (JSON
// lets the last one win, so `{"amountSat":1,"amountSat":100000000}` would ask for the second while
// a log or a proxy shows the first: for money, refused).
import type { RequestHandler } from 'express';
import { Refusal } from '../errors.ts';

/** A JSON body's charset, if its Content-Type names one: anything but UTF-8 is refused. */
export const utf8Only: RequestHandler = (req, _res, next) => {
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(req.get('content-type') ?? '')?.[1]?.toLowerCase();
  next(charset === undefined || charset === 'utf-8' || charset === 'utf8' ? undefined : new Refusal('unsupported_encoding'));
};

/** The first key that appears twice in one object of `text`, valid JSON; undefined if none does. */
export function duplicateKey(text: string): string | undefined {
  // Each open object's keys so far (an array: null), and whether the next string is a key.
  const open: (Set<string> | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
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

/** After express.json (which keeps the raw text, `rawJsonOf`): refuses a body with a key twice. */
export const noDuplicateKeys: RequestHandler = (req, _res, next) => {
  const raw = rawJsonOf(req);
  const key = raw === undefined ? undefined : duplicateKey(raw);
  next(key === undefined ? undefined : new Refusal('invalid_json', `request body: the key "${key.slice(0, 40)}" appears twice in one object`));
};

const rawJson = new WeakMap<object, string>();
/** express.json's `verify`: keeps the body's text, for `noDuplicateKeys`. */
export const keepRawJson = (req: object, _res: unknown, buf: Buffer): void => {
  rawJson.set(req, buf.toString('utf8'));
};
const rawJsonOf = (req: object): string | undefined => rawJson.get(req);
