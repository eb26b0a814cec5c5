// A wallet's side of LNURL-pay, played by independent clients: run as its own process (as a wallet
// is), trusting the stack's CA through NODE_EXTRA_CA_CERTS, it asks for an invoice and prints what
// the client made of the answer as one line of JSON. Paying is left to a node of the stack.
//
//   node wallets/lnurl-pay.ts lnurl-pay <LNURL1…> <sats> [comment]
//   node wallets/lnurl-pay.ts alby <user@domain> <sats> [comment] [domain=host:port]
//   node wallets/lnurl-pay.ts alby-verify <invoice> <verify URL> [domain=host:port]
import { Invoice, LightningAddress } from '@getalby/lightning-tools';
import { requestInvoice } from 'lnurl-pay';

const [client, target, third, fourth, fifth] = process.argv.slice(2) as [string, string, string, string | undefined, string | undefined];

/**
 * Alby's client builds `https://<domain>/…` from an address and wants a domain with a TLD: the
 * test's "DNS" sends such a domain to the host and port tipd listens on (`tipd.localhost=localhost:8472`).
 */
function mapDomain(mapping: string | undefined): void {
  if (!mapping) return;
  const [domain, hostPort] = mapping.split('=') as [string, string];
  const realFetch = globalThis.fetch;
  globalThis.fetch = (input, init) =>
    realFetch(String(input instanceof Request ? input.url : input).replace(`https://${domain}/`, `https://${hostPort}/`), init);
}

async function main(): Promise<unknown> {
  switch (client) {
    case 'lnurl-pay': {
      // validateInvoice: the invoice's description hash must be the metadata's, its amount the one asked.
      const answer = await requestInvoice({ lnUrlOrAddress: target, tokens: Number(third) as never, comment: fourth, validateInvoice: true });
      return {
        invoice: answer.invoice,
        hasValidDescriptionHash: answer.hasValidDescriptionHash,
        hasValidAmount: answer.hasValidAmount,
        description: answer.params.description,
        identifier: answer.params.identifier,
        commentAllowed: answer.params.commentAllowed,
        successAction: answer.rawData.successAction,
        verify: answer.rawData.verify,
      };
    }
    case 'alby': {
      mapDomain(fifth);
      const address = new LightningAddress(target, { proxy: false });
      await address.fetch();
      const invoice = await address.requestInvoice({ satoshi: Number(third), ...(fourth ? { comment: fourth } : {}) });
      return { invoice: invoice.paymentRequest, satoshi: invoice.satoshi, description: address.lnurlpData?.description, verify: invoice.verify };
    }
    case 'alby-verify': {
      // LUD-21: the client asks the verify URL, and checks the preimage against the invoice's hash itself.
      mapDomain(fourth);
      const invoice = new Invoice({ pr: target, verify: third });
      return { paid: await invoice.isPaid(), preimage: invoice.preimage };
    }
    default:
      throw new Error(`unknown client ${client}`);
  }
}

main().then(
  (result) => process.stdout.write(`${JSON.stringify(result)}\n`),
  (err: unknown) => {
    process.stdout.write(`${JSON.stringify({ error: err instanceof Error ? err.message : String(err) })}\n`);
    process.exitCode = 1;
  },
);
