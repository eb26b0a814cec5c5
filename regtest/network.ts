// The Lightning network of the regtest stack, whatever the chain backend: fund each LND wallet,
// open the channels of the topology, and wait until the hub sees the creators' nodes announced
// with keysend and can route to them. Used by the local stack (btcd) and docker-compose's init
// step (bitcoind), so both networks are the same.
import type { Lncli } from './lncli.ts';
import { waitFor } from './procs.ts';
import { channels, nodeNames, type NodeName } from './topology.ts';

/** What the network setup needs from a chain backend. */
export interface Chain {
  mine(blocks: number): Promise<void>;
  /** Pays `count` outputs of `sat` each to `address`, in one transaction. */
  send(address: string, sat: number, count: number): Promise<void>;
  mempoolSize(): Promise<number>;
  bestBlockHash(): Promise<string>;
}

export type Clis = Record<NodeName, Lncli>;
type Step = (message: string) => void;

const utxosPerWallet = 4;
const utxoSat = 100_000_000;

/**
 * Waits until every node answers and is synced to the chain's tip; returns their pubkeys.
 * `assertRunning` may throw to stop waiting for a node that has died.
 */
export async function waitForNodes(chain: Chain, cli: Clis, assertRunning: (name: NodeName) => void = () => {}): Promise<Record<NodeName, string>> {
  const bestHash = await chain.bestBlockHash();
  const entries = await Promise.all(
    nodeNames.map(async (name) => {
      const info = await waitFor(`${name} to sync`, async () => {
        assertRunning(name);
        const i = await cli[name].call<{ synced_to_chain: boolean; block_hash: string; identity_pubkey: string }>('getinfo');
        return i.synced_to_chain && i.block_hash === bestHash ? i : undefined;
      });
      return [name, info.identity_pubkey] as const;
    }),
  );
  return Object.fromEntries(entries) as Record<NodeName, string>;
}

/** A channel to `peer`, open or still pending. */
async function hasChannel(cli: Lncli, peer: string): Promise<boolean> {
  const open = await cli.call<{ channels: { remote_pubkey: string }[] }>('listchannels');
  const pending = await cli.call<{ pending_open_channels: { channel: { remote_node_pub: string } }[] }>('pendingchannels');
  return open.channels.some((c) => c.remote_pubkey === peer) || pending.pending_open_channels.some((c) => c.channel.remote_node_pub === peer);
}

/** `peerHost` tells where a node's peers reach it (host:port). */
export async function openNetwork(chain: Chain, cli: Clis, pubkeys: Record<NodeName, string>, peerHost: (name: NodeName) => string, step: Step): Promise<void> {
  // Several UTXOs per wallet, so channel opens never wait for change to confirm. A wallet that
  // has funds already (a setup run again after it stopped half-way) gets none.
  const funded = async (name: NodeName) => {
    const b = await cli[name].call<{ total_balance: string }>('walletbalance');
    return BigInt(b.total_balance) > 0n;
  };
  for (const name of nodeNames) {
    if (await funded(name)) continue;
    const { address } = await cli[name].call<{ address: string }>('newaddress', 'p2wkh');
    await chain.send(address, utxoSat, utxosPerWallet);
  }
  await chain.mine(1);
  await Promise.all(
    nodeNames.map((name) =>
      waitFor(`${name}'s wallet to see its funds`, async () => {
        const b = await cli[name].call<{ confirmed_balance: string; unconfirmed_balance: string }>('walletbalance');
        return BigInt(b.confirmed_balance) > 0n && BigInt(b.unconfirmed_balance) === 0n ? true : undefined;
      }),
    ),
  );
  step('wallets funded');

  let opened = 0;
  for (const ch of channels) {
    if (await hasChannel(cli[ch.from], pubkeys[ch.to])) continue;
    const peers = await cli[ch.from].call<{ peers: { pub_key: string }[] }>('listpeers');
    if (!peers.peers.some((p) => p.pub_key === pubkeys[ch.to])) await cli[ch.from].call('connect', `${pubkeys[ch.to]}@${peerHost(ch.to)}`);
    await cli[ch.from].call('openchannel', `--node_key=${pubkeys[ch.to]}`, `--local_amt=${ch.capacitySat}`, `--push_amt=${ch.pushSat}`);
    opened += 1;
  }
  await waitFor('channel funding transactions in the mempool', async () => ((await chain.mempoolSize()) >= opened ? true : undefined));
  // Six confirmations: channels are announced only then.
  await chain.mine(6);
  await Promise.all(
    channels.map((ch) =>
      waitFor(`channel ${ch.from} → ${ch.to} to be active`, async () => {
        const { channels: open } = await cli[ch.from].call<{ channels: { remote_pubkey: string }[] }>('listchannels', '--active_only');
        return open.some((c) => c.remote_pubkey === pubkeys[ch.to]) ? true : undefined;
      }),
    ),
  );
  step('channels open and active');

  // The hub must see the creators' nodes announced with keysend, and a route to each.
  for (const creator of ['carol', 'dave'] as const) {
    await waitFor(
      `the hub to see ${creator} announced with keysend and a route to it`,
      async () => {
        const node = await cli.hub.call<{ node: { features: Record<string, { name: string }> } }>('getnodeinfo', `--pub_key=${pubkeys[creator]}`);
        if (!Object.values(node.node.features).some((f) => f.name === 'keysend')) return undefined;
        await cli.hub.call('queryroutes', `--dest=${pubkeys[creator]}`, '--amt=1000');
        return true;
      },
      180_000,
      500,
    );
  }
  step('channels announced; the hub routes to carol and dave');
}

/** The macaroon tipd runs with: just the permissions it needs, nothing on-chain. */
export const tipdPermissions = ['info:read', 'invoices:read', 'invoices:write', 'offchain:read', 'offchain:write', 'message:read', 'message:write'];
