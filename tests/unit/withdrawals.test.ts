// Which invoices a supporter may withdraw to, as a table.
import { describe, expect, it } from 'vitest';
import { invoiceProblem, type DecodedInvoice } from '../../src/ln/bolt11.ts';

const hubPubkey = `02${'aa'.repeat(32)}`;
const now = new Date('2026-11-24T12:00:00Z');
const good: DecodedInvoice = {
  request: 'lnbcrt1…',
  paymentHash: 'ab'.repeat(32),
  payee: `03${'bb'.repeat(32)}`,
  amountMsat: 5_000n,
  expiresAt: new Date('2026-11-24T13:00:00Z'),
  network: 'regtest',
  descriptionHash: undefined,
};

describe('invoices a withdrawal may pay', () => {
  it.each([
    { what: 'an invoice of another node, with an amount, not expired', invoice: good, network: 'regtest' as const, problem: undefined },
    { what: 'no invoice at all', invoice: undefined, network: 'regtest' as const, problem: 'invalid_payment_request' },
    { what: 'an invoice without an amount', invoice: { ...good, amountMsat: undefined }, network: 'regtest' as const, problem: 'amount_missing' },
    { what: 'an expired invoice', invoice: { ...good, expiresAt: now }, network: 'regtest' as const, problem: 'invoice_expired' },
    {
      what: 'an invoice expiring in 59 s',
      invoice: { ...good, expiresAt: new Date(now.getTime() + 59_000) },
      network: 'regtest' as const,
      problem: 'invoice_expired',
    },
    { what: 'an invoice expiring in 60 s', invoice: { ...good, expiresAt: new Date(now.getTime() + 60_000) }, network: 'regtest' as const, problem: undefined },
    { what: 'a mainnet invoice on regtest', invoice: { ...good, network: 'bitcoin' }, network: 'regtest' as const, problem: 'wrong_network' },
    { what: 'a regtest invoice on mainnet', invoice: good, network: 'mainnet' as const, problem: 'wrong_network' },
    { what: 'a signet invoice on testnet', invoice: { ...good, network: 'signet' }, network: 'testnet' as const, problem: 'wrong_network' },
    { what: 'a testnet invoice on testnet4 (same prefix)', invoice: { ...good, network: 'testnet' }, network: 'testnet4' as const, problem: undefined },
    { what: 'an invoice of the hub itself', invoice: { ...good, payee: hubPubkey }, network: 'regtest' as const, problem: 'own_invoice' },
  ])('$what → $problem', ({ invoice, network, problem }) => {
    expect(invoiceProblem(invoice, { network, hubPubkey, now })).toBe(problem);
  });
});
