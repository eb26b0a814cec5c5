// Payouts next to LND's own keysend rate, on the regtest stack (it starts one if none runs, and
// stops only one it started). N handles claimed to carol's node are tipped at once by one
// supporter; a round lasts from the first tip until the last payout's `payout.succeeded` (the
// outcome booked and fsynced). LND's round: the same N amounts sent by the hub to carol by keysend
// (SendPaymentV2, through src/ln/lnd.ts), all at once, until the last is confirmed. Pairs
// interleaved (tipd, then LND, then tipd…), since this machine's speed drifts; medians of the pairs
// and of their ratios. BENCH_PAYOUT_CONCURRENCY (a comma list, e.g. 8,32,128) runs the pairs once
// per setting of TIPD_PAYOUT_CONCURRENCY_MAX, on the same handles (tipd restarted on its data
// folder); unset: tipd's default. BENCH_PAYOUTS: N (100); BENCH_PAIRS: pairs per setting (3).
// Each round waits for a quiet machine first (others' builds and tests share its CPUs).
//
// The stack's channels are left as they were found: what alice deposits the hub sends straight back
// to her, and what the hub paid carol in a pair carol sends back to the hub after it. Amounts are
// 1,100 to 2,000 sat a tip, so a pair has at most 2 × N × 2,000 sat out of the hub's side of its
// channel with carol (4,000,000 sat of 10,000,000 for N = 1,000).
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WebSocket } from 'ws';
import { Lnd } from '../src/ln/lnd.ts';
import { feeCap } from '../src/ledger/money.ts';
import { down, isUp, stackOptions, up } from '../regtest/stack.ts';
import type { NodeName } from '../regtest/topology.ts';
import { roundsFrom, tipdOnStack, type BenchTipd } from './fixtures.ts';

const count = roundsFrom('BENCH_PAYOUTS', 100);
const pairs = roundsFrom('BENCH_PAIRS', 3);
const settings = (process.env.BENCH_PAYOUT_CONCURRENCY ?? '').split(',').filter(Boolean);
/** A round that takes longer has a payout stuck (or failing and backing off): the bench stops. */
const roundTimeoutMs = 300_000;
/** tipd's fee cap of a payout (its defaults), also given to LND's own keysends. */
const fee = { baseMsat: 10_000n, ppm: 5_000n };
if (count > 1_000) throw new Error('BENCH_PAYOUTS: at most 1,000 (a pair must fit in the hub’s side of its channel with carol)');

const options = stackOptions();
const wasUp = await isUp(options.dataDir);
const stack = await up(options);
const lndOf = (name: NodeName) =>
  new Lnd({
    socket: stack.nodes[name].socket,
    cert: fs.readFileSync(stack.nodes[name].cert).toString('base64'),
    macaroon: fs.readFileSync(stack.nodes[name].macaroon).toString('base64'),
    timeoutMs: 60_000,
  });
const [hub, alice, carol] = [lndOf('hub'), lndOf('alice'), lndOf('carol')];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

