// LNURL-pay's own rules, without a node: the metadata a handle's pay request serves (and that its
// invoice commits to), the callback's checks, LNURL's bech32 form, and a paid LNURL tip booked
// into escrow on a real (temporary) LevelDB: its payer lot, its counts, its public event.
import { hash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Refusal } from '../../src/errors.ts';
import { parseHandle } from '../../src/escrow/handles.ts';
import { payerEscrow, payerIntoEscrow } from '../../src/escrow/payers.ts';
import type { StoredEvent } from '../../src/events/types.ts';
import { accounts } from '../../src/ledger/ledger.ts';
import { decodeLnurl, encodeLnurl } from '../../src/lnurl/lnurl.ts';
import { checkAmount, cleanComment, descriptionHashOf, metadataOf, parsePayerData, payRequest, siteOf } from '../../src/lnurl/pay.ts';
import { tempLedger } from './ledger-helpers.ts';
import { pino } from 'pino';
import { Refunds } from '../../src/escrow/refunds.ts';
import { under } from '../../src/ledger/keys.ts';

const site = siteOf('https://tips.example:8443');
const carol = parseHandle('Carol')!;
const limits = { minSendableMsat: 1_000n, maxSendableMsat: 100_000_000n, commentMax: 280 };
const refusalCode = (run: () => unknown) => {
  try {
    run();
  } catch (err) {
    return err instanceof Refusal ? err.code : err;
  }
  return undefined;
};

describe("a handle's pay request", () => {
  it('serves exactly one text/plain, saying whether the handle is claimed, and its Lightning Address as identifier', () => {
    for (const state of ['claimed', 'unclaimed'] as const) {
      const metadata = JSON.parse(metadataOf(site, carol, state)) as [string, string][];
      expect(metadata.filter(([type]) => type === 'text/plain')).toHaveLength(1);
      expect(metadata[0]![1]).toContain(state === 'claimed' ? 'claimed: forwarded to @Carol' : 'not claimed yet');
      expect(metadata).toContainEqual(['text/identifier', 'carol@tips.example:8443']);
    }
    expect(payRequest(site, carol, 'unclaimed', limits)).toMatchObject({
      tag: 'payRequest',
      callback: 'https://tips.example:8443/lnurl/pay/Carol/unclaimed',
      minSendable: 1_000,
      maxSendable: 100_000_000,
      commentAllowed: 280,
    });
    // No comments taken: none offered (LUD-12).
    expect(payRequest(site, carol, 'unclaimed', { ...limits, commentMax: 0 })).not.toHaveProperty('commentAllowed');
  });

  it('has its invoice commit to the metadata, then the payer data string as sent (LUD-18)', () => {
    const metadata = metadataOf(site, carol, 'unclaimed');
    expect(descriptionHashOf(metadata, undefined).toString('hex')).toBe(hash('sha256', metadata));
    const payerdata = '{"name":"Sat","identifier":"sat@wallet.example"}';
    expect(descriptionHashOf(metadata, payerdata).toString('hex')).toBe(hash('sha256', metadata + payerdata));
  });
});

