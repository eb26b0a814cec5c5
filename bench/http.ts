// Tips per second through HTTP: a tipd process on a ledger funded beforehand, many concurrent
// clients (autocannon), each request a durable tip. No Lightning node is needed for tips, so tipd
// is pointed at an LND that is not there (its health says 503; the API works).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { benchNodeOptions, fundedLedger } from './fixtures.ts';
import { nodeEnv } from '../src/process/node-settings.ts';

const durationSeconds = Number(process.env.BENCH_SECONDS ?? 15);
const connectionCounts = (process.env.BENCH_CONNECTIONS ?? '100,500').split(',').map(Number);
const adminToken = 'bench-operator-token-0123456789abcdef';
const { dataDir, store, ledger, supporters } = await fundedLedger(1_000, 10n ** 12n);
await ledger.close();
await store.close();

/** A port nobody uses now, for tipd. */
const port = await new Promise<number>((resolve) => {
  const probe = net.createServer().listen(0, '127.0.0.1', () => {
    const { port: free } = probe.address() as net.AddressInfo;
    probe.close(() => resolve(free));
  });
});
const url = `http://127.0.0.1:${port}`;
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const nodeOptions = benchNodeOptions();
const tipd = spawn(process.execPath, [...nodeOptions, path.join(root, 'src/main.ts')], {
  env: {
    ...nodeEnv,
    PATH: process.env.PATH,
    TIPD_NETWORK: 'regtest',
    TIPD_PORT: String(port),
    TIPD_DATA_DIR: dataDir,
    // No LND: its warnings about that would fill the output.
    TIPD_LOG_LEVEL: 'error',
    TIPD_RATE_LIMIT_PER_MINUTE: '0',
    TIPD_ADMIN_TOKEN: adminToken,
    TIPD_LND_SOCKET: '127.0.0.1:9',
    TIPD_LND_CERT: 'AAAA',
    TIPD_LND_MACAROON: 'AAAA',
  },
  stdio: ['ignore', 'pipe', 'inherit'],
});
readline.createInterface({ input: tipd.stdout }).on('line', (line) => process.stderr.write(`tipd: ${line}\n`));
// Whatever fails, tipd is stopped and its folder removed.
try {
  // tipd answers /healthz (503: no LND) once it listens.
  for (let tries = 0; ; tries++) {
    if (tries > 100) throw new Error('tipd did not start');
    if (
      await fetch(`${url}/healthz`).then(
        () => true,
        () => false,
      )
    )
      break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  const stats = async () =>
    (
      (await (await fetch(`${url}/v1/admin/stats`, { headers: { authorization: `Bearer ${adminToken}` } })).json()) as {
        ledger: { batches: number; operations: number };
      }
    ).ledger;

  let n = 0;
  for (const connections of connectionCounts) {
    const before = await stats();
    const result = await autocannon({
      url,
      connections,
      duration: durationSeconds,
      requests: [
        {
          method: 'POST',
          path: '/v1/tips',
          setupRequest: (request) => {
            n += 1;
            const supporter = supporters[n % supporters.length]!;
            return {
              ...request,
              headers: { 'content-type': 'application/json', authorization: `Bearer ${supporter.token}` },
              body: JSON.stringify({ handle: `creator_${n % 500}`, amountSat: 1 }),
            };
          },
        },
      ],
    });
    const after = await stats();
    const ok = result['2xx'];
    const batches = after.batches - before.batches;
    console.log(
      `http, ${connections} connections: ${ok} tips in ${result.duration.toFixed(1)} s = ${Math.round(ok / result.duration)} tips/s (non-2xx: ${result.non2xx}, errors: ${result.errors})`,
    );
    console.log(
      `http, ${connections} connections: latency p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms; ${batches} ledger batches, ${((after.operations - before.operations) / batches).toFixed(0)} operations per batch, each fsynced; tipd's node options: ${nodeOptions.join(' ') || 'none'}`,
    );
  }
} finally {
  if (tipd.exitCode === null && tipd.signalCode === null) {
    tipd.kill('SIGTERM');
    await new Promise((resolve) => tipd.once('close', resolve));
  }
  fs.rmSync(dataDir, { recursive: true, force: true, maxRetries: 3 });
}
