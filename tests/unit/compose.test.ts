// There is no Docker engine here, so docker-compose.yml is checked as far as text allows: it is
// the file the network table generates, and each service agrees with that table (images pinned
// to the versions the local stack builds, ports, flags, volumes, start order).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { composeFile, composeText, composeXAppToken } from '../../regtest/compose.ts';
import { repoRoot } from '../../regtest/stack.ts';
import { backends, composePaths, lndCommonFlags, lndImage, lndNodes, lndVersion, nodeNames, tipdPort, xPort } from '../../regtest/topology.ts';

interface Service {
  image?: string;
  build?: string;
  command?: string[];
  ports?: string[];
  volumes?: string[];
  environment?: Record<string, string>;
  depends_on?: string[] | Record<string, { condition: string }>;
}
const committed = fs.readFileSync(composeFile, 'utf8');
const compose = parse(committed) as { services: Record<string, Service>; volumes: Record<string, unknown> };
const service = (name: string): Service => {
  const s = compose.services[name];
  if (!s) throw new Error(`docker-compose.yml has no service ${name}`);
  return s;
};

describe('docker-compose.yml', () => {
  it('is exactly what regtest/topology.ts generates (run `npm run compose:generate` after editing the table)', () => {
    expect(committed).toBe(composeText());
  });

  it('pins every image to an exact version, LND to the one the local stack builds', () => {
    const goMod = fs.readFileSync(path.join(repoRoot, 'regtest/daemons/go.mod'), 'utf8');
    expect(goMod).toMatch(new RegExp(`github\\.com/lightningnetwork/lnd ${lndVersion.replace(/\./g, '\\.')}\\n`));
    expect(fs.readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8')).toContain(`FROM ${lndImage} AS lnd`);
    for (const [name, s] of Object.entries(compose.services)) {
      if (s.build) continue;
      expect(s.image, name).toMatch(/^[\w./-]+:v?\d+(\.\d+)+(-[\w.]+)?$/);
    }
  });

  it('runs bitcoind with the ports of the table', () => {
    const b = backends.bitcoind;
    const s = service(b.host);
    expect(s.image).toBe(b.image);
    expect(s.command).toEqual(
      expect.arrayContaining([
        '-regtest=1',
        `-rpcport=${b.rpcPort}`,
        `-port=${b.p2pPort}`,
        `-zmqpubrawblock=tcp://0.0.0.0:${b.zmqBlockPort}`,
        `-zmqpubrawtx=tcp://0.0.0.0:${b.zmqTxPort}`,
        `-rpcuser=${b.rpcUser}`,
        `-rpcpassword=${b.rpcPass}`,
      ]),
    );
  });

  it.each(nodeNames)('runs LND %s with the ports, flags and volume of the table, on bitcoind', (name) => {
    const { grpcPort, p2pPort } = lndNodes[name];
    const s = service(name);
    expect(s.image).toBe(lndImage);
    expect(s.command).toEqual(
      expect.arrayContaining([
        `--rpclisten=0.0.0.0:${grpcPort}`,
        `--listen=0.0.0.0:${p2pPort}`,
        `--lnddir=${composePaths.lndDir(name)}`,
        `--tlsextradomain=${name}`,
        ...lndCommonFlags,
        ...backends.bitcoind.lndFlags(),
      ]),
    );
    expect(s.ports).toEqual([`127.0.0.1:${grpcPort}:${grpcPort}`]);
    expect(s.volumes).toEqual([`${name}:${composePaths.lndDir(name)}`]);
    expect(s.depends_on).toContain(backends.bitcoind.host);
  });

  it('starts tipd on the hub only after the init step funded the network, with its own macaroon', () => {
    const tipd = service('tipd');
    expect(tipd.build).toBe('.');
    expect(tipd.environment).toMatchObject({
      TIPD_NETWORK: 'regtest',
      TIPD_PORT: String(tipdPort),
      TIPD_LND_SOCKET: `hub:${lndNodes.hub.grpcPort}`,
      TIPD_LND_CERT_PATH: `${composePaths.lndDir('hub')}/tls.cert`,
      TIPD_LND_MACAROON_PATH: `${composePaths.secretsDir}/tipd.macaroon`,
    });
    expect(tipd.environment?.TIPD_ADMIN_TOKEN).toMatch(/^\$\{TIPD_ADMIN_TOKEN:\?/);
    expect(tipd.ports).toEqual([`127.0.0.1:${tipdPort}:${tipdPort}`]);
    expect(tipd.depends_on).toEqual({ init: { condition: 'service_completed_successfully' }, x: { condition: 'service_started' } });
    const init = service('init');
    expect(init.command).toEqual(['node', 'regtest/compose-init.ts']);
    expect(init.depends_on).toEqual(expect.arrayContaining([backends.bitcoind.host, ...nodeNames]));
    expect(fs.existsSync(path.join(repoRoot, 'regtest/compose-init.ts'))).toBe(true);
  });

  it('runs the local X API from the tipd image on the port of the table, and points tipd at it with the same app token', () => {
    const x = service('x');
    expect(x.build).toBe('.');
    expect(x.command).toEqual(['node', 'regtest/x-server.ts', '--host', '0.0.0.0', '--port', String(xPort), '--state', '/data/x-state.json']);
    expect(x.ports).toEqual([`127.0.0.1:${xPort}:${xPort}`]);
    expect(x.volumes).toEqual(['x-data:/data']);
    expect(fs.existsSync(path.join(repoRoot, 'regtest/x-server.ts'))).toBe(true);
    expect(composeXAppToken).toMatch(/^\$\{TIPD_X_BEARER_TOKEN:-\S+\}$/);
    expect(x.environment).toEqual({ X_APP_TOKEN: composeXAppToken });
    expect(service('tipd').environment).toMatchObject({ TIPD_X_API_URL: `http://x:${xPort}`, TIPD_X_BEARER_TOKEN: composeXAppToken });
  });

  it('declares every named volume it mounts', () => {
    const mounted = Object.values(compose.services).flatMap((s) => (s.volumes ?? []).map((v) => v.split(':')[0]!));
    for (const volume of mounted) expect(compose.volumes, volume).toHaveProperty(volume);
  });
});
