// The check of a wallet's answer to a login challenge (LUD-04): `sig` is a DER-encoded secp256k1
// signature of the 32 bytes of `k1` themselves (no prefix, no hashing) by `key`, the wallet's
// linking key for this host, a compressed public key. All three arrive as hex in a query string.
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { Refusal } from '../errors.ts';

/** A DER signature is at most 72 bytes; the shortest possible is 8. */
const sigHex = /^(?:[0-9a-f]{2}){8,72}$/;
const keyHex = /^0[23][0-9a-f]{64}$/;
const k1Hex = /^[0-9a-f]{64}$/;

/** The wallet's answer, hex lowercased: the same key is then always the same string in the store. */
export interface LoginSignature {
  k1: string;
  sig: string;
  key: string;
}

/** `input` lowercased, if each field has the form it must have; a refusal naming the field otherwise. */
export function loginSignatureOf(input: LoginSignature): LoginSignature {
  const k1 = input.k1.toLowerCase();
  const sig = input.sig.toLowerCase();
  const key = input.key.toLowerCase();
  if (!k1Hex.test(k1)) throw new Refusal('lnurl_auth_malformed', 'k1 must be 32 bytes in hex');
  if (!keyHex.test(key)) throw new Refusal('lnurl_auth_malformed', 'key must be a compressed secp256k1 public key in hex (33 bytes)');
  if (!sigHex.test(sig)) throw new Refusal('lnurl_auth_malformed', 'sig must be a DER signature in hex (8 to 72 bytes)');
  return { k1, sig, key };
}

/** Refuses unless `sig` is a signature of `k1` by `key` (each already in the form `loginSignatureOf` checks). */
export function checkLoginSignature({ k1, sig, key }: LoginSignature): void {
  const keyBytes = Buffer.from(key, 'hex');
  const sigBytes = Buffer.from(sig, 'hex');
  try {
    secp256k1.Point.fromBytes(keyBytes);
  } catch {
    throw new Refusal('lnurl_auth_malformed', 'key is not a point of secp256k1');
  }
  try {
    secp256k1.Signature.fromBytes(sigBytes, 'der');
  } catch {
    throw new Refusal('lnurl_auth_malformed', 'sig is not a DER-encoded signature');
  }
  // A high-S signature is as good a proof as its low-S twin: k1 is single use, so malleability
  // gains nothing, and some wallets' libraries do not normalise S.
  const valid = secp256k1.verify(sigBytes, Buffer.from(k1, 'hex'), keyBytes, { prehash: false, format: 'der', lowS: false });
  if (!valid) throw new Refusal('lnurl_auth_bad_signature');
}
