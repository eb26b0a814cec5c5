// Time and peak memory to close a period of 1,000,000 flattrs from 100,000 supporters. The
// flattrs are made first (through the ledger, as the API would), then a fresh process opens the
// store and closes the period, so that its peak RSS is the close's own.
// It closes a fresh copy of the same flattrs in BENCH_CLOSE_ROUNDS rounds (3), and prints each and
// the median. BENCH_PREPARED=<folder>: keep the flattrs made there and, on later runs, close
// copies of them instead of making them again (the store's format must not have changed since).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { Flattrs } from '../src/flattrs/flattrs.ts';
import { parseHandle } from '../src/escrow/handles.ts';
import { Ledger } from '../src/ledger/ledger.ts';
import { Supporters } from '../src/supporters/supporters.ts';
import { openStore } from '../src/ledger/store.ts';
import { nodeEnv } from '../src/process/node-settings.ts';
import { benchNodeOptions, fundedLedger, inOwnProcess, mib, roundsFrom, spread } from './fixtures.ts';

const supporterCount = Number(process.env.BENCH_SUPPORTERS ?? 100_000);
const rounds = roundsFrom('BENCH_CLOSE_ROUNDS', 3);
const flattrsEach = 10;
const log = pino({ level: 'silent' });

if (process.argv[2] === 'close') {
  const dataDir = process.argv[3]!;
  const store = await openStore(path.join(dataDir, 'ledger'));
  const ledger = await Ledger.open(store);
  const flattrs = new Flattrs(ledger, log, {});
  const started = process.hrtime.bigint();
  const summary = await flattrs.close();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const sum = await ledger.sumOfBalances();
  await ledger.close();
  await store.close();
  console.log(JSON.stringify({ seconds, summary, maxRssBytes: process.resourceUsage().maxRSS * 1024, sumIsZero: sum === 0n }));
} else {
  const prepared = process.env.BENCH_PREPARED;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tipd-bench-'));
  const self = fileURLToPath(import.meta.url);
  const nodeOptions = benchNodeOptions();
  const roundDir = `${dataDir}-round`;
  // Whatever fails, no folder is left behind.
  try {
    if (prepared && fs.existsSync(path.join(prepared, 'made'))) {
      const made = Number(fs.readFileSync(path.join(prepared, 'made'), 'utf8'));
      if (made !== supporterCount)
        throw new Error(`${prepared} holds the flattrs of ${made} supporters, not ${supporterCount} (BENCH_SUPPORTERS): prepare another folder`);
      fs.cpSync(path.join(prepared, 'ledger'), path.join(dataDir, 'ledger'), { recursive: true });
      console.log(`close: reusing the flattrs made in ${prepared}`);
    } else {
      const made = process.hrtime.bigint();
      const { store, ledger, supporters } = await fundedLedger(supporterCount, 10n ** 9n, dataDir);
      const flattrs = new Flattrs(ledger, log, {});
      const budgets = new Supporters(ledger);
      const handles = Array.from({ length: 5_000 }, (_, i) => parseHandle(`creator_${i}`)!);
      for (let i = 0; i < supporters.length; i += 2_000) {
        await Promise.all(
          supporters
            .slice(i, i + 2_000)
            .flatMap(({ id }, k) => [
              budgets.setBudget(id, 1_000),
              ...Array.from({ length: flattrsEach }, (_, j) => flattrs.flattr(id, handles[(i + k * 7 + j * 131) % handles.length]!, null)),
            ]),
        );
      }
      await ledger.close();
      await store.close();
      console.log(
        `close: made ${supporterCount * flattrsEach} flattrs from ${supporterCount} supporters in ${(Number(process.hrtime.bigint() - made) / 1e9).toFixed(1)} s`,
      );
      if (prepared) {
        fs.mkdirSync(prepared, { recursive: true });
        fs.cpSync(path.join(dataDir, 'ledger'), path.join(prepared, 'ledger'), { recursive: true });
        fs.writeFileSync(path.join(prepared, 'made'), `${supporterCount}\n`);
      }
    }

    // The machine's speed moves from minute to minute: several rounds, each closing a fresh copy
    // of the same flattrs in a process of its own.
    const results: CloseResult[] = [];
    for (let i = 1; i <= rounds; i++) {
      fs.rmSync(roundDir, { recursive: true, force: true });
      fs.cpSync(dataDir, roundDir, { recursive: true });
      const result = await inOwnProcess<CloseResult>(self, ['close', roundDir]);
      if (!result.sumIsZero) throw new Error('the ledger does not sum to zero after the close');
      results.push(result);
      console.log(
        `close, round ${i} of ${rounds}: ${supporterCount * flattrsEach} flattrs, ${result.summary.supporters} supporters allocated in ${result.seconds.toFixed(1)} s, peak RSS ${mib(result.maxRssBytes)}`,
      );
    }
    const seconds = spread(results.map((r) => r.seconds));
    const peak = Math.max(...results.map((r) => r.maxRssBytes));
    console.log(
      `close: median ${seconds.median.toFixed(1)} s over ${rounds} rounds (${seconds.min.toFixed(1)}–${seconds.max.toFixed(1)}), highest peak RSS ${mib(peak)} (whole process, node options: ${nodeOptions.join(' ') || 'none'}, MALLOC_ARENA_MAX=${nodeEnv.MALLOC_ARENA_MAX}); the ledger summed to zero after each`,
    );
    console.log('close: allocations are written without fsync (a crash resumes the close); its start and its end are fsynced');
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true, maxRetries: 3 });
    fs.rmSync(roundDir, { recursive: true, force: true, maxRetries: 3 });
  }
}

interface CloseResult {
  seconds: number;
  summary: { supporters: number; allocatedMsat: string };
  maxRssBytes: number;
  sumIsZero: boolean;
}
