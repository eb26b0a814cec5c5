// The bitcoind side, for docker-compose's init step: JSON-RPC over plain HTTP inside the compose
// network, and a Chain that mines to and pays from bitcoind's own wallet.
import type { Chain } from './network.ts';
import { backends } from './topology.ts';

export class BitcoindChain implements Chain {
  readonly #url: string;
  readonly #auth: string;
  #address = '';

  constructor(host: string = backends.bitcoind.host) {
    const { rpcPort, rpcUser, rpcPass } = backends.bitcoind;
    this.#url = `http://${host}:${rpcPort}`;
    this.#auth = `Basic ${Buffer.from(`${rpcUser}:${rpcPass}`).toString('base64')}`;
  }

  async call<T>(method: string, params: unknown[] = [], path = ''): Promise<T> {
    const res = await fetch(`${this.#url}${path}`, {
      method: 'POST',
      headers: { authorization: this.#auth, 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '1.0', id: 1, method, params }),
      signal: AbortSignal.timeout(60_000),
    });
    const reply = (await res.json()) as { result: T; error: { message: string } | null };
    if (reply.error) throw new Error(`bitcoind ${method}: ${reply.error.message}`);
    return reply.result;
  }

  /** Creates or loads the miner wallet, and mines until the chain is `blocks` high. */
  async start(blocks: number): Promise<void> {
    const loaded = await this.call<string[]>('listwallets');
    if (!loaded.includes('miner')) {
      const { wallets } = await this.call<{ wallets: { name: string }[] }>('listwalletdir');
      await this.call(wallets.some((w) => w.name === 'miner') ? 'loadwallet' : 'createwallet', ['miner']);
    }
    this.#address = await this.call<string>('getnewaddress', [], '/wallet/miner');
    const height = await this.call<number>('getblockcount');
    if (height < blocks) await this.mine(blocks - height);
  }

  async mine(blocks: number): Promise<void> {
    await this.call('generatetoaddress', [blocks, this.#address]);
  }

  async send(address: string, sat: number, count: number): Promise<void> {
    // sendmany takes one amount per address; repeat the payment to get several outputs.
    const btc = `${Math.trunc(sat / 1e8)}.${String(sat % 1e8).padStart(8, '0')}`; // exact decimal, as bitcoind accepts
    for (let i = 0; i < count; i++) await this.call('sendtoaddress', [address, btc], '/wallet/miner');
  }

  async mempoolSize(): Promise<number> {
    return (await this.call<string[]>('getrawmempool')).length;
  }

  bestBlockHash(): Promise<string> {
    return this.call<string>('getbestblockhash');
  }
}
