// Tips per second through HTTP: a tipd process on a ledger funded beforehand, many concurrent
// clients (autocannon), each request a durable tip. No Lightning node is needed for tips, so tipd
// is pointed at an LND that is not there (its health says 503; the API works).
import fs from 'node:fs';
import autocannon from 'autocannon';
import { benchNodeOptions, fundedLedger, tipdWithoutLnd } from './fixtures.ts';

const durationSeconds = Number(process.env.BENCH_SECONDS ?? 15);
const connectionCounts = (process.env.BENCH_CONNECTIONS ?? '100,500').split(',').map(Number);
const adminToken = 'bench-operator-token-0123456789abcdef';
const { dataDir, store, ledger, supporters } = await fundedLedger(1_000, 10n ** 12n);
await ledger.close();
await store.close();

const tipd = await tipdWithoutLnd(dataDir, { TIPD_ADMIN_TOKEN: adminToken });
const { url } = tipd;
// Whatever fails, tipd is stopped and its folder removed.
try {
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
      `http, ${connections} connections: latency p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms; ${batches} ledger batches, ${((after.operations - before.operations) / batches).toFixed(0)} operations per batch, each fsynced; tipd's node options: ${benchNodeOptions().join(' ') || 'none'}`,
    );
  }
} finally {
  await tipd.stop();
  fs.rmSync(dataDir, { recursive: true, force: true, maxRetries: 3 });
}
