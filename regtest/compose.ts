// docker-compose.yml, made from the network table in regtest/topology.ts: bitcoind on regtest,
// the four LND nodes in their roles, an init step that funds them and opens the channels (the
// same code as the local stack), the local X API, and tipd on the hub, looking tweets up there. `npm run compose:generate` rewrites the
// file; tests/unit/compose.test.ts fails when the committed file and the table disagree.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { backends, composePaths, lndCommonFlags, lndImage, lndNodes, nodeNames, tipdPort, xPort } from './topology.ts';

export const composeFile = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../docker-compose.yml');

const header = `# Generated from regtest/topology.ts by \`npm run compose:generate\`: edit the table, not this file.
# The regtest network of tipd for Docker users: bitcoind, LND nodes hub (driven by tipd), alice (a
# supporter), carol and dave (creators; dave only through carol), an init step that funds them and
# opens the channels, a local X API (regtest/x-server.ts), and tipd.
# Start: TIPD_ADMIN_TOKEN=$(openssl rand -hex 32) docker compose up -d
`;

const { lndDir: lndDirIn, secretsDir } = composePaths;

/** The app token of the local X API, shared by x and tipd: a stand-in that guards nothing. */
export const composeXAppToken = '${TIPD_X_BEARER_TOKEN:-regtest-x-app-token}';
const healthcheck = (url: string) => ({
  test: ['CMD', 'node', '-e', `fetch('${url}').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`],
  interval: '10s',
  timeout: '5s',
  retries: 3,
});

export function composeDocument(): Record<string, unknown> {
  const b = backends.bitcoind;
  const services: Record<string, unknown> = {
    [b.host]: {
      image: b.image,
      command: [
        'bitcoind',
        '-regtest=1',
        '-server=1',
        '-txindex=1',
        '-fallbackfee=0.0002',
        `-rpcuser=${b.rpcUser}`,
        `-rpcpassword=${b.rpcPass}`,
        '-rpcbind=0.0.0.0',
        '-rpcallowip=0.0.0.0/0',
        `-rpcport=${b.rpcPort}`,
        `-port=${b.p2pPort}`,
        `-zmqpubrawblock=tcp://0.0.0.0:${b.zmqBlockPort}`,
        `-zmqpubrawtx=tcp://0.0.0.0:${b.zmqTxPort}`,
      ],
      ports: [`127.0.0.1:${b.rpcPort}:${b.rpcPort}`],
      volumes: [`${b.host}:/home/bitcoin/.bitcoin`],
      restart: 'unless-stopped',
    },
  };
  for (const name of nodeNames) {
    const { grpcPort, p2pPort } = lndNodes[name];
    services[name] = {
      image: lndImage,
      command: [
        `--lnddir=${lndDirIn(name)}`,
        `--alias=${name}`,
        `--rpclisten=0.0.0.0:${grpcPort}`,
        `--listen=0.0.0.0:${p2pPort}`,
        `--tlsextradomain=${name}`,
        ...lndCommonFlags,
        ...b.lndFlags(),
      ],
      ports: [`127.0.0.1:${grpcPort}:${grpcPort}`],
      volumes: [`${name}:${lndDirIn(name)}`],
      depends_on: [b.host],
      restart: 'unless-stopped',
    };
  }
  const lndVolumesReadOnly = nodeNames.map((name) => `${name}:${lndDirIn(name)}:ro`);
  services.init = {
    build: '.',
    command: ['node', 'regtest/compose-init.ts'],
    user: 'root',
    volumes: [...lndVolumesReadOnly, `tipd-secrets:${secretsDir}`],
    depends_on: [b.host, ...nodeNames],
    restart: 'on-failure',
  };
  // The local X API, in the tipd image; its state on a volume (/data is the node user's).
  services.x = {
    build: '.',
    command: ['node', 'regtest/x-server.ts', '--host', '0.0.0.0', '--port', String(xPort), '--state', '/data/x-state.json'],
    environment: { X_APP_TOKEN: composeXAppToken },
    ports: [`127.0.0.1:${xPort}:${xPort}`],
    volumes: ['x-data:/data'],
    healthcheck: healthcheck(`http://127.0.0.1:${xPort}/_control/state`),
    restart: 'unless-stopped',
  };
  services.tipd = {
    build: '.',
    environment: {
      TIPD_NETWORK: 'regtest',
      TIPD_HOST: '0.0.0.0',
      TIPD_PORT: String(tipdPort),
      TIPD_DATA_DIR: '/data',
      TIPD_LND_SOCKET: `hub:${lndNodes.hub.grpcPort}`,
      TIPD_LND_CERT_PATH: `${lndDirIn('hub')}/tls.cert`,
      TIPD_LND_MACAROON_PATH: `${secretsDir}/tipd.macaroon`,
      TIPD_ADMIN_TOKEN: '${TIPD_ADMIN_TOKEN:?set TIPD_ADMIN_TOKEN, e.g. to $(openssl rand -hex 32)}',
      TIPD_X_API_URL: `http://x:${xPort}`,
      TIPD_X_BEARER_TOKEN: composeXAppToken,
    },
    ports: [`127.0.0.1:${tipdPort}:${tipdPort}`],
    volumes: [`hub:${lndDirIn('hub')}:ro`, `tipd-secrets:${secretsDir}:ro`, 'tipd-data:/data'],
    depends_on: { init: { condition: 'service_completed_successfully' }, x: { condition: 'service_started' } },
    healthcheck: healthcheck(`http://127.0.0.1:${tipdPort}/healthz`),
    restart: 'unless-stopped',
  };
  const volumes = Object.fromEntries([b.host, ...nodeNames, 'tipd-secrets', 'tipd-data', 'x-data'].map((v) => [v, {}]));
  return { name: 'tipd-regtest', services, volumes };
}

export function composeText(): string {
  return header + stringify(composeDocument(), { lineWidth: 0 });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  fs.writeFileSync(composeFile, composeText());
  console.log(`wrote ${composeFile}`);
}
