// `npm run demo` is part of the test run: the story a newcomer runs must keep working, with the
// balances it shows. The demo's last line is a JSON summary of what it saw; both creators' handles
// are then read back from the stack's tipd.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { repoRoot } from '../../regtest/stack.ts';

// The stack's tipd runs with the default payout fee cap (TIPD_PAYOUT_FEE_BASE_MSAT 10,000 +
// TIPD_PAYOUT_FEE_PPM 5,000): a payout is the largest amount whose cap fits beside it in the
// escrow. hub → carol is a direct channel, so a keysend costs no routing fee and the whole cap
// goes back to the escrow.
const firstPayout = { amountMsat: '4965174', feeCapMsat: '34826' }; // 4,965,174 + 10,000 + ⌈24,825.87⌉ = 5,000,000
const secondPayout = { amountMsat: '1517239', feeCapMsat: '17587' }; // 34,826 + 1,500,000: 1,517,239 + 10,000 + ⌈7,586.195⌉
// dave's address is paid in whole sats: the largest amount whose cap fits (3,970,149 msat) rounded
// down, its cap recomputed. hub → carol → dave: the routing fee is carol's, within the cap.
const davePayout = { amountMsat: '3970000', feeCapMsat: '29850' }; // 3,970,000 + 10,000 + 19,850 ≤ 4,000,000

describe('npm run demo', () => {
  it('walks from alice’s deposit to carol’s keysends, then dave’s Lightning Address paid by LNURL-pay, with exact balances', async () => {
    const stack = inject('stack');
    const child = spawn(process.execPath, [path.join(repoRoot, 'scripts/demo.ts')], { env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      out += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    // Exiting 0 also means carol's channel balance grew by exactly each payout's amount (the demo waits for it).
    expect(code, out).toBe(0);

    const summary = JSON.parse(stdout.trimEnd().split('\n').at(-1)!) as { handle: string; dave: Record<string, any> };
    const { handle } = summary;
    expect(handle).toMatch(/^carol_[0-9a-f]{6}$/);
    const daveHandle: string = summary.dave.handle;
    expect(daveHandle).toMatch(/^dave_[0-9a-f]{6}$/);
    const address = stack.lightningAddresses.find((a) => a.node === 'dave')!.address;
    const [paid] = summary.dave.payouts as { amountMsat: string; feeMsat: string }[];
    expect(summary, out).toEqual({
      handle,
      deposit: { state: 'settled', amountMsat: '20000000', receivedMsat: '20000000' },
      // 20,000 sat in; a 3,000 sat tip; the 2,000 sat budget at the close; a 1,500 sat tip. Her
      // node's tip through dave's LNURL does not touch her account.
      aliceMsat: { funded: '20000000', afterClose: '15000000', left: '13500000', afterLnurlTip: '13500000' },
      escrowMsat: { afterTip: '3000000', afterClose: '5000000', afterFirstPayout: firstPayout.feeCapMsat },
      claim: { state: 'verified', nodePubkey: stack.nodes.carol.pubkey },
      payouts: [
        { state: 'succeeded', ...firstPayout, feeMsat: '0' },
        { state: 'succeeded', ...secondPayout, feeMsat: '0' },
      ],
      dave: {
        handle: daveHandle,
        lnurlTip: { state: 'succeeded', escrowMsat: '4000000' },
        claim: { state: 'verified', lightningAddress: address },
        payouts: [{ state: 'succeeded', ...davePayout, feeMsat: expect.stringMatching(/^\d+$/), lightningAddress: address, descriptionHash: 'matched' }],
        escrowLeftMsat: (4_000_000n - BigInt(davePayout.amountMsat) - BigInt(paid!.feeMsat)).toString(),
        balanceMsat: { before: expect.any(String), after: expect.any(String) },
      },
    });
    expect(BigInt(paid!.feeMsat)).toBeLessThanOrEqual(BigInt(davePayout.feeCapMsat));
    // dave's own LND received exactly what tipd paid to his address.
    const { before, after } = summary.dave.balanceMsat as { before: string; after: string };
    expect(BigInt(after) - BigInt(before)).toBe((summary.dave.payouts as { amountMsat: string }[]).reduce((sum, p) => sum + BigInt(p.amountMsat), 0n));

    // What anyone sees of the handle afterwards: claimed by carol's node, the second cap waiting.
    const view = await (await fetch(`${stack.tipd.url}/v1/handles/${handle}`)).json();
    expect(view).toEqual({
      handle,
      claimed: true,
      pendingMsat: secondPayout.feeCapMsat,
      supporters: 1,
      tips: 3, // the two tips and the close's allocation
      binding: expect.objectContaining({ nodePubkey: stack.nodes.carol.pubkey, xUsername: handle }),
      pendingBinding: null,
      lightningAddress: `${handle}@${new URL(stack.tipd.publicUrl).host}`,
      lnurl: expect.stringMatching(/^LNURL1[0-9A-Z]+$/),
      lightning: expect.stringMatching(/^lightning:LNURL1/),
    });
    // Newest first.
    const { payouts } = (await (await fetch(`${stack.tipd.url}/v1/payouts?handle=${handle}`)).json()) as { payouts: unknown[] };
    expect(payouts).toEqual(
      [secondPayout, firstPayout].map((p) =>
        expect.objectContaining({ ...p, state: 'succeeded', feeMsat: '0', nodePubkey: stack.nodes.carol.pubkey, failureReason: null }),
      ),
    );

    // dave's handle: bound to his address, the escrow what the payout left, paid by an invoice that committed to its metadata.
    const daveView = await (await fetch(`${stack.tipd.url}/v1/handles/${daveHandle}`)).json();
    expect(daveView).toMatchObject({
      claimed: true,
      pendingMsat: summary.dave.escrowLeftMsat,
      supporters: 1, // alice's node, through the LNURL
      tips: 1,
      binding: { lightningAddress: address, xUsername: daveHandle },
    });
    const davePayouts = (await (await fetch(`${stack.tipd.url}/v1/payouts?handle=${daveHandle}`)).json()) as { payouts: unknown[] };
    expect(davePayouts.payouts).toEqual([
      expect.objectContaining({
        ...davePayout,
        state: 'succeeded',
        feeMsat: paid!.feeMsat,
        lightningAddress: address,
        descriptionHash: 'matched',
        paymentHash: expect.stringMatching(/^[0-9a-f]{64}$/),
        failureReason: null,
      }),
    ]);
  });
});
