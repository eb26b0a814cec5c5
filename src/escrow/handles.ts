// Twitter/X handles, normalised in this one place: an optional leading "@" is stripped, 1 to 15
// of [A-Za-z0-9_], compared case-insensitively. `key` (lower case) is how tipd stores a handle;
// `display` is the spelling first seen, for showing.
import { z } from 'zod';

export interface Handle {
  key: string;
  display: string;
}

const pattern = /^@?([A-Za-z0-9_]{1,15})$/;

export function parseHandle(input: string): Handle | undefined {
  const match = pattern.exec(input);
  if (!match) return undefined;
  const display = match[1]!;
  return { key: display.toLowerCase(), display };
}

/** Marks the issue of a string that is not a handle: the API answers it with `invalid_handle`. */
export const handleIssue = 'invalid_handle';

/** The pattern is for the API's description: what is refused is refused by `parseHandle`, as `invalid_handle`. */
export const handleSchema = z
  .string()
  .meta({ pattern: pattern.source })
  .transform((input, ctx): Handle => {
    const handle = parseHandle(input);
    if (handle) return handle;
    ctx.addIssue({ code: 'custom', message: 'must be an X handle: 1 to 15 letters, digits or _, with an optional @', params: { code: handleIssue } });
    return z.NEVER;
  });