async function call<T>(url: string, method: string, route: string, body?: unknown, token?: string): Promise<T> {
  const res = await fetch(`${url}${route}`, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

/** A tipd on the hub with its data in `dataDir`, TIPD_PAYOUT_CONCURRENCY_MAX as `setting` (tipd's default if undefined). */
const startTipd = (dataDir: string, setting: string | undefined): Promise<BenchTipd> =>
  tipdOnStack(stack, dataDir, {
    TIPD_CLAIM_RATE_LIMIT_PER_MINUTE: '0',
    ...(setting === undefined ? {} : { TIPD_PAYOUT_CONCURRENCY_MAX: setting }),
  });

/** carol claims `handle` as a creator does: her node signs the challenge, the handle tweets it on the local X server. */
async function claim(url: string, handle: string): Promise<void> {
  const challenge = await call<{ id: string; message: string; tweetTemplate: string }>(url, 'POST', '/v1/claims', {
    handle,
    nodePubkey: stack.nodes.carol.pubkey,
  });
  const signature = await carol.signMessage(challenge.message);
  const tweet = await fetch(`${stack.x.url}/2/tweets`, {
    method: 'POST',
    headers: { authorization: `Bearer user:${handle}`, 'content-type': 'application/json' },
    body: JSON.stringify({ text: challenge.tweetTemplate.replace('<signature>', signature) }),
  }).then((r) => r.json() as Promise<{ data: { id: string } }>);
  const proof = await call<{ state: string }>(url, 'POST', `/v1/claims/${challenge.id}/proof`, { tweet: tweet.data.id });
  if (proof.state !== 'verified') throw new Error(`claim of ${handle}: ${JSON.stringify(proof)}`);
}

/** A supporter with `sat` deposited by alice; the hub sends the same back to alice at once, so her channel stays as it was. */
async function fundedSupporter(url: string, sat: number): Promise<string> {
  const { token } = await call<{ token: string }>(url, 'POST', '/v1/accounts');
  const deposit = await call<{ id: string; paymentRequest: string }>(url, 'POST', '/v1/deposits', { amountSat: sat }, token);
  const paid = await alice.payInvoice({ paymentRequest: deposit.paymentRequest, maxFeeMsat: 10_000n });
  if (paid.state !== 'succeeded') throw new Error(`alice's deposit: ${JSON.stringify(paid)}`);
  while ((await call<{ state: string }>(url, 'GET', `/v1/deposits/${deposit.id}`, undefined, token)).state !== 'settled') await sleep(100);
  await payBack(hub, 'alice', BigInt(sat) * 1000n);
  return token;
}

/** `from` sends `amountMsat` to `to` by keysend, in payments of at most 1,000,000 sat. */
async function payBack(from: Lnd, to: NodeName, amountMsat: bigint): Promise<void> {
  for (let left = amountMsat; left > 0n;) {
    const part = left < 1_000_000_000n ? left : 1_000_000_000n;
    const paid = await from.keysend({ destination: stack.nodes[to].pubkey, amountMsat: part, maxFeeMsat: 10_000n, preimage: randomBytes(32) });
    if (paid.state !== 'succeeded') throw new Error(`paying ${to} back: ${JSON.stringify(paid)}`);
    left -= part;
  }
}

/** Websockets following `handles` (100 a socket, tipd's limit), told of every payout that succeeded or failed. */
async function follow(url: string, handles: string[], onPayout: (event: string, data: { handle: string; amountMsat: string }) => void) {
  const sockets: WebSocket[] = [];
  for (let i = 0; i < handles.length; i += 100) {
    const socket = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/events`);
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    let ready: (() => void) | undefined;
    socket.on('message', (raw) => {
      const message = JSON.parse((raw as Buffer).toString('utf8')) as { type: string; event?: string; data?: { handle: string; amountMsat: string } };
      if (message.type === 'ready') ready?.();
      if (message.type === 'event' && (message.event === 'payout.succeeded' || message.event === 'payout.failed')) onPayout(message.event, message.data!);
    });
    // One follow at a time: tipd answers each before it reads more than a few waiting messages.
    for (const handle of handles.slice(i, i + 100)) {
      await new Promise<void>((resolve) => {
        ready = resolve;
        socket.send(JSON.stringify({ type: 'follow', handle }));
      });
    }
    sockets.push(socket);
  }
  return { close: () => sockets.forEach((s) => s.close()) };
}

interface Round {
  perSecond: number;
  seconds: number;
}

/** Waits (polling `done`) for a round to finish, or fails it after roundTimeoutMs. */
async function until(done: () => boolean, what: () => string): Promise<void> {
  const deadline = Date.now() + roundTimeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`${what()} after ${roundTimeoutMs / 1000} s`);
    await sleep(5);
  }
}

/** Idle and total CPU time of the whole machine so far (Linux's /proc/stat); undefined elsewhere. */
function cpuTimes(): { idle: number; total: number } | undefined {
  const line = fs.existsSync('/proc/stat') ? fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]! : undefined;
  if (!line?.startsWith('cpu ')) return undefined;
  const ticks = line.trim().split(/\s+/).slice(1).map(Number);
  return { idle: ticks[3]! + ticks[4]!, total: ticks.reduce((sum, t) => sum + t, 0) };
}

/**
 * Waits (up to 30 s) until the machine's CPUs were at least 80% idle for half a second: others'
 * work (a build, a test run) during a round of two seconds moves its figure by half or more.
 * Answers how long it waited, or undefined when it gave up.
 */
async function quiet(): Promise<number | undefined> {
  const started = Date.now();
  while (Date.now() - started < 30_000) {
    const before = cpuTimes();
    await sleep(500);
    const after = cpuTimes();
    if (!before || !after || (after.idle - before.idle) / Math.max(1, after.total - before.total) >= 0.8) return Date.now() - started;
  }
  return undefined;
}

const tipSat = (i: number) => 1_100 + (i % 10) * 100;

try {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tipd-bench-payouts-'));
  const handles = Array.from({ length: count }, (_, i) => `pb${randomBytes(3).toString('hex')}_${i}`);
  const tipsSat = handles.reduce((sum, _, i) => sum + tipSat(i), 0);
  const summary: string[] = [];
  let tipd: BenchTipd | undefined;
  try {
    tipd = await startTipd(dataDir, settings[0]);
    const first = tipd.url;
    // The handles claimed (nothing to pay yet: their escrows are empty), ten claims at a time.
    for (let i = 0; i < handles.length; i += 10) await Promise.all(handles.slice(i, i + 10).map((handle) => claim(first, handle)));
    for (const [index, setting] of (settings.length ? settings : [undefined]).entries()) {
      if (index > 0) {
        await tipd.stop();
        tipd = await startTipd(dataDir, setting);
      }
      const { url } = tipd;
      // A supporter for this setting's rounds (a deposit of all rounds at once would need more than alice's side of her channel).
      const token = await fundedSupporter(url, tipsSat * pairs);
      const name = `TIPD_PAYOUT_CONCURRENCY_MAX=${setting ?? 'default'}`;
      // This round's payouts: their amounts by handle; failures counted.
      let paid = new Map<string, bigint>();
      let failed = 0;
      const watch = await follow(url, handles, (event, data) => {
        if (event === 'payout.failed') failed += 1;
        else paid.set(data.handle, BigInt(data.amountMsat));
      });
      const ours: Round[] = [];
      const theirs: Round[] = [];
      try {
        for (let pair = 0; pair < pairs; pair++) {
          paid = new Map();
          failed = 0;
          if ((await quiet()) === undefined) console.log('payouts: the machine was busy for 30 s; measuring anyway');
          const t0 = performance.now();
          await Promise.all(handles.map((handle, i) => call<unknown>(url, 'POST', '/v1/tips', { handle, amountSat: tipSat(i) }, token)));
          const tipped = performance.now();
          await until(
            () => paid.size === count,
            () => `tipd paid ${paid.size} of ${count} (${failed} failed)`,
          );
          const tipdSeconds = (performance.now() - t0) / 1000;
          ours.push({ seconds: tipdSeconds, perSecond: count / tipdSeconds });
          const amounts = [...paid.values()];

          if ((await quiet()) === undefined) console.log('payouts: the machine was busy for 30 s; measuring anyway');
          const t1 = performance.now();
          const outcomes = await Promise.all(
            amounts.map((amountMsat) =>
              hub.keysend({ destination: stack.nodes.carol.pubkey, amountMsat, maxFeeMsat: feeCap(amountMsat, fee), preimage: randomBytes(32) }),
            ),
          );
          const lndSeconds = (performance.now() - t1) / 1000;
          const notPaid = outcomes.filter((o) => o.state !== 'succeeded');
          if (notPaid.length) throw new Error(`LND: ${notPaid.length} of ${count} keysends not paid: ${JSON.stringify(notPaid[0])}`);
          theirs.push({ seconds: lndSeconds, perSecond: count / lndSeconds });
          const [a, b] = [ours.at(-1)!, theirs.at(-1)!];
          console.log(
            `payouts, ${name}, pair ${pair + 1}: tipd ${a.perSecond.toFixed(1)}/s (${a.seconds.toFixed(2)} s, tips answered after ${((tipped - t0) / 1000).toFixed(2)} s) | LND keysends ${b.perSecond.toFixed(1)}/s (${b.seconds.toFixed(2)} s) | ratio ${(a.perSecond / b.perSecond).toFixed(2)}x`,
          );
          // carol sends back what both rounds paid her, so the hub's side of their channel stays as it was.
          await payBack(carol, 'hub', 2n * amounts.reduce((sum, amount) => sum + amount, 0n));
        }
      } finally {
        watch.close();
      }
      const ratios = ours.map((r, i) => r.perSecond / theirs[i]!.perSecond);
      const line = `payouts, ${name}, ${count} at once, medians of ${pairs} pairs: tipd ${median(ours.map((r) => r.perSecond)).toFixed(1)}/s; LND keysends all at once ${median(theirs.map((r) => r.perSecond)).toFixed(1)}/s; tipd/LND, median of the pairs' ratios ${median(ratios).toFixed(2)}x (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})`;
      console.log(line);
      summary.push(line);
    }
  } finally {
    await tipd?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true, maxRetries: 3 });
  }
  if (summary.length > 1) console.log(summary.join('\n'));
} finally {
  if (!wasUp) await down(options.dataDir);
}
