// The local regtest stack: btcd, four LND nodes (hub, alice, carol, dave) with funded, announced
// channels, and tipd on the hub. `up` returns at once when all of it is already healthy; otherwise
// it ends whatever a previous run left behind and builds the stack afresh in its data folder.
// `down` stops every process it started. stack.json describes the running stack to tests and users.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BtcdChain, BtcdRpc, MinerWallet } from './btcd.ts';
import { Lncli, lndPaths } from './lncli.ts';
import { openNetwork, tipdPermissions, waitForNodes, type Clis } from './network.ts';
import { isOurs, portInUse, readPids, startDaemon, stopAll, waitFor } from './procs.ts';
import { activationBlocks, backends, lndCommonFlags, lndNodes, nodeNames, tipdPort, type NodeName } from './topology.ts';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const defaultDataDir = path.resolve(process.env.TIPD_REGTEST_DIR ?? path.join(repoRoot, '.regtest'));

export interface StackNode {
  socket: string;
  cert: string;
  macaroon: string;
  pubkey: string;
  p2p: string;
  lncli: string;
}

export interface Stack {
  dataDir: string;
  network: 'regtest';
  binDir: string;
  nodes: Record<NodeName, StackNode>;
  btcd: { rpc: string; user: string; pass: string; cert: string; btcctl: string };
  tipd: { url: string; adminToken: string; macaroon: string; dataDir: string; log: string };
  logs: string;
}

export const stackFile = (dataDir: string) => path.join(dataDir, 'stack.json');

export function readStack(dataDir = defaultDataDir): Stack | undefined {
  try {
    return JSON.parse(fs.readFileSync(stackFile(dataDir), 'utf8')) as Stack;
  } catch {
    return undefined;
  }
}

type Log = (message: string) => void;
const stderrLog: Log = (m) => process.stderr.write(`${m}\n`);

/** True when every process of the stack runs and tipd reports healthy. */
export async function isUp(dataDir = defaultDataDir): Promise<Stack | undefined> {
  const stack = readStack(dataDir);
  if (!stack) return undefined;
  const procs = readPids(dataDir);
  const expected = ['btcd', ...nodeNames, 'tipd'];
  if (!expected.every((name) => procs.some((p) => p.name === name && isOurs(p)))) return undefined;
  try {
    const res = await fetch(`${stack.tipd.url}/healthz`, { signal: AbortSignal.timeout(5_000) });
    return res.ok ? stack : undefined;
  } catch {
    return undefined;
  }
}

export async function down(dataDir = defaultDataDir, log: Log = stderrLog): Promise<void> {
  await stopAll(dataDir, (name) => log(`[regtest] stopping ${name}`));
  fs.rmSync(stackFile(dataDir), { force: true });
}

async function buildDaemons(log: Log): Promise<string> {
  log('[regtest] making sure the daemons are built (regtest/build.sh)');
  const child = execFile('bash', [path.join(repoRoot, 'regtest/build.sh')], { maxBuffer: 1 << 20 });
  child.stderr?.pipe(process.stderr);
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`regtest/build.sh failed (exit ${code})`);
  return out.trim().split('\n').pop()!;
}

