// The local regtest stack: btcd, four LND nodes (hub, alice, carol, dave) with funded, announced
// channels, a local X API (regtest/x-server.ts), a creator's Lightning Address server backed by
// dave's LND (regtest/lightning-address.ts), and tipd on the hub, looking tweets up on the X API.
// `up` returns at once when all of it is already healthy; otherwise it ends whatever a previous run
// left behind and builds the stack afresh in its data folder. `down` stops every process it
// started. stack.json describes the running stack to tests and users.
import { execFile } from 'node:child_process';
import https from 'node:https';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BtcdChain, BtcdRpc, MinerWallet } from './btcd.ts';
import { Lncli, lndPaths, type LndPaths } from './lncli.ts';
import { openNetwork, tipdPermissions, waitForNodes, type Clis } from './network.ts';
import { GaveUp, isOurs, portInUse, readPids, startDaemon, stopAll, waitFor } from './procs.ts';
import { localTls } from './tls.ts';
import { activationBlocks, backends, creatorAddress, lndCommonFlags, lndNodes, nodeNames, tipdPort, tipdTlsPort, xPort, type NodeName } from './topology.ts';
import { nodeEnv, nodeFlags } from '../src/process/node-settings.ts';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface StackOptions {
  /** Where the stack keeps everything: node data, logs, pids, stack.json. */
  dataDir: string;
  /** Added to every port of the table, to run beside another stack or another program's ports. */
  portOffset: number;
}

/** TIPD_REGTEST_DIR (default .regtest/) and TIPD_REGTEST_PORT_OFFSET (default 0). */
export function stackOptions(env: NodeJS.ProcessEnv = process.env): StackOptions {
  const offset = env.TIPD_REGTEST_PORT_OFFSET ?? '0';
  if (!/^\d{1,5}$/.test(offset) || Number(offset) > 50_000)
    throw new Error(`TIPD_REGTEST_PORT_OFFSET must be a whole number from 0 to 50000 (got "${offset}")`);
  return { dataDir: path.resolve(env.TIPD_REGTEST_DIR || path.join(repoRoot, '.regtest')), portOffset: Number(offset) };
}

/** The loopback ports of a local stack: the table's, shifted by the offset. */
export function localPorts(offset: number) {
  return {
    btcdRpc: backends.btcd.rpcPort + offset,
    btcdP2p: backends.btcd.p2pPort + offset,
    tipd: tipdPort + offset,
    tipdTls: tipdTlsPort + offset,
    x: xPort + offset,
    address: creatorAddress.port + offset,
    addressLndRest: creatorAddress.lndRestPort + offset,
    lnd: Object.fromEntries(nodeNames.map((n) => [n, { grpc: lndNodes[n].grpcPort + offset, p2p: lndNodes[n].p2pPort + offset }])) as Record<
      NodeName,
      { grpc: number; p2p: number }
    >,
  };
}

/** Every port of a stack, to check they are free (and, in tests, that they are freed). */
export const allPortsOf = (ports: ReturnType<typeof localPorts>): number[] => [
  ports.btcdRpc,
  ports.btcdP2p,
  ports.tipd,
  ports.tipdTls,
  ports.x,
  ports.address,
  ports.addressLndRest,
  ...nodeNames.flatMap((n) => [ports.lnd[n].grpc, ports.lnd[n].p2p]),
];

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
  /**
   * `url` is plain HTTP; `publicUrl` is https with a certificate of the stack's own CA, `caCert` (a
   * PEM file: NODE_EXTRA_CA_CERTS=<caCert> for Node.js clients).
   */
  tipd: { url: string; publicUrl: string; caCert: string; adminToken: string; macaroon: string; dataDir: string; log: string };
  /** The local X API: post as `Authorization: Bearer user:<name>`; tipd looks up with appToken. */
  x: { url: string; appToken: string };
  /**
   * The creators' Lightning Addresses, served by a server tipd did not write (the `lnurl` package's)
   * over https with a certificate of the stack's CA; `node` is the stack node whose LND receives
   * what is paid to `address`.
   */
  lightningAddresses: { address: string; node: NodeName }[];
  logs: string;
}

export const stackFile = (dataDir: string) => path.join(dataDir, 'stack.json');

