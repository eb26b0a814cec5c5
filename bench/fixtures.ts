// What the benchmarks start from: a ledger in a fresh folder with funded supporters, made through
// the ledger itself (the one writer), with no Lightning node needed; and the tipd processes they
// measure, without LND or on the regtest stack.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { accounts, Ledger } from '../src/ledger/ledger.ts';
import { openStore } from '../src/ledger/store.ts';
import { nodeEnv, nodeFlags } from '../src/process/node-settings.ts';
import { Supporters } from '../src/supporters/supporters.ts';
import { tipdEnv, type Stack } from '../regtest/stack.ts';

const root = path.resolve(import.meta.dirname, '..');

export async function fundedLedger(supporterCount: number, balanceMsat: bigint, dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tipd-bench-'))) {
  const store = await openStore(path.join(dataDir, 'ledger'));
  const ledger = await Ledger.open(store);
  const supporters = new Supporters(ledger);
  const created: { id: string; token: string }[] = [];
  for (let i = 0; i < supporterCount; i += 5_000) {
    const wave = await Promise.all(Array.from({ length: Math.min(5_000, supporterCount - i) }, () => supporters.create()));
    await Promise.all(wave.map(({ id }) => ledger.run((tx) => tx.transfer('deposit', accounts.deposits, accounts.supporter(id), balanceMsat))));
    created.push(...wave);
  }
  return { dataDir, store, ledger, supporters: created };
}

export const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;

/** How many rounds a bench runs: the environment variable `name`, or `otherwise`. */
export function roundsFrom(name: string, otherwise: number): number {
  const rounds = Number(process.env[name] ?? otherwise);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`${name} must be a whole number of rounds, at least 1`);
  return rounds;
}

/** The median (the upper one of an even count), lowest and highest of figures from several rounds. */
export function spread(figures: number[]): { median: number; min: number; max: number } {
  if (figures.length === 0) throw new Error('no figures: a bench needs at least one round');
  const sorted = [...figures].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)]!, min: sorted[0]!, max: sorted.at(-1)! };
}

/** Node.js options of the processes a bench starts (a ledger round, tipd, a close): tipd's own, unless BENCH_NODE_OPTIONS says otherwise. */
export const benchNodeOptions = (): string[] =>
  process.env.BENCH_NODE_OPTIONS === undefined ? [...nodeFlags] : process.env.BENCH_NODE_OPTIONS.split(' ').filter(Boolean);

/**
 * Runs `script` with `args` in a process of its own, started as tipd is (`benchNodeOptions`, tipd's
 * environment), and returns the JSON it prints: a round measured so has tipd's garbage collector
 * and malloc settings, and its peak RSS is its own.
 */
export async function inOwnProcess<T>(script: string, args: string[]): Promise<T> {
  const child = spawn(process.execPath, [...benchNodeOptions(), script, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...nodeEnv },
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const code = await new Promise((resolve) => child.once('close', resolve));
  if (code !== 0) throw new Error(`${path.basename(script)} ${args[0] ?? ''} exited with ${String(code)}`);
  return JSON.parse(out) as T;
}

/** A port nobody uses now. */
export const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });

/** A tipd a bench started: its URL, and `stop` to end it. */
export interface BenchTipd {
  url: string;
  stop(): Promise<void>;
}

/**
 * A tipd process on `dataDir`, its public URL its own, pointed at an LND that is not there: what
 * needs only the ledger (tips, handles, pages) works; its health says 503. Resolves once it listens; `stop` ends it.
 */
export async function tipdWithoutLnd(dataDir: string, env: Record<string, string> = {}): Promise<BenchTipd> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const tipd = spawn(process.execPath, [...benchNodeOptions(), path.join(root, 'src/main.ts')], {
    env: {
      ...nodeEnv,
      PATH: process.env.PATH,
      TIPD_NETWORK: 'regtest',
      TIPD_PORT: String(port),
      TIPD_DATA_DIR: dataDir,
      // Its own address (plain http: regtest), for its pages' LNURL and links.
      TIPD_PUBLIC_URL: url,
      // No LND: its warnings about that would fill the output.
      TIPD_LOG_LEVEL: 'error',
      TIPD_RATE_LIMIT_PER_MINUTE: '0',
      TIPD_LND_SOCKET: '127.0.0.1:9',
      TIPD_LND_CERT: 'AAAA',
      TIPD_LND_MACAROON: 'AAAA',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  readline.createInterface({ input: tipd.stdout }).on('line', (line) => process.stderr.write(`tipd: ${line}\n`));
  // It answers /healthz (503: no LND) once it listens.
  return whenAnswering(tipd, url, { ready: () => true, triesMax: 100, failure: 'tipd did not start' });
}

/**
 * A tipd process on the stack's hub (tipd's own macaroon) with its data in `dataDir`, its public URL
 * its own, no rate limits, and `env` on top. Resolves once it is healthy (LND ready: payouts start
 * then); `stop` ends it.
 */
export async function tipdOnStack(stack: Stack, dataDir: string, env: Record<string, string> = {}): Promise<BenchTipd> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const tipd = spawn(process.execPath, [...benchNodeOptions(), path.join(root, 'src/main.ts')], {
    env: {
      PATH: process.env.PATH,
      ...nodeEnv,
      ...tipdEnv(stack, stack.nodes.hub, stack.tipd.macaroon, port, dataDir),
      TIPD_PUBLIC_URL: url,
      TIPD_LOG_LEVEL: 'error',
      TIPD_RATE_LIMIT_PER_MINUTE: '0',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return whenAnswering(tipd, url, { ready: (answer) => answer.ok, triesMax: 300, failure: 'tipd did not become healthy' });
}

/**
 * `tipd`, starting at `url`, once its /healthz gives an answer that is `ready`, asked every 100 ms up
 * to `triesMax` times; if it exits or never answers so, it is stopped and `failure` thrown.
 */
async function whenAnswering(
  tipd: ChildProcess,
  url: string,
  { ready, triesMax, failure }: { ready: (answer: Response) => boolean; triesMax: number; failure: string },
): Promise<BenchTipd> {
  const stop = async () => {
    if (tipd.exitCode !== null || tipd.signalCode !== null) return;
    tipd.kill('SIGTERM');
    await new Promise((resolve) => tipd.once('close', resolve));
  };
  for (let tries = 0; ; tries++) {
    if (tries > triesMax || tipd.exitCode !== null) {
      await stop();
      throw new Error(failure);
    }
    if (await fetch(`${url}/healthz`).then(ready, () => false)) return { url, stop };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
