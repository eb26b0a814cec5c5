// tipd as a wallet paying a creator's Lightning Address: which addresses it takes, what it makes of
// a server's answers (a fetch of the test's own stands in for the network), and which invoices it
// refuses to pay, as a table of real signed BOLT11 requests.
import { hash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { describe, expect, it } from 'vitest';
import { Refusal } from '../../src/errors.ts';
import { checkInvoice, LightningAddresses, parseAddress, payRequestUrlOf } from '../../src/lnurl/address.ts';
import { isPublicAddress, publicLookup, publicOnlyAgent, type Resolve } from '../../src/lnurl/public-network.ts';
import { proofIn } from '../../src/payouts/destination.ts';
import { payeePubkey, signedInvoice } from './invoice-fixtures.ts';

const codeOf = async (run: () => unknown) => {
  try {
    await run();
  } catch (err) {
    return err instanceof Refusal ? err.code : String(err);
  }
  return undefined;
};

describe('a Lightning Address', () => {
  it('is name@domain, kept in lower case, its pay request at the LUD-16 path over https (http to .onion)', () => {
    expect(parseAddress(' Dave@Wallet.Example ', false)).toBe('dave@wallet.example');
    expect(parseAddress('dave+tips@localhost:8473', true)).toBe('dave+tips@localhost:8473');
    expect(payRequestUrlOf('dave@wallet.example')).toBe('https://wallet.example/.well-known/lnurlp/dave');
    expect(payRequestUrlOf('dave@abc.onion')).toBe('http://abc.onion/.well-known/lnurlp/dave');
    for (const bad of ['dave', '@wallet.example', 'dave@', 'da ve@x.com', 'dave@x.com/path', 'dave@@x.com', `${'a'.repeat(65)}@x.com`, 'a@x.com:99999'])
      expect(() => parseAddress(bad, true), bad).toThrow(Refusal);
    // Not this machine or its network, outside regtest: no IP address, no port, no local name.
    for (const local of ['a@127.0.0.1', 'a@0x7f.1', 'a@999.999.999.999', 'a@localhost', 'a@x.com:8443', 'a@printer.local', 'a@intranet', 'a@tipd.localhost'])
      expect(() => parseAddress(local, false), local).toThrow(Refusal);
  });

  it('is the proof in a claim tweet only when the tweet names exactly it', () => {
    const destination = { type: 'lightning_address' as const, address: 'dave@wallet.example' };
    expect(proofIn(destination, 'm', 'claim tipd-1 address Dave@Wallet.Example')).toBe('dave@wallet.example');
    expect(proofIn(destination, 'm', 'claim tipd-1')).toBeUndefined();
    expect(() => proofIn(destination, 'm', 'claim tipd-1 address mallory@wallet.example')).toThrow(Refusal);
    expect(() => proofIn(destination, 'm', 'dave@wallet.example, or mallory@evil.example')).toThrow(Refusal);
    // Not the tail of a longer word: with a Cyrillic а, "аdave@…" names no address tipd would pay.
    expect(() => proofIn({ type: 'lightning_address', address: 'lice@wallet.example' }, 'm', 'address \u0430lice@wallet.example')).not.toThrow();
    expect(proofIn({ type: 'lightning_address', address: 'lice@wallet.example' }, 'm', 'address \u0430lice@wallet.example')).toBeUndefined();
  });
});

describe("the addresses an address's server is reached at", () => {
  it('are public unicast ones only', () => {
    for (const open of ['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8', '64:ff9b::808:808']) expect(isPublicAddress(open), open).toBe(true);
    const closed = ['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1', '255.255.255.255'];
    closed.push(
      '::1',
      '::',
      'fe80::1',
      'fc00::1',
      '::ffff:127.0.0.1',
      '::ffff:10.0.0.1',
      '64:ff9b::a00:1',
      '64:ff9b::7f00:1',
      '64:ff9b:1::808:808',
      '2002:7f00:1::1',
      'not an address',
    );
    for (const address of closed) expect(isPublicAddress(address), address).toBe(false);
  });

  it('are what a name resolves to, without its private ones; a name with none is not connected to', async () => {
    const lookup = (addresses: string[]) =>
      new Promise<unknown>((resolve) =>
        publicLookup(async () => addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })))(
          'wallet.example',
          { all: true },
          (err, found) => resolve(err ? err.code : found),
        ),
      );
    expect(await lookup(['10.0.0.7', '93.184.215.14', '::1', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'])).toEqual([
      { address: '93.184.215.14', family: 4 },
      { address: '2606:2800:21f:cb07:6820:80da:af6b:8b2c', family: 6 },
    ]);
    expect(await lookup(['127.0.0.1'])).toBe('ENOTPUBLIC');
  });

  it('are checked as the connection is made: a name pointing at this machine gets no connection', async () => {
    let connections = 0;
    const server = http.createServer((_req, res) => res.end('{}'));
    server.on('connection', () => (connections += 1));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const toThisMachine: Resolve = async () => [{ address: '127.0.0.1', family: 4 }];
    try {
      // The same name, resolved the same way: reached without the check, refused with it.
      const plain = new Agent({ connect: { lookup: (_host, _options, callback) => callback(null, [{ address: '127.0.0.1', family: 4 }]) } });
      expect((await fetch(`http://wallet.example:${port}/`, { dispatcher: plain })).status).toBe(200);
      expect(connections).toBe(1);
      const refused = await fetch(`http://wallet.example:${port}/`, { dispatcher: publicOnlyAgent(toThisMachine) }).catch((err: Error) => err);
      expect((refused as Error & { cause?: { code?: string } }).cause?.code).toBe('ENOTPUBLIC');
      expect(connections).toBe(1);

      // tipd's client of addresses resolves through it (off regtest): the address is refused, as unreachable.
      const asked: string[] = [];
      const client = new LightningAddresses({
        timeoutMs: 2_000,
        allowLocal: false,
        resolve: async (host, family) => (asked.push(host), toThisMachine(host, family)),
      });
      expect(await codeOf(() => client.resolve('dave@wallet.example'))).toBe('address_unreachable');
      expect(asked).toEqual(['wallet.example']);
    } finally {
      server.close();
    }
  });
});

