// How long a backup, its check and a restore take for a store of realistic size, and what a backup
// costs the ledger meanwhile: BENCH_SUPPORTERS funded supporters (100,000) who tipped
// BENCH_TIPS_EACH times (5) among 1,000 handles, then a backup taken while tips keep coming.
// Prints JSON: keys and MiB copied, the times, tips a second before and during the backup, and the
// event loop's longest delay during it.
import fs from 'node:fs';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { checkBackup } from '../src/backup/check.ts';
import { restoreBackup } from '../src/backup/restore.ts';
import { takeBackup } from '../src/backup/take.ts';
import { accounts } from '../src/ledger/ledger.ts';
import { fundedLedger } from './fixtures.ts';

const supporterCount = Number(process.env.BENCH_SUPPORTERS ?? 100_000);
const tipsEach = Number(process.env.BENCH_TIPS_EACH ?? 5);
const handleCount = 1_000;
const waveMax = 5_000;

const made = performance.now();
const { dataDir, store, ledger, supporters } = await fundedLedger(supporterCount, 1_000_000n);
for (let round = 0; round < tipsEach; round++) {
  for (let i = 0; i < supporters.length; i += waveMax) {
    await Promise.all(
      supporters
        .slice(i, i + waveMax)
        .map(({ id }, j) => ledger.run((tx) => tx.transfer('tip', accounts.supporter(id), accounts.escrow(`h${(i + j + round) % handleCount}`), 1_000n))),
    );
  }
}
const madeSeconds = (performance.now() - made) / 1000;

/** Tips of 1 sat, 100 at a time, until stopped: how many a second. */
function tipStream() {
  let stopped = false;
  let tips = 0;
  const started = performance.now();
  const running = (async () => {
    for (let round = 0; !stopped; round++) {
      await Promise.all(
        supporters
          .slice((round * 100) % supporters.length, ((round * 100) % supporters.length) + 100)
          .map(({ id }) => ledger.run((tx) => tx.transfer('tip', accounts.supporter(id), accounts.escrow('bench'), 1_000n), { sync: true })),
      );
      tips += 100;
    }
  })();
  return async () => {
    stopped = true;
    await running;
    return Math.round(tips / ((performance.now() - started) / 1000));
  };
}

const before = tipStream();
await new Promise((resolve) => setTimeout(resolve, 1_000));
const tipsPerSecondBefore = await before();

const during = tipStream();
const delay = monitorEventLoopDelay({ resolution: 10 });
delay.enable();
const taken = await takeBackup(store, path.join(dataDir, 'backups'), new Date());
delay.disable();
const tipsPerSecondDuring = await during();

let started = performance.now();
const check = await checkBackup(taken.path);
const checkSeconds = (performance.now() - started) / 1000;
if (check.problems.length > 0) throw new Error(`the backup does not check: ${check.problems.join('; ')}`);
await ledger.close();
await store.close();
started = performance.now();
await restoreBackup(taken.path, path.join(dataDir, 'restored'));
const restoreSeconds = (performance.now() - started) / 1000;
fs.rmSync(dataDir, { recursive: true, force: true });

const round = (n: number) => Math.round(n * 10) / 10;
console.log(
  JSON.stringify(
    {
      supporters: supporterCount,
      tipsEach,
      madeSeconds: round(madeSeconds),
      keys: taken.keys,
      mib: round(taken.bytes / 1024 / 1024),
      backupSeconds: round(taken.tookMs / 1000),
      checkSeconds: round(checkSeconds),
      restoreSeconds: round(restoreSeconds),
      tipsPerSecondBefore,
      tipsPerSecondDuring,
      eventLoopDelayMaxMs: round(delay.max / 1e6),
    },
    null,
    2,
  ),
);
