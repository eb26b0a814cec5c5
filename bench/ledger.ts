// Tips per second through the ledger alone: many concurrent tips, each durable (sync) as the API
// writes them, committed in groups by the single writer. The machine's speed moves from minute to
// minute, so the bench runs several rounds, each on a fresh ledger in a process of its own started
// as tipd is (its Node.js settings), and prints each and the median.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseHandle } from '../src/escrow/handles.ts';
import { nodeEnv } from '../src/process/node-settings.ts';
import { Tips } from '../src/escrow/tips.ts';
import { benchNodeOptions, fundedLedger, inOwnProcess, mib, roundsFrom, spread } from './fixtures.ts';

const tipCount = Number(process.env.BENCH_TIPS ?? 200_000);
const concurrency = 10_000;

interface RoundResult {
  tipsPerSecond: number;
  tipsPerBatch: number;
  maxRssBytes: number;
}

async function round(): Promise<RoundResult> {
  const handles = Array.from({ length: 500 }, (_, i) => parseHandle(`creator_${i}`)!);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tipd-bench-'));
  try {
    const { store, ledger, supporters } = await fundedLedger(1_000, 10n ** 12n, dataDir);
    const tips = new Tips(ledger);
    const before = { ...ledger.stats };
    const started = process.hrtime.bigint();
    // A closed loop, as a load generator runs one: each of `concurrency` clients sends its next tip
    // as soon as its last one is answered, so the writer always has work queued.
    let sent = 0;
    const client = async () => {
      while (sent < tipCount) {
        const i = sent++;
        await tips.tip({ supporterId: supporters[i % supporters.length]!.id, handle: handles[i % handles.length]!, amountMsat: 1_000n, tweetId: null });
      }
    };
    await Promise.all(Array.from({ length: concurrency }, client));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const batches = ledger.stats.batches - before.batches;
    if ((await ledger.sumOfBalances()) !== 0n) throw new Error('ledger does not sum to zero');
    await ledger.close();
    await store.close();
    return { tipsPerSecond: tipCount / seconds, tipsPerBatch: tipCount / batches, maxRssBytes: process.resourceUsage().maxRSS * 1024 };
  } finally {
    // A round that failed leaves nothing behind either (its store may still be writing: retried).
    fs.rmSync(dataDir, { recursive: true, force: true, maxRetries: 3 });
  }
}

if (process.argv[2] === 'round') {
  console.log(JSON.stringify(await round()));
} else {
  const rounds = roundsFrom('BENCH_ROUNDS', 5);
  const self = fileURLToPath(import.meta.url);
  const results: RoundResult[] = [];
  for (let i = 1; i <= rounds; i++) {
    const result = await inOwnProcess<RoundResult>(self, ['round']);
    results.push(result);
    console.log(
      `ledger, round ${i} of ${rounds}: ${tipCount} tips = ${Math.round(result.tipsPerSecond)} tips/s, ${result.tipsPerBatch.toFixed(0)} tips per batch`,
    );
  }
  const rates = spread(results.map((r) => r.tipsPerSecond));
  const peak = Math.max(...results.map((r) => r.maxRssBytes));
  const nodeOptions = benchNodeOptions();
  console.log(
    `ledger: median ${Math.round(rates.median)} tips/s over ${rounds} rounds (${Math.round(rates.min)}–${Math.round(rates.max)}); every batch written with sync (fsync), ${concurrency} tips in flight, highest peak RSS ${mib(peak)} (node options: ${nodeOptions.join(' ') || 'none'}, MALLOC_ARENA_MAX=${nodeEnv.MALLOC_ARENA_MAX})`,
  );
}
