// The fields of LND's answers that tipd relies on, checked with zod: an answer of another shape is
// an LndError (`lnd_invalid_answer`), so no unchecked field of LND's is ever used.
import { z } from 'zod';
import { LndError } from './errors.ts';

/** Millisatoshis as `lightning` gives them (a decimal string), as a bigint. */
export const msat = z.string().regex(/^\d+$/).transform(BigInt);
export const hex32 = z.string().regex(/^[0-9a-f]{64}$/);
export const pubkey = z.string().regex(/^0[23][0-9a-f]{64}$/);

/** LND's answer checked against what tipd relies on; anything else is `lnd_invalid_answer`. */
export function parseAnswer<T>(what: string, schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success)
    throw new LndError(
      'lnd_invalid_answer',
      `${what}: unexpected answer from LND (${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message})`,
    );
  return parsed.data;
}
