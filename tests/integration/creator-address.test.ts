// The creator's wallet on the stack: a Lightning Address served by a server tipd did not write (the
// `lnurl` package's, regtest/lightning-address.ts) over the stack's https, backed by dave's LND.
// Independent clients (`lnurl-pay`, Alby's `@getalby/lightning-tools`), run as wallets are (their own
// process, trusting the stack's CA), ask it for invoices; alice's LND pays; dave's LND receives
// exactly the amount. What tipd's payouts to Lightning Addresses are tested against.
import { hash } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import { bech32 } from 'bech32';
import { parsePaymentRequest } from 'invoices';
import { describe, expect, it } from 'vitest';
import { eventually, lndOf, stack, wallet } from './helpers.ts';

/** GET over https trusting only the stack's CA: the JSON answer. */
const getJson = (url: string): Promise<any> =>
  new Promise((resolve, reject) => {
    https
      .get(url, { ca: fs.readFileSync(stack().tipd.caCert) }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode, cors: res.headers['access-control-allow-origin'], body: JSON.parse(body) }));
      })
      .on('error', reject);
  });

const daveAddress = () => {
  const entry = stack().lightningAddresses.find((a) => a.node === 'dave');
  if (!entry) throw new Error('stack.json names no Lightning Address on dave');
  const [user, domain] = entry.address.split('@') as [string, string];
  const url = `https://${domain}/.well-known/lnurlp/${user}`;
  return { address: entry.address, user, domain, url, lnurl: bech32.encode('lnurl', bech32.toWords(Buffer.from(url)), 2_000).toUpperCase() };
};

/** alice pays; dave's LND shows the invoice settled and its channel balance up by exactly `msat`. */
async function payAndSeeDaveReceive(invoice: string, msat: bigint): Promise<void> {
  const dave = lndOf('dave');
  const parsed = parsePaymentRequest({ request: invoice });
  expect(parsed.destination).toBe(stack().nodes.dave.pubkey);
  expect(BigInt(parsed.mtokens!)).toBe(msat);
  expect((await dave.getInvoice(parsed.id))?.state).toBe('open');
  const before = await dave.getChannelBalanceMsat();

  const paid = await lndOf('alice').payInvoice({ paymentRequest: invoice, maxFeeMsat: 10_000n });
  expect(paid.state).toBe('succeeded');

  const settled = await eventually(async () => {
    const got = await dave.getInvoice(parsed.id);
    return got?.state === 'settled' ? got.settled : undefined;
  });
  expect(settled.receivedMsat).toBe(msat);
  expect(await eventually(async () => ((await dave.getChannelBalanceMsat()) !== before ? dave.getChannelBalanceMsat() : undefined))).toBe(before + msat);
}

describe("the creator's Lightning Address (an LNURL server tipd did not write, on dave's LND)", () => {
  it('stack.json names it, and it answers LUD-16 over the stack https: a payRequest naming the address', async () => {
    const { address, user, domain, url } = daveAddress();
    expect(address).toMatch(/^dave@localhost:\d+$/);
    const { status, cors, body } = await getJson(url);
    expect(status).toBe(200);
    expect(cors).toBe('*');
    expect(body).toMatchObject({ tag: 'payRequest', minSendable: 1_000 });
    expect(body.maxSendable).toBeGreaterThanOrEqual(body.minSendable);
    expect(new URL(body.callback).origin).toBe(`https://${domain}`);
    const metadata = JSON.parse(body.metadata) as [string, string][];
    expect(metadata.filter(([type]) => type === 'text/plain')).toHaveLength(1);
    expect(metadata).toContainEqual(['text/identifier', address]);
    // The address's `+tag` and upper case name the same user (LUD-16); an unknown user is LNURL's error.
    expect((await getJson(`https://${domain}/.well-known/lnurlp/${user.toUpperCase()}+tips`)).body.callback).toBe(body.callback);
    const unknown = await getJson(`https://${domain}/.well-known/lnurlp/nobody`);
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ status: 'ERROR' });
  });

  it('lnurl-pay gets an invoice committing to the metadata for the amount asked; alice pays it and dave receives exactly that', async () => {
    const { address, lnurl } = daveAddress();
    const got = await wallet('lnurl-pay', lnurl, '2100', 'for the thread');
    expect(got.error).toBeUndefined();
    expect(got).toMatchObject({ hasValidDescriptionHash: true, hasValidAmount: true, identifier: address, description: `Pay ${address}` });

    // The invoice commits to the exact metadata string the server gave (checked here too, not only by the client).
    const { body } = await getJson(daveAddress().url);
    expect(parsePaymentRequest({ request: got.invoice }).description_hash).toBe(hash('sha256', body.metadata));

    await payAndSeeDaveReceive(got.invoice, 2_100_000n);
  });

  it("Alby's client gets an invoice from the address too; dave receives what alice pays", async () => {
    const { user, domain } = daveAddress();
    // Alby's client wants a domain with a TLD: the wallet's "DNS" maps one onto the server's host and port.
    const got = await wallet('alby', `${user}@creator.localhost`, '777', '', `creator.localhost=${domain}`);
    expect(got.error).toBeUndefined();
    expect(got.satoshi).toBe(777);
    await payAndSeeDaveReceive(got.invoice, 777_000n);
  });

  it('refuses an amount outside its range with an LNURL error and makes no invoice', async () => {
    const { body } = await getJson(daveAddress().url);
    for (const amount of [0, body.minSendable - 1, body.maxSendable + 1_000]) {
      const answer = await getJson(`${body.callback}?amount=${amount}`);
      expect(answer.body.status).toBe('ERROR');
      expect(answer.body.pr).toBeUndefined();
    }
  });
});
