// The one table of the regtest network: which nodes exist, their roles, ports and channels, the
// settings of each chain backend, and the ports of tipd and the local X API. The local stack (btcd, regtest/stack.ts) and docker-compose.yml
// (bitcoind, regtest/compose.ts) are both made from it, and tests/unit/compose.test.ts checks them.

export type NodeName = 'hub' | 'alice' | 'carol' | 'dave';

export interface LndNodeSpec {
  role: string;
  grpcPort: number;
  p2pPort: number;
}

/** Must match regtest/daemons/go.mod, which the local stack builds from (checked by a test). */
export const lndVersion = 'v0.21.3-beta';
export const lndImage = `lightninglabs/lnd:${lndVersion}`;

export const lndNodes: Record<NodeName, LndNodeSpec> = {
  hub: { role: 'the node tipd drives', grpcPort: 10101, p2pPort: 9801 },
  alice: { role: "a supporter's wallet", grpcPort: 10102, p2pPort: 9802 },
  carol: { role: "a creator's node", grpcPort: 10103, p2pPort: 9803 },
  dave: { role: 'a second creator, reachable only through carol', grpcPort: 10104, p2pPort: 9804 },
};

export const nodeNames = Object.keys(lndNodes) as NodeName[];

export interface ChannelSpec {
  from: NodeName;
  to: NodeName;
  capacitySat: number;
  /** Sats handed to the other side at open, so both directions have liquidity. */
  pushSat: number;
}

export const channels: ChannelSpec[] = [
  { from: 'alice', to: 'hub', capacitySat: 10_000_000, pushSat: 3_000_000 },
  { from: 'hub', to: 'carol', capacitySat: 10_000_000, pushSat: 3_000_000 },
  { from: 'carol', to: 'dave', capacitySat: 10_000_000, pushSat: 3_000_000 },
];

/** Flags every LND node gets, whatever the backend. All nodes accept keysend. */
export const lndCommonFlags = [
  '--bitcoin.regtest',
  '--noseedbackup',
  '--nobootstrap',
  '--accept-keysend',
  '--norest',
  '--debuglevel=info',
  // Gossip on regtest: spread announcements fast (lntest does the same).
  '--trickledelay=50',
  '--gossip.sub-batch-delay=5ms',
];

export const tipdPort = 8470;

/** The regtest stack's tipd serves https here too, with a certificate of the stack's own CA. */
export const tipdTlsPort = 8472;

/** The local X API (regtest/x-server.ts) that claim tweets are posted to and looked up on. */
export const xPort = 8471;

/**
 * The creator's wallet: a Lightning Address server tipd did not write (regtest/lightning-address.ts,
 * the `lnurl` package's server), over https on `port`, paying what it receives into `node`'s LND,
 * which it reaches over LND's REST API on `lndRestPort` (the only node with REST on).
 */
export const creatorAddress = {
  user: 'dave',
  node: 'dave' as NodeName,
  port: 8473,
  lndRestPort: 10204,
  /** Its maxSendable, as a custodial wallet's limit would be: larger escrows are paid out in several payouts. */
  maxSendableSat: 100_000,
};

/** Paths inside the docker-compose containers. */
export const composePaths = {
  lndDir: (name: NodeName) => `/lnd/${name}`,
  secretsDir: '/secrets',
};

/** Chain backends. Ports are published on the host's loopback under the same numbers. */
export const backends = {
  btcd: {
    rpcPort: 19334,
    p2pPort: 19444,
    rpcUser: 'tipd',
    rpcPass: 'tipd',
    lndFlags: (rpcCertPath: string, rpcPort: number) => [
      '--bitcoin.node=btcd',
      `--btcd.rpchost=127.0.0.1:${rpcPort}`,
      `--btcd.rpcuser=${backends.btcd.rpcUser}`,
      `--btcd.rpcpass=${backends.btcd.rpcPass}`,
      `--btcd.rpccert=${rpcCertPath}`,
    ],
  },
  bitcoind: {
    image: 'polarlightning/bitcoind:27.0',
    host: 'bitcoind',
    rpcPort: 18443,
    p2pPort: 18444,
    zmqBlockPort: 28332,
    zmqTxPort: 28333,
    rpcUser: 'tipd',
    rpcPass: 'tipd',
    lndFlags: () => [
      '--bitcoin.node=bitcoind',
      `--bitcoind.rpchost=${backends.bitcoind.host}:${backends.bitcoind.rpcPort}`,
      `--bitcoind.rpcuser=${backends.bitcoind.rpcUser}`,
      `--bitcoind.rpcpass=${backends.bitcoind.rpcPass}`,
      `--bitcoind.zmqpubrawblock=tcp://${backends.bitcoind.host}:${backends.bitcoind.zmqBlockPort}`,
      `--bitcoind.zmqpubrawtx=tcp://${backends.bitcoind.host}:${backends.bitcoind.zmqTxPort}`,
    ],
  },
} as const;

/** Blocks mined before funding: three BIP9 windows of 144 so segwit and taproot are active. */
export const activationBlocks = 450;
