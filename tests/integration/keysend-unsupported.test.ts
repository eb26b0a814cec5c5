// A creator's node that does not accept keysend cannot be paid by tipd, so its claim is refused
// up front. erin is a fifth LND, started here without --accept-keysend, made known to the hub by
// a public channel from alice; she is stopped at the end.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BtcdRpc } from '../../regtest/btcd.ts';
import { backends, lndCommonFlags } from '../../regtest/topology.ts';
import { Lnd } from '../../src/ln/lnd.ts';
import { lncli } from './creators.ts';
import { eventually, lndOf, stack, tipdForFile } from './helpers.ts';

const tipd = tipdForFile();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tipd-erin-'));
let erinProcess: ChildProcess | undefined;

afterAll(async () => {
  erinProcess?.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
});

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });

describe('a claim for a node without keysend', () => {
  it('is refused with keysend_unsupported, saying how to fix it', { timeout: 180_000 }, async () => {
    const s = stack();
    const [grpcPort, p2pPort] = [await freePort(), await freePort()];
    const btcdPort = Number(s.btcd.rpc.split(':')[1]);
    erinProcess = spawn(
      path.join(s.binDir, 'lnd'),
      [
        `--lnddir=${dir}`,
        '--alias=erin',
        `--rpclisten=127.0.0.1:${grpcPort}`,
        `--listen=127.0.0.1:${p2pPort}`,
        ...lndCommonFlags.filter((flag) => flag !== '--accept-keysend'),
        ...backends.btcd.lndFlags(s.btcd.cert, btcdPort),
      ],
      { stdio: 'ignore' },
    );
    const macaroon = path.join(dir, 'data/chain/bitcoin/regtest/admin.macaroon');
    const erin = await eventually(async () => {
      if (!fs.existsSync(macaroon)) return undefined;
      const lnd = new Lnd({ socket: `127.0.0.1:${grpcPort}`, cert: fs.readFileSync(path.join(dir, 'tls.cert')).toString('base64'), macaroon: fs.readFileSync(macaroon).toString('base64'), timeoutMs: 5_000 });
      return (await lnd.getInfo().catch(() => undefined)) ? lnd : undefined;
    }, 90_000);
    const erinPubkey = (await erin.getInfo()).pubkey;

    await lncli('alice', 'connect', `${erinPubkey}@127.0.0.1:${p2pPort}`);
    await lncli('alice', 'openchannel', '--node_key', erinPubkey, '--local_amt', '1000000');
    await new BtcdRpc(s.btcd.cert, btcdPort).generate(6);
    const known = await eventually(async () => {
      const node = await lndOf('hub').getNode(erinPubkey);
      return node && node.channelCount > 0 ? node : undefined;
    }, 90_000);
    expect(known.keysend).toBe(false);

    const res = await tipd.call('POST', '/v1/claims', { body: { handle: 'erin', nodePubkey: erinPubkey } });
    expect(res.status).toBe(422);
    expect(res.body.error).toMatchObject({ code: 'keysend_unsupported', message: expect.stringContaining('--accept-keysend') });
  });
});
