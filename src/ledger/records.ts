// Records read back from the store, checked: a record of the wrong shape would be misread (an
// amount taken for another, a state for a state it is not), so it is a broken invariant, not data.
import { z } from 'zod';
import { InvariantViolation } from './invariants.ts';

/** `value`, read at `key`, as `schema` says it must be; an InvariantViolation otherwise. */
export function parseStored<T>(schema: z.ZodType<T>, key: string, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InvariantViolation(`${key}: the stored record is not what tipd wrote (${issue?.path.join('.')}: ${issue?.message})`);
  }
  return parsed.data;
}

/** Fields of stored records: msat as a decimal string, a time as ISO 8601 (`toISOString`), a hash or key as hex. */
export const storedFields = {
  msat: z.string().regex(/^\d+$/),
  time: z.iso.datetime(),
  hex32: z.string().regex(/^[0-9a-f]{64}$/),
  pubkey: z.string().regex(/^0[23][0-9a-f]{64}$/),
};