describe("an address server's answers", () => {
  const metadata = JSON.stringify([['text/plain', 'dave']]);
  const serving = (answers: Record<string, unknown>) =>
    new LightningAddresses({
      timeoutMs: 1_000,
      allowLocal: false,
      fetch: (async (input: URL) => {
        const answer = answers[input.pathname];
        if (answer === undefined) return new Response('{"status":"ERROR","reason":"Not found"}', { status: 404 });
        return new Response(typeof answer === 'string' ? answer : JSON.stringify(answer));
      }) as typeof fetch,
    });
  const payRequest = { tag: 'payRequest', callback: 'https://wallet.example/cb', minSendable: 1_000, maxSendable: 5_000_000, metadata, commentAllowed: 10 };

  it('resolves a pay request, and refuses what tipd cannot use', async () => {
    expect(await serving({ '/.well-known/lnurlp/dave': payRequest }).resolve('dave@wallet.example')).toEqual({
      callback: 'https://wallet.example/cb',
      minSendableMsat: 1_000n,
      maxSendableMsat: 5_000_000n,
      metadata,
      commentAllowed: 10,
    });
    const resolving = (answer: unknown) => codeOf(() => serving({ '/.well-known/lnurlp/dave': answer }).resolve('dave@wallet.example'));
    expect(await codeOf(() => serving({}).resolve('dave@wallet.example'))).toBe('address_unreachable');
    expect(await resolving('not json')).toBe('address_unreachable');
    expect(await resolving({ status: 'ERROR', reason: 'no such user' })).toBe('address_unreachable');
    expect(await resolving({ ...payRequest, tag: 'withdrawRequest' })).toBe('address_unreachable');
    expect(await resolving({ ...payRequest, callback: 'http://wallet.example/cb' })).toBe('address_unreachable');
    expect(await resolving({ ...payRequest, minSendable: 0 })).toBe('address_unreachable');
    expect(await resolving({ ...payRequest, minSendable: 10_000_000 })).toBe('address_limits');
    // Down, or too slow.
    const down = new LightningAddresses({ timeoutMs: 1_000, allowLocal: false, fetch: () => Promise.reject(new Error('ECONNREFUSED')) });
    expect(await codeOf(() => down.resolve('dave@wallet.example'))).toBe('address_unreachable');
  });

  it('asks the callback for the amount, with the comment cut to what it takes, and keeps its success message', async () => {
    let asked: URL | undefined;
    const client = new LightningAddresses({
      timeoutMs: 1_000,
      allowLocal: false,
      fetch: (async (input: URL) => {
        asked = input;
        return new Response(JSON.stringify({ pr: 'lnbcrt1x', routes: [], successAction: { tag: 'message', message: 'thanks!' } }));
      }) as typeof fetch,
    });
    const resolved = { callback: 'https://wallet.example/cb?user=dave', minSendableMsat: 1_000n, maxSendableMsat: 5_000_000n, metadata, commentAllowed: 10 };
    expect(await client.invoice(resolved, 21_000n, 'tipd payout for @carol')).toEqual({ paymentRequest: 'lnbcrt1x', successMessage: 'thanks!' });
    expect(Object.fromEntries(asked!.searchParams)).toEqual({ user: 'dave', amount: '21000', comment: 'tipd payou' });
    await client.invoice({ ...resolved, commentAllowed: 0 }, 21_000n, 'tipd payout for @carol');
    expect(asked!.searchParams.has('comment')).toBe(false);
  });
});