describe("the callback's checks", () => {
  it('takes whole sats within the limits only', () => {
    expect(refusalCode(() => checkAmount(1_000n, limits))).toBeUndefined();
    expect(refusalCode(() => checkAmount(100_000_000n, limits))).toBeUndefined();
    expect(refusalCode(() => checkAmount(1_500n, limits))).toBe('amount_not_whole_sats');
    expect(refusalCode(() => checkAmount(0n, limits))).toBe('amount_out_of_range');
    expect(refusalCode(() => checkAmount(100_001_000n, limits))).toBe('amount_out_of_range');
  });

  it('takes payer data with a name and a Lightning Address only', () => {
    expect(parsePayerData('{"name":"Sat","identifier":"Sat@Wallet.example"}', false)).toEqual({ name: 'Sat', identifier: 'sat@wallet.example' });
    expect(refusalCode(() => parsePayerData('{"identifier":"sat@127.0.0.1:8080"}', false))).toBe('invalid_payerdata');
    expect(parsePayerData('{"identifier":"sat@localhost:8473"}', true)).toEqual({ identifier: 'sat@localhost:8473' });
    expect(parsePayerData('{}', false)).toEqual({});
    for (const bad of ['', '[', '[]', 'null', '{"email":"a@b.c"}', '{"identifier":"no address"}', '{"name":1}', `{"name":"${'x'.repeat(101)}"}`])
      expect(
        refusalCode(() => parsePayerData(bad, false)),
        bad,
      ).toBe('invalid_payerdata');
  });

  it('shows a comment without control characters, on one line', () => {
    expect(cleanComment('  great\u0007 thread!\r\n\tthanks\u202e ')).toBe('great thread! thanks');
    expect(cleanComment('\u0000\u001b')).toBe('');
    expect(cleanComment('zap ⚡ 🧡')).toBe('zap ⚡ 🧡');
    expect(cleanComment('half \ud800 surrogate')).toBe('half \ufffd surrogate');
  });

  it('encodes LNURLs in upper-case bech32, longer than addresses may be', () => {
    const url = `https://tips.example/.well-known/lnurlp/${'a'.repeat(15)}?${'x'.repeat(200)}`;
    const lnurl = encodeLnurl(url);
    expect(lnurl).toMatch(/^LNURL1[02-9AC-HJ-NP-Z]+$/);
    expect(decodeLnurl(lnurl)).toBe(url);
    expect(decodeLnurl(`lightning:${lnurl.toLowerCase()}`)).toBe(url);
    expect(decodeLnurl('LNURL1NOTVALID')).toBeUndefined();
  });
});

describe('a paid LNURL tip in escrow', () => {
  let t: Awaited<ReturnType<typeof tempLedger>>;
  const events: StoredEvent[] = [];
  beforeEach(async () => {
    t = await tempLedger();
    events.length = 0;
    t.ledger.onEvents((e) => events.push(...e));
  });
  afterEach(async () => {
    await t.dispose();
  });

  const tip = (amountMsat: bigint, refundAddress: string | null, comment: string | null = null, payerName: string | null = null) =>
    t.ledger.run((tx) => payerIntoEscrow(tx, { handle: carol, amountMsat, paymentId: 'p1', paymentHash: '00'.repeat(32), comment, payerName, refundAddress }));

  it('moves the payment into the escrow from the Lightning inflow, counts a payer once by address, and keeps the lot apart', async () => {
    await tip(2_000n, 'sat@wallet.example', 'hi', 'Satoshi');
    await tip(3_000n, 'sat@wallet.example');
    await tip(5_000n, null);
    expect(await t.ledger.balance(accounts.escrow('carol'))).toBe(10_000n);
    expect(await t.ledger.balance(accounts.deposits)).toBe(-10_000n);
    expect(await t.ledger.read('handle:carol')).toMatchObject({ display: 'Carol', tips: 3, supporters: 2, claimed: false });
    expect(await payerEscrow(t.ledger)).toEqual({ withRefundAddressMsat: 5_000n, heldForClaimMsat: 5_000n, lots: 3 });
    expect(events.map((e) => [e.type, e.topics, e.data])).toEqual([
      ['handle.tipped', ['handle:carol'], { handle: 'Carol', amountMsat: '2000', pendingMsat: '2000', comment: 'hi', from: 'Satoshi' }],
      ['handle.tipped', ['handle:carol'], { handle: 'Carol', amountMsat: '3000', pendingMsat: '5000' }],
      ['handle.tipped', ['handle:carol'], { handle: 'Carol', amountMsat: '5000', pendingMsat: '10000' }],
    ]);
  });

  it("makes no lot for a claimed handle, and the sweep drops those it had: its escrow is its creator's", async () => {
    await tip(2_000n, null);
    await t.ledger.run(async (tx) => tx.put('handle:carol', { ...(await tx.get<object>('handle:carol')), claimed: true }));
    await tip(3_000n, 'sat@wallet.example');
    expect(await payerEscrow(t.ledger)).toEqual({ withRefundAddressMsat: 0n, heldForClaimMsat: 0n, lots: 0 });
    expect(await t.db.keys(under('paylot:carol:')).all()).toHaveLength(1);
    await new Refunds(t.ledger, pino({ level: 'silent' })).sweep();
    expect(await t.db.keys(under('paylot:carol:')).all()).toEqual([]);
    expect(await t.ledger.balance(accounts.escrow('carol'))).toBe(5_000n);
  });
});
