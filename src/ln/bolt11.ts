// BOLT11 payment requests decoded offline, with the `invoices` package (the codec `lightning`
// itself uses): what a request pays, to whom, on which network, until when.
import { parsePaymentRequest } from 'invoices';
import type { Network } from '../config.ts';

export interface DecodedInvoice {
  /** The request as LND takes it: trimmed, lower case, without a `lightning:` prefix. */
  request: string;
  paymentHash: string;
  payee: string;
  /** Absent for an invoice that lets the payer choose the amount. */
  amountMsat: bigint | undefined;
  expiresAt: Date;
  /** As the invoice's prefix names it: bitcoin, testnet, signet, regtest, … */
  network: string;
  /** Hex SHA-256 of the description the invoice commits to (BOLT11 `h`), if it does. */
  descriptionHash: string | undefined;
}

/** The invoice network name (from its bech32 prefix) of each network tipd runs on. */
export const invoiceNetworkOf: Record<Network, string> = {
  mainnet: 'bitcoin',
  testnet: 'testnet',
  testnet4: 'testnet',
  signet: 'signet',
  regtest: 'regtest',
};

/** `undefined` when `request` is not a valid BOLT11 payment request. */
export function decodeInvoice(request: string): DecodedInvoice | undefined {
  try {
    const normalised = request
      .trim()
      .toLowerCase()
      .replace(/^lightning:/, '');
    const parsed = parsePaymentRequest({ request: normalised });
    const amountMsat = parsed.mtokens && parsed.mtokens !== '0' ? BigInt(parsed.mtokens) : undefined;
    return {
      request: normalised,
      paymentHash: parsed.id,
      payee: parsed.destination,
      amountMsat,
      expiresAt: new Date(parsed.expires_at),
      network: parsed.network,
      descriptionHash: parsed.description_hash,
    };
  } catch {
    return undefined;
  }
}
