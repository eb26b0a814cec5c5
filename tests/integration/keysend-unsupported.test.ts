// A creator's node that does not accept keysend cannot be paid by tipd, so its claim is refused
// up front. erin is a fifth LND, started here without --accept-keysend, made known to the hub by
// a public channel from alice; the channel is closed and she is stopped at the end, so that a
// stack used again does not keep alice's sats locked in channels to dead nodes.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BtcdRpc } from '../../regtest/btcd.ts';
import { backends, lndCommonFlags } from '../../regtest/topology.ts';
import { Lnd } from '../../src/ln/lnd.ts';
import { lncli } from './creators.ts';
import { eventually, freePort, lndOf, stack, tipdForFile } from './helpers.ts';

const tipd = tipdForFile();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tipd-erin-'));
let erinProcess: ChildProcess | undefined;
let erinPubkey: string | undefined;

afterAll(async () => {
  try {
    // Closed together while erin is up: alice's sats are back after one block.
    const { channels } = erinPubkey
      ? await lncli<{ channels: { remote_pubkey: string; channel_point: string }[] }>('alice', 'listchannels', '--peer', erinPubkey)
      : { channels: [] };
    for (const { channel_point } of channels) await lncli('alice', 'closechannel', '--chan_point', channel_point);
    if (channels.length > 0) await new BtcdRpc(stack().btcd.cert, Number(stack().btcd.rpc.split(':')[1])).generate(1);
  } finally {
    erinProcess?.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
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
      const lnd = new Lnd({
        socket: `127.0.0.1:${grpcPort}`,
        cert: fs.readFileSync(path.join(dir, 'tls.cert')).toString('base64'),
        macaroon: fs.readFileSync(macaroon).toString('base64'),
        timeoutMs: 5_000,
      });
      return (await lnd.getInfo().catch(() => undefined)) ? lnd : undefined;
    }, 90_000);
    const pubkey = (await erin.getInfo()).pubkey;
    erinPubkey = pubkey;

    await lncli('alice', 'connect', `${pubkey}@127.0.0.1:${p2pPort}`);
    await lncli('alice', 'openchannel', '--node_key', pubkey, '--local_amt', '1000000');
    await new BtcdRpc(s.btcd.cert, btcdPort).generate(6);
    const known = await eventually(async () => {
      const node = await lndOf('hub').getNode(pubkey);
      return node && node.channelCount > 0 ? node : undefined;
    }, 90_000);
    expect(known.keysend).toBe(false);

    const res = await tipd.call('POST', '/v1/claims', { body: { handle: 'erin', nodePubkey: pubkey } });
    expect(res.status).toBe(422);
    expect(res.body.error).toMatchObject({ code: 'keysend_unsupported', message: expect.stringContaining('--accept-keysend') });
  });
});
