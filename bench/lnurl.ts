// LNURL-pay's callback next to LND's own invoice creation, in the same run: what a wallet waits
// for (a pay request's callback: checks, the record written and fsynced, the invoice made by LND,
// the record finished) against LND's AddInvoice called directly with the same concurrency. Needs
// the regtest stack: it starts one if none runs (and stops it after). Pairs interleaved (tipd,
// then LND, then tipd…), medians of the pairs and the ratio, since this machine's speed drifts.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { Lnd } from '../src/ln/lnd.ts';
import { down, isUp, stackOptions, up } from '../regtest/stack.ts';
import { tipdOnStack, type BenchTipd } from './fixtures.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 10);
const pairs = Number(process.env.BENCH_PAIRS ?? 5);

const options = stackOptions();
const wasUp = await isUp(options.dataDir);
const stack = await up(options);
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tipd-bench-lnurl-'));
const hub = new Lnd({
  socket: stack.nodes.hub.socket,
  cert: fs.readFileSync(stack.nodes.hub.cert).toString('base64'),
  macaroon: fs.readFileSync(stack.nodes.hub.macaroon).toString('base64'),
  timeoutMs: 30_000,
});

interface Round {
  perSecond: number;
  p50: number;
  p99: number;
}

/** The callback of a handle's pay request to the tipd at `url`, for 1 sat, by `connections` wallets at once. */
async function callbacks(url: string): Promise<Round> {
  const result = await autocannon({ url: `${url}/lnurl/pay/carol/unclaimed?amount=1000&comment=bench`, connections, duration: seconds });
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`callbacks failed: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return { perSecond: result['2xx'] / result.duration, p50: result.latency.p50, p99: result.latency.p99 };
}

/** LND's AddInvoice (through the same client tipd uses), `connections` at a time, for as long. */
async function lndInvoices(): Promise<Round> {
  const latencies: number[] = [];
  const end = Date.now() + seconds * 1000;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (Date.now() < end) {
        const t0 = performance.now();
        await hub.createInvoice({ amountMsat: 1_000n, description: 'bench', expiresAt: new Date(Date.now() + 3600_000) });
        latencies.push(performance.now() - t0);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const at = (q: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]! * 10) / 10;
  return { perSecond: latencies.length / ((Date.now() - started) / 1000), p50: at(0.5), p99: at(0.99) };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const round = (n: number) => Math.round(n * 10) / 10;

let tipd: BenchTipd | undefined;
try {
  // Throughput, not flood protection: the LNURL routes' limit per address is off.
  tipd = await tipdOnStack(stack, dataDir, { TIPD_LNURL_RATE_LIMIT_PER_MINUTE: '0' });
  const { url } = tipd;
  // Warm both up.
  await hub.createInvoice({ amountMsat: 1_000n, description: 'warm-up', expiresAt: new Date(Date.now() + 3600_000) });
  await fetch(`${url}/lnurl/pay/carol/unclaimed?amount=1000`);
  const ours: Round[] = [];
  const theirs: Round[] = [];
  for (let i = 0; i < pairs; i++) {
    ours.push(await callbacks(url));
    theirs.push(await lndInvoices());
    const [a, b] = [ours.at(-1)!, theirs.at(-1)!];
    console.log(
      `lnurl, pair ${i + 1}: callback ${Math.round(a.perSecond)}/s p50 ${a.p50} ms p99 ${a.p99} ms | LND AddInvoice ${Math.round(b.perSecond)}/s p50 ${b.p50} ms p99 ${b.p99} ms`,
    );
  }
  const summary = (rounds: Round[]) => ({
    perSecond: median(rounds.map((r) => r.perSecond)),
    p50: median(rounds.map((r) => r.p50)),
    p99: median(rounds.map((r) => r.p99)),
  });
  const [a, b] = [summary(ours), summary(theirs)];
  // Ratios within each pair (the same minutes), then their median.
  const ratio = (of: (r: Round) => number) => round(median(ours.map((r, i) => of(r) / of(theirs[i]!))));
  console.log(
    `lnurl, ${connections} connections, medians of ${pairs} pairs of ${seconds} s: callback ${Math.round(a.perSecond)}/s (p50 ${round(a.p50)} ms, p99 ${round(a.p99)} ms); LND AddInvoice directly ${Math.round(b.perSecond)}/s (p50 ${round(b.p50)} ms, p99 ${round(b.p99)} ms); callback/LND, median of the pairs' ratios: throughput ${ratio((r) => r.perSecond)}x, p50 latency ${ratio((r) => r.p50)}x, p99 latency ${ratio((r) => r.p99)}x`,
  );
} finally {
  await tipd?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true, maxRetries: 3 });
  if (!wasUp) await down(options.dataDir);
}
