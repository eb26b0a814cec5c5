import { describe, expect, it } from 'vitest';
import { isSignedBy, recoverSigner, signaturePattern, zbase32Decode } from '../../src/claims/signature.ts';

// ../shared/REFERENCE.md §1: vectors of rust-lightning and CLN, in LND's signed-message format.
const vectors = [
  {
    message: 'is this compatible?',
    signature: 'rbgfioj114mh48d8egqx8o9qxqw4fmhe8jbeeabdioxnjk8z3t1ma1hu1fiswpakgucwwzwo6ofycffbsqusqdimugbh41n1g698hr9t',
    pubkey: '02b80cabdf82638aac86948e4c06e82064f547768dcef977677b9ea931ea75bab5',
  },
  {
    message: 'hi',
    signature: 'rnrphcjswusbacjnmmmrynh9pqip7sy5cx695h6mfu64iac6qmcmsd8xnsyczwmpqp9shqkth3h4jmkgyqu5z47jfn1q7gpxtaqpx4xg',
    pubkey: '02de60d194e1ca5947b59fe8e2efd6aadeabfb67f2e89e13ae1a799c1e08e4a43b',
  },
  {
    message: 'test message',
    signature: 'd9tibmnic9t5y41hg7hkakdcra94akas9ku3rmmj4ag9mritc8ok4p5qzefs78c9pqfhpuftqqzhydbdwfg7u6w6wdxcqpqn4sj4e73e',
    pubkey: '0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798',
  },
];

describe('LND signed messages', () => {
  it.each(vectors)('recovers the signer of "$message"', ({ message, signature, pubkey }) => {
    expect(recoverSigner(message, signature)).toBe(pubkey);
    expect(isSignedBy(message, signature, pubkey.toUpperCase())).toBe(true);
  });

  it.each(vectors)('does not take the signature of "$message" for another message or another key', ({ message, signature, pubkey }) => {
    expect(isSignedBy(`${message} `, signature, pubkey)).toBe(false);
    expect(isSignedBy(message, signature, vectors.find((v) => v.pubkey !== pubkey)!.pubkey)).toBe(false);
  });

  const good = vectors[0]!.signature;
  it.each([
    ['too short', good.slice(0, 103)],
    ['too long', `${good}y`],
    ['a letter outside zbase32', `${good.slice(0, 103)}0`],
    ['an impossible header byte', `y${good.slice(1)}`],
    ['empty', ''],
  ])('refuses a signature that is %s', (_what, signature) => {
    expect(recoverSigner(vectors[0]!.message, signature)).toBeUndefined();
  });

  it('decodes zbase32 bit for bit', () => {
    expect(zbase32Decode('yyyyyyyy')).toEqual(Buffer.alloc(5));
    expect(zbase32Decode('99999999')).toEqual(Buffer.alloc(5, 0xff));
    expect(zbase32Decode('ybndrfg8')).toEqual(Buffer.from([0x00, 0x44, 0x32, 0x14, 0xc7]));
    expect(zbase32Decode('l')).toBeUndefined();
  });

  it('finds a signature standing alone in a tweet, and nothing in a longer run of letters', () => {
    expect(`Claiming @carol, claim tipd-1 sig ${good} #tipd`.match(signaturePattern)).toEqual([good]);
    expect(`sig:${good}.`.match(signaturePattern)).toEqual([good]);
    expect(`sig ${good}y`.match(signaturePattern)).toBeNull();
  });
});
