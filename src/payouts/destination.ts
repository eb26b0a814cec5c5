// Where a claimed handle's escrow is paid: its payout destination, one of two kinds. A Lightning
// node, paid by keysend: the creator proves it by signing the claim's message with the node's key.
// A Lightning Address (LUD-16), paid through its LNURL-pay callback: the tweet itself is the proof,
// naming the address exactly. Each kind says here how a claim's challenge names it, what its tweet
// must carry, how tipd checks that it can pay it, and how a payout is prepared and sent. Bindings,
// claims and payouts store a destination as its own fields (`nodePubkey` or `lightningAddress`).
import { randomBytes, hash } from 'node:crypto';
import type { Network } from '../config.ts';
import { isSignedBy, signaturePattern } from '../claims/signature.ts';
import { Refusal } from '../errors.ts';
import { notAsStored } from '../ledger/records.ts';
import type { Lnd, PaymentState } from '../ln/lnd.ts';
import { checkInvoice, type DescriptionCheck, type LightningAddresses, type PayRequest } from '../lnurl/address.ts';

export type Destination = { type: 'node'; nodePubkey: string } | { type: 'lightning_address'; address: string };

/** A destination's fields as records store them: exactly one of the two. */
export type StoredDestination = { nodePubkey?: string | undefined; lightningAddress?: string | undefined };

/** The destination a binding, a claim or a payout record names. */
export function destinationOf(stored: StoredDestination): Destination {
  if (stored.lightningAddress !== undefined && stored.nodePubkey === undefined) return { type: 'lightning_address', address: stored.lightningAddress };
  if (stored.nodePubkey !== undefined && stored.lightningAddress === undefined) return { type: 'node', nodePubkey: stored.nodePubkey };
  throw notAsStored('a destination', 'a node or a Lightning Address');
}

/** What a record stores of `destination`. */
export function storedFieldsOf(destination: Destination): { nodePubkey: string } | { lightningAddress: string } {
  switch (destination.type) {
    case 'node':
      return { nodePubkey: destination.nodePubkey };
    case 'lightning_address':
      return { lightningAddress: destination.address };
  }
}

/** How a claim's challenge message names it. */
export function challengeWords(destination: Destination): string {
  switch (destination.type) {
    case 'node':
      return `node ${destination.nodePubkey}`;
    case 'lightning_address':
      return `address ${destination.address}`;
  }
}

/** What a claim's tweet must carry beside the claim id, as its template shows it. */
export function tweetProofHint(destination: Destination): string {
  switch (destination.type) {
    case 'node':
      return 'sig <signature>';
    case 'lightning_address':
      return `address ${destination.address}`;
  }
}

/**
 * Lightning Addresses as a tweet may write them (a port only on a local stack), whole: not the
 * tail of a longer word (`аlice@…` with a Cyrillic а is not `lice@…`).
 */
