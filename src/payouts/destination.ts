// Where a claimed handle's escrow is paid: its payout destination. Today there is one kind, a
// Lightning node paid by keysend; another (a Lightning Address) is one more case of the union here,
// with how a claim's challenge names it, how tipd checks that it can pay it, and how a payout is
// sent to it. Bindings, claims and payouts store a destination as its own fields (`nodePubkey`,
// as they always have), and it is read back from them.
import { isSignedBy, signaturePattern } from '../claims/signature.ts';
import { Refusal } from '../errors.ts';
import type { Lnd, PaymentState } from '../ln/lnd.ts';

export type Destination = { type: 'node'; nodePubkey: string };

/** A destination's fields as records store them. */
export type StoredDestination = { nodePubkey: string };

/** The destination a binding, a claim or a payout record names. */
export const destinationOf = (stored: StoredDestination): Destination => ({ type: 'node', nodePubkey: stored.nodePubkey });

/** What a record stores of `destination`. */
export function storedFieldsOf(destination: Destination): StoredDestination {
  switch (destination.type) {
    case 'node':
      return { nodePubkey: destination.nodePubkey };
  }
}

/** How a claim's challenge message names it: what the creator signs. */
export function challengeWords(destination: Destination): string {
  switch (destination.type) {
    case 'node':
      return `node ${destination.nodePubkey}`;
  }
}

/** What a claim's tweet must carry beside the claim id, as its template shows it. */
export function tweetProofHint(destination: Destination): string {
  switch (destination.type) {
    case 'node':
      return 'sig <signature>';
  }
}

/**
 * The proof, in a claim's tweet, that its author controls `destination`; undefined if there is
 * none. For a node: a signature of the challenge message that recovers to the node's key.
 */
export function proofIn(destination: Destination, message: string, tweetText: string): string | undefined {
  switch (destination.type) {
    case 'node':
      return (tweetText.match(signaturePattern) ?? []).find((candidate) => isSignedBy(message, candidate, destination.nodePubkey));
  }
}

/** A payout that must find its way for a destination to be accepted: the minimum payout, under its fee cap. */
export interface Probe {
  amountMsat: bigint;
  feeCapMsat: bigint;
}

/** Refuses a destination tipd could not pay: for a node, unknown to the hub's graph, without keysend, or without a route. */
export async function checkPayable(lnd: Lnd, destination: Destination, probe: Probe): Promise<void> {
  switch (destination.type) {
    case 'node': {
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
  }
}

/**
 * Sends a payout: for a node, a keysend carrying `preimage` (chosen and recorded by the caller
 * before this call), its routing fee capped at `maxFeeMsat`.
 */
export function send(lnd: Lnd, destination: Destination, payment: { amountMsat: bigint; maxFeeMsat: bigint; preimage: Buffer }): Promise<PaymentState> {
  switch (destination.type) {
    case 'node':
      return lnd.keysend({ destination: destination.nodePubkey, ...payment });
  }
}
