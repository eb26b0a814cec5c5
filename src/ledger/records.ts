// Records read back from the store, checked: a record of the wrong shape would be misread (an
// amount taken for another, a state for a state it is not), so it is a broken invariant, not data.
import { z } from 'zod';
import { InvariantViolation } from './invariants.ts';

/**
 * `value`, read at `key`, if it is what `schema` says it must be (as it was read: fields the schema
 * does not name are kept); an InvariantViolation otherwise. The message names the key and the
 * issue, never the value: a record may hold a secret (a preimage).
 */
export function parseStored<T>(schema: z.ZodType<T>, key: string, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InvariantViolation(`${key}: the stored record is not what tipd wrote (${issue?.path.join('.')}: ${issue?.message})`);
  }
  return value as T;
}

/** `parseStored`, where the key may be absent (undefined). */
export const parseStoredIfAny = <T>(schema: z.ZodType<T>, key: string, value: unknown): T | undefined =>
  value === undefined ? undefined : parseStored(schema, key, value);

/** A value read at `key` that is not `what` tipd writes there. */
export const notAsStored = (key: string, what: string): InvariantViolation => new InvariantViolation(`${key}: the stored value is not ${what}`);

/** Fields of stored records: msat as a decimal string, a time as ISO 8601 (`toISOString`), a hash or key as hex. */
export const storedFields = {
  msat: z.string().regex(/^\d+$/),
  time: z.iso.datetime(),
  hex32: z.string().regex(/^[0-9a-f]{64}$/),
  pubkey: z.string().regex(/^0[23][0-9a-f]{64}$/),
};