export function readStack(dataDir: string): Stack | undefined {
  try {
    return JSON.parse(fs.readFileSync(stackFile(dataDir), 'utf8')) as Stack;
  } catch {
    return undefined;
  }
}

type Log = (message: string) => void;
const stderrLog: Log = (m) => process.stderr.write(`${m}\n`);

const tipdHealthy = async (stack: Stack): Promise<boolean> => {
  try {
    return (await fetch(`${stack.tipd.url}/healthz`, { signal: AbortSignal.timeout(5_000) })).ok;
  } catch {
    return false;
  }
};

/**
 * The running stack, when every process of it runs and tipd reports healthy. A stack left idle
 * for hours has LND calling itself unsynced (its best block is too old): one block wakes it.
 */
export async function isUp(dataDir: string): Promise<Stack | undefined> {
  const stack = readStack(dataDir);
  // A stack started by an older tipd (no https) is made afresh.
  if (!stack?.tipd.publicUrl || !stack.lightningAddresses) return undefined;
  const procs = readPids(dataDir);
  const expected = ['btcd', ...nodeNames, 'x', 'lightning-address', 'tipd'];
  if (!expected.every((name) => procs.some((p) => p.name === name && isOurs(p)))) return undefined;
  if (await tipdHealthy(stack)) return stack;
  try {
    await new BtcdRpc(stack.btcd.cert, Number(stack.btcd.rpc.split(':')[1])).generate(1);
    return await waitFor('tipd to report healthy after a new block', async () => ((await tipdHealthy(stack)) ? stack : undefined), 30_000, 500);
  } catch {
    return undefined;
  }
}

const folderMarker = '.tipd-regtest';

/** `up` wipes its data folder: only one that is missing, empty, or made by `up` before. */
function assertOurFolder(dataDir: string): void {
  if (!fs.existsSync(dataDir)) return;
  const entries = fs.readdirSync(dataDir);
  if (entries.length === 0 || [folderMarker, 'pids.json', 'stack.json'].some((name) => entries.includes(name))) return;
  throw new Error(`${dataDir} is not empty and was not made by the regtest stack; refusing to wipe it (choose another TIPD_REGTEST_DIR)`);
}

/** Throws, ending any wait, when a daemon of the stack has exited; says what its log said last. */
function assertRunning(dataDir: string, name: string): void {
  const proc = readPids(dataDir).find((p) => p.name === name);
  if (proc && isOurs(proc)) return;
  const log = path.join(dataDir, 'logs', `${name}.log`);
  const last = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n').slice(-3).join('\n  ') : '(no log)';
  throw new GaveUp(`${name} exited; the end of ${log}:\n  ${last}`);
}

