// Money inside tipd is a bigint of millisatoshis, made and converted only here. Inputs come in
// whole sats; what tipd reports goes out as a decimal string of millisatoshis ("1500000"), as the
// `lightning` package does with mtokens. Never a float.
import { z } from 'zod';

export const msatPerSat = 1000n;

/** Upper bound of any amount a client may ask for: 21M BTC in sats. */
export const amountSatMax = 2_100_000_000_000_000;

export const satToMsat = (sat: number | bigint): bigint => BigInt(sat) * msatPerSat;

export const formatMsat = (msat: bigint): string => msat.toString();

/** Whole msats from the part per million `ppm` of `msat`, rounded up: fees and reserves. */
const ppmCeil = (msat: bigint, ppm: bigint): bigint => (msat * ppm + 999_999n) / 1_000_000n;

/** A routing-fee cap for paying `msat`: a base plus a proportion (ppm) of the amount, rounded up. */
export const feeCap = (msat: bigint, fee: { baseMsat: bigint; ppm: bigint }): bigint => fee.baseMsat + ppmCeil(msat, fee.ppm);

/** A whole number of sats, > 0 and at most `max`. JSON numbers only: see `jsonReviver`. */
export const amountSat = (max = amountSatMax) =>
  z
    .number({ error: 'must be a whole number of sats' })
    .int('must be a whole number of sats')
    .positive('must be more than 0')
    .max(max, `must be at most ${max}`);

/**
 * JSON.parse reviver that lets through only numbers written as integers that fit a double exactly:
 * `12` and `12.0` (JSON Schema's integers, as the API's description says). `1e3`, `0.5`,
 * `1.0000000000000001` and `9007199254740993` become NaN, which every amount schema rejects, so
 * a fraction, an exponent or a rounded value can never pass as an amount after parsing.
 */
export function jsonReviver(this: unknown, _key: string, value: unknown, context?: { source?: string }): unknown {
  if (typeof value !== 'number') return value;
  const source = context?.source;
  if (source === undefined) return value;
  return /^-?(0|[1-9]\d*)(\.0+)?$/.test(source) && Number.isSafeInteger(value) ? value : Number.NaN;
}

/**
 * The largest amount whose fee cap fits beside it in `totalMsat` (a payout's escrow, a
 * withdrawal's balance): amount + cap never exceeds the total; none when the cap alone takes it.
 */
export function largestUnderFeeCap(totalMsat: bigint, fee: { baseMsat: bigint; ppm: bigint }): { amountMsat: bigint; feeCapMsat: bigint } | undefined {
  let amountMsat = ((totalMsat - fee.baseMsat) * 1_000_000n) / (1_000_000n + fee.ppm);
  // Rounding the cap up costs at most one msat: at most a step or two back.
  while (amountMsat > 0n && amountMsat + feeCap(amountMsat, fee) > totalMsat) amountMsat -= 1n;
  return amountMsat > 0n ? { amountMsat, feeCapMsat: feeCap(amountMsat, fee) } : undefined;
}
