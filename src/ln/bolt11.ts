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

export type InvoiceProblem = 'invalid_payment_request' | 'amount_missing' | 'invoice_expired' | 'wrong_network' | 'own_invoice' | 'invoice_already_used';

/**
 * Time an invoice must still have before it expires to be paid out to. Paying takes a while (the
 * writer's queue, LND's pathfinding, each hop's HTLC), and an invoice that expires on the way fails
 * after its withdrawal was held (and, by LNURL, after its link was used): so one about to expire is
 * refused before anything is written, and the wallet asked for a fresh one.
 */
export const invoiceExpiryMarginMs = 60_000;

/** Why an invoice cannot be paid out to (a withdrawal's, or a Lightning Address's), or nothing. */
export function invoiceProblem(decoded: DecodedInvoice | undefined, context: { network: Network; hubPubkey: string; now: Date }): InvoiceProblem | undefined {
  if (!decoded) return 'invalid_payment_request';
  if (decoded.network !== invoiceNetworkOf[context.network]) return 'wrong_network';
  if (decoded.payee === context.hubPubkey) return 'own_invoice';
  if (decoded.amountMsat === undefined) return 'amount_missing';
  if (decoded.expiresAt.getTime() - context.now.getTime() < invoiceExpiryMarginMs) return 'invoice_expired';
  return undefined;
}
