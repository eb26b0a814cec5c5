// The regtest chain: btcd's JSON-RPC (over TLS with its own certificate) and a miner wallet.
// btcd mines only to the --miningaddr fixed at start and has no wallet, so the stack mines to a key
// of its own and pays the LND wallets from the coinbase outputs with transactions signed here,
// as lnd's own test harness does with its in-memory miner wallet.
import https from 'node:https';
import fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import * as bitcoin from 'bitcoinjs-lib';
import * as secp from '@noble/secp256k1';
import type { Chain } from './network.ts';
import { backends } from './topology.ts';

const { rpcUser, rpcPass } = backends.btcd;

export class BtcdRpc {
  readonly #ca: Buffer;
  readonly #port: number;
  constructor(certPath: string, port: number) {
    this.#ca = fs.readFileSync(certPath);
    this.#port = port;
  }

  call<T>(method: string, params: unknown[] = []): Promise<T> {
    const body = JSON.stringify({ jsonrpc: '1.0', id: 1, method, params });
    return new Promise((resolve, reject) => {
      const req = https.request(
        {
          host: '127.0.0.1',
          port: this.#port,
          method: 'POST',
          ca: this.#ca,
          auth: `${rpcUser}:${rpcPass}`,
          headers: { 'content-type': 'application/json' },
          timeout: 30_000,
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => {
            try {
              const reply = JSON.parse(text) as { result: T; error: { message: string } | null };
              if (reply.error) reject(new Error(`btcd ${method}: ${reply.error.message}`));
              else resolve(reply.result);
            } catch {
              reject(new Error(`btcd ${method}: HTTP ${res.statusCode} ${text.slice(0, 200)}`));
            }
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`btcd ${method}: timed out`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  generate(blocks: number): Promise<string[]> {
    return this.call<string[]>('generate', [blocks]);
  }

  async height(): Promise<number> {
    return this.call<number>('getblockcount');
  }

  async bestBlockHash(): Promise<string> {
    return this.call<string>('getbestblockhash');
  }
}

/** A key that btcd mines to; its coinbase outputs fund the LND wallets. */
export class MinerWallet {
  readonly #secretKey: Uint8Array;
  readonly #publicKey: Uint8Array;
  readonly address: string;
  readonly #script: Uint8Array;

  constructor(secretKeyHex?: string) {
    this.#secretKey = secretKeyHex ? Buffer.from(secretKeyHex, 'hex') : secp.utils.randomSecretKey();
    this.#publicKey = secp.getPublicKey(this.#secretKey, true);
    const payment = bitcoin.payments.p2wpkh({ pubkey: this.#publicKey, network: bitcoin.networks.regtest });
    this.address = payment.address!;
    this.#script = payment.output!;
  }

  get secretKeyHex(): string {
    return Buffer.from(this.#secretKey).toString('hex');
  }

  /**
   * Spends the coinbase output of block `height` (which must be mature and unspent) to the given
   * outputs, the change back to the miner, and broadcasts it. Returns the txid.
   */
  async payFromCoinbase(rpc: BtcdRpc, height: number, outputs: { address: string; sat: number }[]): Promise<string> {
    const blockHash = await rpc.call<string>('getblockhash', [height]);
    const block = await rpc.call<{ tx: string[] }>('getblock', [blockHash, 1]);
    const coinbaseTxid = block.tx[0]!;
    const coinbase = await rpc.call<{ vout: { value: number; n: number; scriptPubKey: { hex: string } }[] }>('getrawtransaction', [coinbaseTxid, 1]);
    const ours = coinbase.vout.find((o) => o.scriptPubKey.hex === Buffer.from(this.#script).toString('hex'));
    if (!ours) throw new Error(`coinbase of block ${height} does not pay the miner`);
    // JSON-RPC gives BTC as a decimal number; a coinbase amount has at most 8 decimals.
    const inputSat = BigInt(Math.round(ours.value * 1e8));
    const feeSat = 10_000n;
    const paidSat = outputs.reduce((sum, o) => sum + BigInt(o.sat), 0n);
    const changeSat = inputSat - paidSat - feeSat;
    if (changeSat < 0n) throw new Error(`coinbase of block ${height} holds ${inputSat} sat, not enough`);

    const psbt = new bitcoin.Psbt({ network: bitcoin.networks.regtest });
    psbt.addInput({ hash: coinbaseTxid, index: ours.n, witnessUtxo: { script: this.#script, value: inputSat } });
    for (const o of outputs) psbt.addOutput({ address: o.address, value: BigInt(o.sat) });
    if (changeSat > 0n) psbt.addOutput({ address: this.address, value: changeSat });
    await psbt.signAllInputsAsync({
      publicKey: this.#publicKey,
      sign: (hash: Uint8Array) => secp.signAsync(hash, this.#secretKey, { prehash: false, extraEntropy: randomBytes(32) }),
    });
    psbt.finalizeAllInputs();
    return rpc.call<string>('sendrawtransaction', [psbt.extractTransaction().toHex()]);
  }
}

/** The btcd side of the stack as a Chain: mines to the miner key, pays from its coinbases in turn. */
export class BtcdChain implements Chain {
  readonly #rpc: BtcdRpc;
  readonly #miner: MinerWallet;
  #nextCoinbaseHeight = 1;
  constructor(rpc: BtcdRpc, miner: MinerWallet) {
    this.#rpc = rpc;
    this.#miner = miner;
  }
  async mine(blocks: number): Promise<void> {
    await this.#rpc.generate(blocks);
  }
  async send(address: string, sat: number, count: number): Promise<void> {
    await this.#miner.payFromCoinbase(
      this.#rpc,
      this.#nextCoinbaseHeight++,
      Array.from({ length: count }, () => ({ address, sat })),
    );
  }
  async mempoolSize(): Promise<number> {
    return (await this.#rpc.call<string[]>('getrawmempool')).length;
  }
  bestBlockHash(): Promise<string> {
    return this.#rpc.bestBlockHash();
  }
}