export async function down(dataDir: string, log: Log = stderrLog): Promise<void> {
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

export async function up({ dataDir, portOffset }: StackOptions, log: Log = stderrLog): Promise<Stack> {
  const started = Date.now();
  const step = (m: string) => log(`[regtest ${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s] ${m}`);

  const running = await isUp(dataDir);
  if (running) {
    step(`already up (${stackFile(dataDir)})`);
    return running;
  }
  if (readPids(dataDir).some(isOurs)) step('a previous stack is partly running; stopping it first');
  await stopAll(dataDir, (name) => step(`stopping leftover ${name}`));

  const ports = localPorts(portOffset);
  const allPorts = allPortsOf(ports);
  for (const port of allPorts) {
    if (await portInUse(port)) {
      throw new Error(
        `port ${port} on 127.0.0.1 is in use by another program; the regtest stack needs ports ${allPorts.join(', ')} (shift them with TIPD_REGTEST_PORT_OFFSET)`,
      );
    }
  }

  const binDir = await buildDaemons(log);
  assertOurFolder(dataDir);
  fs.rmSync(dataDir, { recursive: true, force: true });
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(dataDir, folderMarker), 'made by tipd regtest/stack.ts: `up` may wipe this folder\n');

  // btcd, mining to the stack's own key.
  const miner = new MinerWallet();
  const btcdDir = path.join(dataDir, 'btcd');
  const rpcCert = path.join(btcdDir, 'rpc.cert');
  const { rpcUser, rpcPass } = backends.btcd;
  startDaemon(dataDir, 'btcd', path.join(binDir, 'btcd'), [
    '--regtest',
    `--datadir=${btcdDir}/data`,
    `--logdir=${btcdDir}/logs`,
    `--rpccert=${rpcCert}`,
    `--rpckey=${path.join(btcdDir, 'rpc.key')}`,
    `--rpcuser=${rpcUser}`,
    `--rpcpass=${rpcPass}`,
    `--rpclisten=127.0.0.1:${ports.btcdRpc}`,
    `--listen=127.0.0.1:${ports.btcdP2p}`,
    `--miningaddr=${miner.address}`,
    '--txindex',
    '--nobanning',
    '--trickleinterval=100ms',
  ]);
  const rpc = await waitFor(
    'btcd RPC',
    async () => {
      assertRunning(dataDir, 'btcd');
      if (!fs.existsSync(rpcCert)) return undefined;
      const client = new BtcdRpc(rpcCert, ports.btcdRpc);
      await client.height();
      return client;
    },
    60_000,
  );
  step('btcd started');
  await rpc.generate(activationBlocks);
  step(`mined ${activationBlocks} blocks`);

  // The LND nodes, in parallel.
  const paths = Object.fromEntries(nodeNames.map((n) => [n, lndPaths(dataDir, n, `localhost:${ports.lnd[n].grpc}`)])) as Record<NodeName, LndPaths>;
  const cli = Object.fromEntries(nodeNames.map((n) => [n, new Lncli(path.join(binDir, 'lncli'), n, paths[n])])) as Clis;
  for (const name of nodeNames) {
    // The creator's Lightning Address server speaks to its LND over REST; the others keep REST off.
    const rest = name === creatorAddress.node ? [`--restlisten=127.0.0.1:${ports.addressLndRest}`] : ['--norest'];
    startDaemon(dataDir, name, path.join(binDir, 'lnd'), [
      `--lnddir=${paths[name].dir}`,
      `--alias=${name}`,
      `--rpclisten=127.0.0.1:${ports.lnd[name].grpc}`,
      `--listen=127.0.0.1:${ports.lnd[name].p2p}`,
      ...lndCommonFlags.filter((flag) => flag !== '--norest'),
      ...rest,
      ...backends.btcd.lndFlags(rpcCert, ports.btcdRpc),
    ]);
  }
  const chain = new BtcdChain(rpc, miner);
  const pubkeys = await waitForNodes(chain, cli, (name) => assertRunning(dataDir, name));
  step('LND nodes started and synced');
  await openNetwork(chain, cli, pubkeys, (name) => `127.0.0.1:${ports.lnd[name].p2p}`, step);

  // The local X API, before tipd, which is pointed at it. The token goes by environment, not by ps.
  const x = { url: `http://127.0.0.1:${ports.x}`, appToken: randomBytes(32).toString('hex') };
  const xDir = path.join(dataDir, 'x');
  fs.mkdirSync(xDir, { recursive: true });
  const xEnv = { PATH: process.env.PATH, X_APP_TOKEN: x.appToken };
  startDaemon(
    dataDir,
    'x',
    process.execPath,
    [path.join(repoRoot, 'regtest/x-server.ts'), '--port', String(ports.x), '--state', path.join(xDir, 'state.json')],
    xEnv,
  );
  await waitFor(
    'the local X API',
    async () => {
      assertRunning(dataDir, 'x');
      const res = await fetch(`${x.url}/2/tweets/1`, { headers: { authorization: `Bearer ${x.appToken}` }, signal: AbortSignal.timeout(5_000) });
      return res.ok ? true : undefined;
    },
    30_000,
  );
  step(`local X API at ${x.url}`);

  // The creator's Lightning Address server, over https with the stack's certificate, making its
  // invoices on the creator's LND with that LND's own invoice macaroon (it can do nothing else).
  const tls = await localTls(path.join(dataDir, 'tls'));
  const creator = paths[creatorAddress.node];
  const domain = `localhost:${ports.address}`;
  const lightningAddresses = [{ address: `${creatorAddress.user}@${domain}`, node: creatorAddress.node }];
  startDaemon(
    dataDir,
    'lightning-address',
    process.execPath,
    [
      path.join(repoRoot, 'regtest/lightning-address.ts'),
      '--port',
      String(ports.address),
      '--domain',
      domain,
      '--user',
      creatorAddress.user,
      '--max-sat',
      String(creatorAddress.maxSendableSat),
      '--lnd-rest',
      `127.0.0.1:${ports.addressLndRest}`,
      '--lnd-cert',
      creator.cert,
      '--lnd-macaroon',
      path.join(path.dirname(creator.macaroon), 'invoice.macaroon'),
      '--tls-cert',
      tls.cert,
      '--tls-key',
      tls.key,
    ],
    // lnurl logs each request and error through `debug`.
    { PATH: process.env.PATH, DEBUG: 'lnurl:*' },
  );
  await waitFor(
    "the creator's Lightning Address server",
    async () => {
      assertRunning(dataDir, 'lightning-address');
      const answer = await httpsJson(`https://${domain}/.well-known/lnurlp/${creatorAddress.user}`, tls.caCert);
      return answer.tag === 'payRequest' ? true : undefined;
    },
    30_000,
  );
  step(`Lightning Address ${lightningAddresses[0]!.address} (LNURL server on ${creatorAddress.node}'s LND)`);

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
        const p = paths[name];
        return [
          name,
          {
            socket: p.socket,
            cert: p.cert,
            macaroon: p.macaroon,
            pubkey: pubkeys[name],
            p2p: `127.0.0.1:${ports.lnd[name].p2p}`,
            lncli: cli[name].commandLine,
          },
        ];
      }),
    ) as Record<NodeName, StackNode>,
    btcd: {
      rpc: `127.0.0.1:${ports.btcdRpc}`,
      user: rpcUser,
      pass: rpcPass,
      cert: rpcCert,
      btcctl: `${path.join(binDir, 'btcctl')} --rpcserver=127.0.0.1:${ports.btcdRpc} --rpcuser=${rpcUser} --rpcpass=${rpcPass} --rpccert=${rpcCert}`,
    },
    tipd: {
      url: `http://127.0.0.1:${ports.tipd}`,
      publicUrl: `https://localhost:${ports.tipdTls}`,
      caCert: tls.caCert,
      adminToken: randomBytes(32).toString('hex'),
      macaroon: tipdMacaroon,
      dataDir: tipdDir,
      log: path.join(dataDir, 'logs/tipd.log'),
    },
    x,
    lightningAddresses,
    logs: path.join(dataDir, 'logs'),
  };
  fs.writeFileSync(path.join(dataDir, 'miner.json'), JSON.stringify({ address: miner.address, secretKey: miner.secretKeyHex }), { mode: 0o600 });
  fs.chmodSync(tipdMacaroon, 0o600);

  // Only what tipd needs: a TIPD_* variable of the caller's must not reach the stack's tipd.
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ...nodeEnv,
    ...tipdEnv(stack, stack.nodes.hub, tipdMacaroon, ports.tipd, tipdDir),
    TIPD_PUBLIC_URL: stack.tipd.publicUrl,
    TIPD_TLS_CERT_PATH: tls.cert,
    TIPD_TLS_KEY_PATH: tls.key,
    TIPD_TLS_PORT: String(ports.tipdTls),
  };
  startDaemon(dataDir, 'tipd', process.execPath, [...nodeFlags, path.join(repoRoot, 'src/main.ts')], env);
  await waitFor(
    'tipd to report healthy',
    async () => {
      assertRunning(dataDir, 'tipd');
      const res = await fetch(`${stack.tipd.url}/healthz`, { signal: AbortSignal.timeout(5_000) });
      return res.ok ? true : undefined;
    },
    60_000,
  );
  fs.writeFileSync(stackFile(dataDir), `${JSON.stringify(stack, null, 2)}\n`, { mode: 0o600 });
  step(`up: tipd healthy at ${stack.tipd.url}`);
  return stack;
}

/** GET over https, trusting the given CA file; the answer's JSON body. */
function httpsJson(url: string, caFile: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca: fs.readFileSync(caFile), timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body) as Record<string, unknown>);
        } catch (err) {
          reject(err);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: timed out`)));
    req.on('error', reject);
  });
}

/** The environment that points a tipd at an LND node and the local X API of the stack. */
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
    TIPD_X_API_URL: stack.x.url,
    TIPD_X_BEARER_TOKEN: stack.x.appToken,
    // The creators' Lightning Addresses on the stack serve https with the stack's own CA.
    NODE_EXTRA_CA_CERTS: stack.tipd.caCert,
  };
}
