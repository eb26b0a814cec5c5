import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { feeCap } from '../../src/ledger/money.ts';
import { payoutSplit } from '../../src/payouts/records.ts';

describe('a payout out of an escrow pays its own fee cap', () => {
  it.each([
    // escrow, base, ppm → amount, fee cap
    [1_000_000n, 10_000n, 5_000n, 985_074n, 14_926n],
    [1_000_000n, 0n, 0n, 1_000_000n, 0n],
    [1_000n, 0n, 1_000_000n, 500n, 500n],
    [10_001n, 10_000n, 0n, 1n, 10_000n],
  ])('%i msat with a cap of %i + %i ppm sends %i msat under a cap of %i', (escrow, base, ppm, amount, cap) => {
    expect(payoutSplit(escrow, base, ppm)).toEqual({ amountMsat: amount, feeCapMsat: cap });
  });

  it('sends nothing when the cap alone takes the whole escrow', () => {
    expect(payoutSplit(10_000n, 10_000n, 5_000n)).toBeUndefined();
    expect(payoutSplit(5_000n, 10_000n, 0n)).toBeUndefined();
  });

  it('sends the largest amount whose cap still fits, never more than the escrow', () => {
    fc.assert(
      fc.property(fc.bigInt(1n, 10n ** 15n), fc.bigInt(0n, 10n ** 8n), fc.bigInt(0n, 100_000n), (escrow, base, ppm) => {
        const split = payoutSplit(escrow, base, ppm);
        const cap = (amount: bigint) => feeCap(amount, { baseMsat: base, ppm });
        if (!split) return escrow <= cap(1n);
        return (
          split.feeCapMsat === cap(split.amountMsat) &&
          split.amountMsat + split.feeCapMsat <= escrow &&
          split.amountMsat + 1n + cap(split.amountMsat + 1n) > escrow
        );
      }),
      { numRuns: 2_000 },
    );
  });
});
