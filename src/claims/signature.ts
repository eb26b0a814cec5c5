// LND's signed messages, checked by tipd itself: `lncli signmessage` signs the double SHA-256 of
// "Lightning Signed Message:" + the message with the node key, as a 65-byte recoverable signature
// in zbase32. Verifying is recovering the key and comparing it with the node that should have
// signed: recovery "succeeds" for any message, so the comparison is the check.
import { crypto } from 'bitcoinjs-lib';
import * as secp from '@noble/secp256k1';

const prefix = Buffer.from('Lightning Signed Message:', 'utf8');
const alphabet = 'ybndrfg8ejkmcpqxot1uwisza345h769';
/** 65 bytes in 5-bit letters. */
const signatureLength = 104;
/** A zbase32 signature as it may appear in a tweet: exactly 104 letters of the alphabet, alone. */
export const signaturePattern = new RegExp(`(?<![${alphabet}])[${alphabet}]{${signatureLength}}(?![${alphabet}])`, 'g');

export function zbase32Decode(text: string): Buffer | undefined {
  const bytes: number[] = [];
  let buffer = 0;
  let bits = 0;
  for (const letter of text) {
    const value = alphabet.indexOf(letter);
    if (value < 0) return undefined;
    buffer = ((buffer << 5) | value) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      bytes.push((buffer >> bits) & 0xff);
    }
  }
  return Buffer.from(bytes);
}

/** The digest LND signs for a message. */
const messageDigest = (message: string): Uint8Array => crypto.hash256(Buffer.concat([prefix, Buffer.from(message, 'utf8')]));

/** The compressed public key (hex) that made `signature` over `message`, or undefined if none can be recovered. */
export function recoverSigner(message: string, signature: string): string | undefined {
  const raw = signature.length === signatureLength ? zbase32Decode(signature) : undefined;
  if (!raw || raw.length < 65) return undefined;
  const header = raw[0]!;
  if (header < 27 || header > 34) return undefined;
  // [recovery id, R, S]: the recovered format of noble.
  const recovered = Buffer.concat([Buffer.from([(header - 27) & 3]), raw.subarray(1, 65)]);
  try {
    return Buffer.from(secp.recoverPublicKey(recovered, messageDigest(message), { prehash: false })).toString('hex');
  } catch {
    return undefined;
  }
}

export const isSignedBy = (message: string, signature: string, pubkey: string): boolean => recoverSigner(message, signature) === pubkey.toLowerCase();
