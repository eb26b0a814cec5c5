// What integration tests share: LND adapters for the stack's nodes, and tipd processes of their
// own (own data folder, own port), never the stack's tipd.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, beforeEach, expect, inject } from 'vitest';
import { Lnd } from '../../src/ln/lnd.ts';
import { nodeEnv, nodeFlags } from '../../src/process/node-settings.ts';
import { waitFor } from '../../regtest/procs.ts';
import { repoRoot, tipdEnv, type Stack } from '../../regtest/stack.ts';
import type { NodeName } from '../../regtest/topology.ts';

export const stack = (): Stack => inject('stack');

const clients = new Map<string, Lnd>();

/** An adapter for one node of the stack (admin macaroon unless another is named), made once. */
export function lndOf(name: NodeName, macaroonPath?: string): Lnd {
  const node = stack().nodes[name];
  const key = `${name}:${macaroonPath ?? ''}`;
  const cached = clients.get(key);
  if (cached) return cached;
  const lnd = new Lnd({
    socket: node.socket,
    cert: fs.readFileSync(node.cert).toString('base64'),
    macaroon: fs.readFileSync(macaroonPath ?? node.macaroon).toString('base64'),
    timeoutMs: 30_000,
  });
  clients.set(key, lnd);
  return lnd;
}

export interface TipdProcess {
  url: string;
  child: ChildProcess;
  /** Every line tipd printed on stdout, parsed. */
  logs: Record<string, unknown>[];
  stderr: string[];
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Starts a tipd on the hub (tipd's own baked macaroon) on a free port; resolves once it listens.
 * Its data folder is a fresh temporary one, removed when it exits, unless `dataDir` is given. It
 * runs with tipd's Node.js settings (src/process/node-settings.ts), or with `flags`.
 */
export async function startTipd(env: Record<string, string> = {}, dataDir?: string, flags: readonly string[] = nodeFlags): Promise<TipdProcess> {
  const s = stack();
  const ownDir = dataDir === undefined;
  dataDir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'tipd-test-'));
  const child = spawn(process.execPath, [...flags, path.join(repoRoot, 'src/main.ts')], {
    env: { PATH: process.env.PATH, ...nodeEnv, ...tipdEnv(s, s.nodes.hub, s.tipd.macaroon, 0, dataDir), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  const stderr: string[] = [];
  // Its own folder goes with it, however it ends (stopped, or exiting by itself).
  const exited = new Promise<number | null>((resolve) =>
    child.once('close', (code) => {
      if (ownDir) fs.rmSync(dataDir, { recursive: true, force: true });
      resolve(code);
    }),
  );
  readline.createInterface({ input: child.stderr }).on('line', (line) => stderr.push(line));
  const url = await new Promise<string>((resolve, reject) => {
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      const entry = JSON.parse(line) as Record<string, unknown>;
      logs.push(entry);
      if (entry.msg === 'listening') resolve(entry.url as string);
    });
    void exited.then((code) => reject(new Error(`tipd exited with ${code} before listening: ${stderr.join('\n')}`)));
  });
  return {
    url,
    child,
    logs,
    stderr,
    exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** A port free right now, for a tipd whose public URL must name it before it starts. */
export const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });

/**
 * A tipd reached as wallets and browsers reach one: over https (the stack's certificate for
 * localhost) at its public URL, `https://localhost:<port>`; its plain-http `url` stays for the tests.
 */
export async function startPublicTipd(env: Record<string, string> = {}, dataDir?: string): Promise<TipdProcess & { publicUrl: string }> {
  const tlsPort = await freePort();
  const publicUrl = `https://localhost:${tlsPort}`;
  const tipd = await startTipd(
    {
      TIPD_TLS_CERT_PATH: stack().tipd.caCert.replace(/ca\.crt$/, 'tipd.crt'),
      TIPD_TLS_KEY_PATH: stack().tipd.caCert.replace(/ca\.crt$/, 'tipd.key'),
      TIPD_TLS_PORT: String(tlsPort),
      TIPD_PUBLIC_URL: publicUrl,
      ...env,
    },
    dataDir,
  );
  return Object.assign(tipd, { publicUrl });
}

/** Polls until check() returns a value other than undefined (the stack's own waitFor). */
export const eventually = <T>(check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> => waitFor('the condition', check, timeoutMs, 200);

export interface ApiAnswer<T = any> {
  status: number;
  body: T;
}

/** One HTTP call to a tipd; `body` may be an object (sent as JSON) or raw text. */
export async function api<T = any>(
  url: string,
  method: string,
  route: string,
  options: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<ApiAnswer<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
  }
  const res = await fetch(`${url}${route}`, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

/** A tipd for the tests of one file: started before them, stopped after; `call` talks to it. */
export function tipdForFile(env: Record<string, string> = {}) {
  let tipd: TipdProcess | undefined;
  beforeAll(async () => {
    tipd = await startTipd(env);
  });
  afterAll(async () => {
    await tipd?.stop();
  });
  return {
    get url() {
      return tipd!.url;
    },
    call: <T = any>(method: string, route: string, options?: Parameters<typeof api>[3]) => api<T>(tipd!.url, method, route, options),
  };
}

/**
 * The tipds of a crash test: each test of the file has a data folder of its own (`dataDir`, named
 * after `prefix`), on which `start` starts tipd again and again, the doomed one first. After each
 * test the one started last is stopped and the folder removed.
 */
export function tipdsAcrossCrashes(prefix: string) {
  let dataDir = '';
  let latest: TipdProcess | undefined;
  beforeEach(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  });
  afterEach(async () => {
    await latest?.stop();
    latest = undefined;
    fs.rmSync(dataDir, { recursive: true, force: true });
  });
  return {
    get dataDir() {
      return dataDir;
    },
    /** The tipd this test started last, running, stopped or killed. */
    get latest() {
      if (!latest) throw new Error('no tipd started yet in this test');
      return latest;
    },
    async start(env: Record<string, string> = {}) {
      latest = await startTipd(env, dataDir);
      return latest;
    },
  };
}

/** A new supporter of the tipd at `url`, with `sat` deposited by paying the invoice from alice. */
export async function fundedSupporter(url: string, sat: number): Promise<{ id: string; token: string; depositId: string }> {
  const supporter = (await api(url, 'POST', '/v1/accounts')).body as { id: string; token: string };
  const deposit = await api(url, 'POST', '/v1/deposits', { token: supporter.token, body: { amountSat: sat } });
  expect(deposit.status).toBe(201);
  const paid = await lndOf('alice').payInvoice({ paymentRequest: deposit.body.paymentRequest, maxFeeMsat: 10_000n });
  expect(paid.state).toBe('succeeded');
  await eventually(async () =>
    (await api(url, 'GET', `/v1/deposits/${deposit.body.id}`, { token: supporter.token })).body.state === 'settled' ? true : undefined,
  );
  return { ...supporter, depositId: deposit.body.id as string };
}

/**
 * One request of a wallet played by an independent LNURL client (tests/integration/wallets/lnurl-pay.ts),
 * in a process of its own that trusts the stack's CA, as a wallet would: what it printed, parsed.
 */
export async function wallet(...args: string[]): Promise<any> {
  const script = path.join(import.meta.dirname, 'wallets/lnurl-pay.ts');
  const { stdout } = await promisify(execFile)(process.execPath, [script, ...args], {
    env: { ...process.env, NODE_EXTRA_CA_CERTS: stack().tipd.caCert },
    timeout: 60_000,
  }).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
  return JSON.parse(stdout.trim().split('\n').at(-1)!);
}