export async function up(dataDir = defaultDataDir, log: Log = stderrLog): Promise<Stack> {
  const started = Date.now();
  const step = (m: string) => log(`[regtest ${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s] ${m}`);

  const running = await isUp(dataDir);
  if (running) {
    step(`already up (${stackFile(dataDir)})`);
    return running;
  }
  if (readPids(dataDir).some(isOurs)) step('a previous stack is partly running; stopping it first');
  await stopAll(dataDir, (name) => step(`stopping leftover ${name}`));

  const ports = [backends.btcd.rpcPort, backends.btcd.p2pPort, tipdPort, ...nodeNames.flatMap((n) => [lndNodes[n].grpcPort, lndNodes[n].p2pPort])];
  for (const port of ports) {
    if (await portInUse(port)) throw new Error(`port ${port} on 127.0.0.1 is in use by another program; the regtest stack needs ports ${ports.join(', ')}`);
  }

  const binDir = await buildDaemons(log);
  fs.rmSync(dataDir, { recursive: true, force: true });
  fs.mkdirSync(dataDir, { recursive: true });

  // btcd, mining to the stack's own key.
  const miner = new MinerWallet();
  const btcdDir = path.join(dataDir, 'btcd');
  const rpcCert = path.join(btcdDir, 'rpc.cert');
  const { rpcUser, rpcPass, rpcPort, p2pPort } = backends.btcd;
  startDaemon(dataDir, 'btcd', path.join(binDir, 'btcd'), [
    '--regtest',
    `--datadir=${btcdDir}/data`,
    `--logdir=${btcdDir}/logs`,
    `--rpccert=${rpcCert}`,
    `--rpckey=${path.join(btcdDir, 'rpc.key')}`,
    `--rpcuser=${rpcUser}`,
    `--rpcpass=${rpcPass}`,
    `--rpclisten=127.0.0.1:${rpcPort}`,
    `--listen=127.0.0.1:${p2pPort}`,
    `--miningaddr=${miner.address}`,
    '--txindex',
    '--nobanning',
    '--trickleinterval=100ms',
  ]);
  const rpc = await waitFor('btcd RPC', async () => {
    if (!fs.existsSync(rpcCert)) return undefined;
    const client = new BtcdRpc(rpcCert);
    await client.height();
    return client;
  }, 60_000);
  step('btcd started');
  await rpc.generate(activationBlocks);
  step(`mined ${activationBlocks} blocks`);

  // The LND nodes, in parallel.
  const cli = Object.fromEntries(nodeNames.map((n) => [n, new Lncli(path.join(binDir, 'lncli'), n, lndPaths(dataDir, n))])) as Clis;
  for (const name of nodeNames) {
    const { grpcPort, p2pPort: lndP2p } = lndNodes[name];
    startDaemon(dataDir, name, path.join(binDir, 'lnd'), [
      `--lnddir=${lndPaths(dataDir, name).dir}`,
      `--alias=${name}`,
      `--rpclisten=127.0.0.1:${grpcPort}`,
      `--listen=127.0.0.1:${lndP2p}`,
      ...lndCommonFlags,
      ...backends.btcd.lndFlags(rpcCert),
    ]);
  }
  const chain = new BtcdChain(rpc, miner);
  const pubkeys = await waitForNodes(chain, cli);
  step('LND nodes started and synced');
  await openNetwork(chain, cli, pubkeys, step);

  // tipd on the hub, with a macaroon baked for just what it needs.
  const tipdDir = path.join(dataDir, 'tipd');
  fs.mkdirSync(tipdDir, { recursive: true });
  const tipdMacaroon = path.join(tipdDir, 'tipd.macaroon');
  await cli.hub.text('bakemacaroon', `--save_to=${tipdMacaroon}`, ...tipdPermissions);
  const stack: Stack = {
    dataDir,
    network: 'regtest',
    binDir,
    nodes: Object.fromEntries(
      nodeNames.map((name) => {
        const p = lndPaths(dataDir, name);
        return [name, { socket: p.socket, cert: p.cert, macaroon: p.macaroon, pubkey: pubkeys[name], p2p: `127.0.0.1:${lndNodes[name].p2pPort}`, lncli: cli[name].commandLine }];
      }),
    ) as Record<NodeName, StackNode>,
    btcd: {
      rpc: `127.0.0.1:${rpcPort}`,
      user: rpcUser,
      pass: rpcPass,
      cert: rpcCert,
      btcctl: `${path.join(binDir, 'btcctl')} --rpcserver=127.0.0.1:${rpcPort} --rpcuser=${rpcUser} --rpcpass=${rpcPass} --rpccert=${rpcCert}`,
    },
    tipd: { url: `http://127.0.0.1:${tipdPort}`, adminToken: randomBytes(32).toString('hex'), macaroon: tipdMacaroon, dataDir: tipdDir, log: path.join(dataDir, 'logs/tipd.log') },
    logs: path.join(dataDir, 'logs'),
  };
  fs.writeFileSync(path.join(dataDir, 'miner.json'), JSON.stringify({ address: miner.address, secretKey: miner.secretKeyHex }));

  startDaemon(dataDir, 'tipd', process.execPath, [path.join(repoRoot, 'src/main.ts')], { ...process.env, ...tipdEnv(stack, stack.nodes.hub, tipdMacaroon, tipdPort, tipdDir) });
  await waitFor('tipd to report healthy', async () => {
    const res = await fetch(`${stack.tipd.url}/healthz`, { signal: AbortSignal.timeout(5_000) });
    return res.ok ? true : undefined;
  }, 60_000);
  fs.writeFileSync(stackFile(dataDir), `${JSON.stringify(stack, null, 2)}\n`);
  step(`up: tipd healthy at ${stack.tipd.url}`);
  return stack;
}

/** The environment that points a tipd at an LND node of the stack. */
export function tipdEnv(stack: Stack, node: StackNode, macaroon: string, port: number, dataDir: string): Record<string, string> {
  return {
    TIPD_NETWORK: stack.network,
    TIPD_HOST: '127.0.0.1',
    TIPD_PORT: String(port),
    TIPD_DATA_DIR: dataDir,
    TIPD_LND_SOCKET: node.socket,
    TIPD_LND_CERT_PATH: node.cert,
    TIPD_LND_MACAROON_PATH: macaroon,
    TIPD_ADMIN_TOKEN: stack.tipd.adminToken,
  };
}
