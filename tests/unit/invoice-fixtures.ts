// BOLT11 invoices made and signed offline, for unit tests that decode real requests: any network,
// amount and expiry, paid to a node of the test's own key.
import { randomBytes } from 'node:crypto';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { createSignedRequest, createUnsignedRequest } from 'invoices';

const payeeKey = secp256k1.utils.randomSecretKey();
export const payeePubkey = Buffer.from(secp256k1.getPublicKey(payeeKey, true)).toString('hex');

/** A signed request of `network` (`regtest`, `bitcoin`, …) for `amountMsat` (none: any), from a random payment hash; a plain description, or one committed to by its hash. */
export function signedInvoice(options: { amountMsat?: bigint; network?: string; expiresAt?: Date; createdAt?: Date; descriptionHash?: string }): string {
  const createdAt = options.createdAt ?? new Date();
  const unsigned = createUnsignedRequest({
    id: randomBytes(32).toString('hex'),
    ...(options.amountMsat === undefined ? {} : { mtokens: options.amountMsat.toString() }),
    network: options.network ?? 'regtest',
    destination: payeePubkey,
    ...(options.descriptionHash ? { description_hash: options.descriptionHash } : { description: 'unit test' }),
    created_at: createdAt.toISOString(),
    expires_at: (options.expiresAt ?? new Date(createdAt.getTime() + 3600_000)).toISOString(),
    cltv_delta: 40,
    features: [{ bit: 9 }, { bit: 14 }],
    payment: randomBytes(32).toString('hex'),
  });
  const signature = secp256k1.sign(Buffer.from(unsigned.hash, 'hex'), payeeKey, { prehash: false, format: 'compact' });
  return createSignedRequest({ destination: payeePubkey, hrp: unsigned.hrp, signature: Buffer.from(signature).toString('hex'), tags: unsigned.tags }).request;
}