describe('an invoice from an address, checked before it is paid', () => {
  const metadata = JSON.stringify([['text/plain', 'dave']]);
  const now = new Date();
  const expected = { amountMsat: 21_000n, metadata, network: 'regtest' as const, hubPubkey: `02${'aa'.repeat(32)}`, now };
  const committed = hash('sha256', metadata);

  it('takes one for the amount, committing to the metadata, and records one that carries a plain description instead', () => {
    expect(checkInvoice(signedInvoice({ amountMsat: 21_000n, descriptionHash: committed }), expected).description).toBe('matched');
    expect(checkInvoice(signedInvoice({ amountMsat: 21_000n }), expected).description).toBe('absent');
  });

  it.each([
    ['not an invoice', () => 'lnbcrt1notaninvoice'],
    ['another amount', () => signedInvoice({ amountMsat: 22_000n, descriptionHash: committed })],
    ['no amount', () => signedInvoice({ descriptionHash: committed })],
    ['another description hash', () => signedInvoice({ amountMsat: 21_000n, descriptionHash: hash('sha256', 'other') })],
    ['another network', () => signedInvoice({ amountMsat: 21_000n, network: 'bitcoin', descriptionHash: committed })],
    [
      'expired',
      () =>
        signedInvoice({
          amountMsat: 21_000n,
          descriptionHash: committed,
          createdAt: new Date(now.getTime() - 7200_000),
          expiresAt: new Date(now.getTime() - 3600_000),
        }),
    ],
    ['expiring within a minute', () => signedInvoice({ amountMsat: 21_000n, descriptionHash: committed, expiresAt: new Date(now.getTime() + 30_000) })],
  ])('refuses %s', async (_what, invoice) => {
    expect(await codeOf(() => checkInvoice(invoice(), expected))).toBe('address_bad_invoice');
  });

  it("refuses the hub's own invoice", async () => {
    expect(await codeOf(() => checkInvoice(signedInvoice({ amountMsat: 21_000n }), { ...expected, hubPubkey: payeePubkey }))).toBe('address_bad_invoice');
  });
});