const addressesInText = /(?<![\p{L}\p{N}._+-])[a-z0-9._+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*(?::\d{1,5})?(?![\p{L}\p{N}_-])/giu;

/**
 * The proof, in a claim's tweet, that its author claims `destination`; undefined if there is
 * none. For a node: a signature of the challenge message that recovers to the node's key. For a
 * Lightning Address: the tweet, from the handle, names exactly that address, and no other
 * (`address_mismatch` when it names another).
 */
export function proofIn(destination: Destination, message: string, tweetText: string): string | undefined {
  switch (destination.type) {
    case 'node':
      return (tweetText.match(signaturePattern) ?? []).find((candidate) => isSignedBy(message, candidate, destination.nodePubkey));
    case 'lightning_address': {
      const named = [...new Set((tweetText.match(addressesInText) ?? []).map((a) => a.toLowerCase()))];
      if (named.length === 0) return undefined;
      if (named.length > 1 || named[0] !== destination.address)
        throw new Refusal('address_mismatch', `the tweet names ${named.join(', ')}, not the claimed ${destination.address}`);
      return destination.address;
    }
  }
}

/** A payout that must find its way for a destination to be accepted: the minimum payout, under its fee cap. */
export interface Probe {
  amountMsat: bigint;
  feeCapMsat: bigint;
}

/** What paying a destination needs: the hub's node, the client of other LNURL servers, and this tipd's own host. */
export interface Rails {
  lnd: Lnd;
  addresses: LightningAddresses;
  network: Network;
  /** The host of TIPD_PUBLIC_URL: its handles' Lightning Addresses would pay tipd itself. */
  ownHost?: string | undefined;
}

/**
 * Refuses a destination tipd could not pay. A node: unknown to the hub's graph, without keysend,
 * or without a route. An address: not resolving to a pay request, or one whose limits exclude the
 * minimum payout.
 */
export async function checkPayable(rails: Rails, destination: Destination, probe: Probe): Promise<void> {
  switch (destination.type) {
    case 'node': {
      const { lnd } = rails;
      const { nodePubkey } = destination;
      if (nodePubkey === (await lnd.ownPubkey())) throw new Refusal('own_node', 'nodePubkey is the node of this tipd itself');
      const node = await lnd.getNode(nodePubkey);
      if (!node || node.channelCount === 0) {
        throw new Refusal(
          'node_unreachable',
          'the hub does not know this node or any public channel of it; open a public channel and wait for it to be announced',
        );
      }
      if (!node.keysend) throw new Refusal('keysend_unsupported', 'the node does not advertise keysend; start LND with --accept-keysend');
      if (!(await lnd.hasRoute({ destination: nodePubkey, amountMsat: probe.amountMsat, maxFeeMsat: probe.feeCapMsat }))) {
        throw new Refusal(
          'node_unreachable',
          `the hub finds no route to this node for ${probe.amountMsat / 1000n} sat; it needs inbound liquidity from the network`,
        );
      }
      return;
    }
    case 'lightning_address': {
      if (rails.ownHost !== undefined && destination.address.endsWith(`@${rails.ownHost}`))
        throw new Refusal('address_invalid', "an address of this tipd's own handles pays tipd itself, not a creator");
      const payRequest = await rails.addresses.resolve(destination.address);
      if (payRequest.minSendableMsat > probe.amountMsat || payRequest.maxSendableMsat < probe.amountMsat)
        throw new Refusal(
          'address_limits',
          `${destination.address} takes ${payRequest.minSendableMsat / 1000n} to ${payRequest.maxSendableMsat / 1000n} sat; tipd's payouts start at ${probe.amountMsat / 1000n} sat`,
        );
      return;
    }
  }
}

/** A payout made ready to send, before anything is held: what its record keeps. */
export type Prepared =
  | { type: 'node'; amountMsat: bigint; preimage: Buffer; paymentHash: string }
  | {
      type: 'lightning_address';
      amountMsat: bigint;
      paymentHash: string;
      paymentRequest: string;
      expiresAt: Date;
      /** Whether the invoice committed to the address's metadata (LUD-06) or skipped it. */
      descriptionHash: DescriptionCheck;
      successMessage: string | null;
    };

/**
 * Makes a payout of at most `amountMsat` ready (no money held yet); `undefined` when the
 * destination takes no payout that small. A node: any amount, with a preimage tipd picks. An
 * address: whole sats within its limits (the rest waits for the next payout), and an invoice from
 * its callback, checked before it is ever recorded (see `checkInvoice`); a failure is a Refusal.
 */
export async function prepare(
  rails: Rails,
  destination: Destination,
  amountMsat: bigint,
  context: { comment: string; hubPubkey: string; now: Date },
): Promise<Prepared | undefined> {
  switch (destination.type) {
    case 'node': {
      const preimage = randomBytes(32);
      return { type: 'node', amountMsat, preimage, paymentHash: hash('sha256', preimage) };
    }
    case 'lightning_address': {
      const payRequest: PayRequest = await rails.addresses.resolve(destination.address);
      const capped = amountMsat < payRequest.maxSendableMsat ? amountMsat : payRequest.maxSendableMsat;
      const amount = capped - (capped % 1000n);
      if (amount <= 0n || amount < payRequest.minSendableMsat) return undefined;
      const invoice = await rails.addresses.invoice(payRequest, amount, context.comment);
      const checked = checkInvoice(invoice.paymentRequest, {
        amountMsat: amount,
        metadata: payRequest.metadata,
        network: rails.network,
        hubPubkey: context.hubPubkey,
        now: context.now,
      });
      // A hash this node has paid before: paying it again would find the old payment, not this one.
      if ((await rails.lnd.getPayment(checked.paymentHash)) !== undefined)
        throw new Refusal('address_bad_invoice', 'the address gave an invoice whose payment hash this node has paid before');
      return {
        type: 'lightning_address',
        amountMsat: amount,
        paymentHash: checked.paymentHash,
        paymentRequest: checked.request,
        expiresAt: checked.expiresAt,
        descriptionHash: checked.description,
        successMessage: invoice.successMessage,
      };
    }
  }
}

/** Sends a prepared payout, its routing fee capped at `maxFeeMsat`: a keysend, or the address's invoice. */
export function send(lnd: Lnd, destination: Destination, prepared: Prepared, maxFeeMsat: bigint): Promise<PaymentState> {
  switch (prepared.type) {
    case 'node': {
      if (destination.type !== 'node') throw new Error('a keysend payout for a destination that is no node');
      return lnd.keysend({ destination: destination.nodePubkey, amountMsat: prepared.amountMsat, maxFeeMsat, preimage: prepared.preimage });
    }
    case 'lightning_address':
      return lnd.payInvoice({ paymentRequest: prepared.paymentRequest, maxFeeMsat });
  }
}
