// docker-compose's init step, run once in the tipd image (which carries lncli): mine on bitcoind,
// fund the LND nodes and open the channels with the same code as the local stack, then bake
// tipd's macaroon into the shared secrets volume. A second run finds that macaroon and stops.
import fs from 'node:fs';
import path from 'node:path';
import { BitcoindChain } from './bitcoind.ts';
import { Lncli, lndPaths } from './lncli.ts';
import { openNetwork, tipdPermissions, waitForNodes, type Clis } from './network.ts';
import { waitFor } from './procs.ts';
import { activationBlocks, composePaths, lndNodes, nodeNames } from './topology.ts';

const macaroon = path.join(composePaths.secretsDir, 'tipd.macaroon');
const log = (m: string) => console.log(`[init] ${m}`);

if (fs.existsSync(macaroon)) {
  log('already initialised');
  process.exit(0);
}
const chain = new BitcoindChain();
await waitFor('bitcoind', () => chain.call('getblockchaininfo'), 120_000, 1_000);
await chain.start(activationBlocks);
log(`mined ${activationBlocks} blocks`);
// Each node's volume is mounted at /lnd/<name>; it is reached at its service name.
const cli = Object.fromEntries(
  nodeNames.map((name) => [name, new Lncli('lncli', name, lndPaths(path.dirname(composePaths.lndDir(name)), name, `${name}:${lndNodes[name].grpcPort}`))]),
) as Clis;
const pubkeys = await waitForNodes(chain, cli);
log('LND nodes synced');
await openNetwork(chain, cli, pubkeys, (name) => `${name}:${lndNodes[name].p2pPort}`, log);
await cli.hub.text('bakemacaroon', `--save_to=${macaroon}`, ...tipdPermissions);
fs.chmodSync(macaroon, 0o644);
log('done');
