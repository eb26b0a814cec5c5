// Background daemons of the regtest stack: start them detached with their output in a log file,
// remember their pids in the data folder, and stop them, so that `down`, or an `up` after a crash,
// can find and end everything a previous run left behind.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export interface Proc {
  name: string;
  pid: number;
  /** The command line as `ps` shows it, to tell our process from another that got its pid. */
  args: string;
}

const pidFile = (dir: string) => path.join(dir, 'pids.json');

export function readPids(dir: string): Proc[] {
  try {
    return JSON.parse(fs.readFileSync(pidFile(dir), 'utf8')) as Proc[];
  } catch {
    return [];
  }
}

function writePids(dir: string, procs: Proc[]): void {
  fs.writeFileSync(pidFile(dir), JSON.stringify(procs, null, 2));
}

/** Alive (not a zombie), and still the process we started: pids get reused after a reboot or crash. */
export function isOurs(proc: Proc): boolean {
  try {
    return execFileSync('ps', ['-ww', '-p', String(proc.pid), '-o', 'args='], { encoding: 'utf8' }).trim() === proc.args;
  } catch {
    return false;
  }
}

export function startDaemon(dir: string, name: string, command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Proc {
  const logDir = path.join(dir, 'logs');
  fs.mkdirSync(logDir, { recursive: true });
  const log = fs.openSync(path.join(logDir, `${name}.log`), 'a');
  const child = spawn(command, args, { detached: true, stdio: ['ignore', log, log], env });
  fs.closeSync(log);
  if (child.pid === undefined) throw new Error(`could not start ${name} (${command})`);
  child.unref();
  const proc = { name, pid: child.pid, args: [command, ...args].join(' ') };
  writePids(dir, [...readPids(dir).filter((p) => p.name !== name), proc]);
  return proc;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Stops one process: SIGTERM, then SIGKILL if it has not exited within graceMs. */
export async function stopProc(proc: Proc, graceMs = 15_000): Promise<void> {
  if (!signal(proc, 'SIGTERM')) return;
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isOurs(proc)) return;
    await sleep(100);
  }
  signal(proc, 'SIGKILL');
  while (isOurs(proc)) await sleep(50);
}

/** Sends a signal if the process is still ours; false when it is already gone. */
function signal(proc: Proc, name: NodeJS.Signals): boolean {
  if (!isOurs(proc)) return false;
  try {
    process.kill(proc.pid, name);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

/**
 * Stops every recorded daemon, in stages so that none loses its backend while it shuts down:
 * tipd first, then the LND nodes together, then btcd.
 */
export async function stopAll(dir: string, onStop: (name: string) => void = () => {}): Promise<void> {
  const procs = readPids(dir).filter(isOurs);
  const stage = (p: Proc) => (p.name === 'tipd' ? 0 : p.name === 'btcd' ? 2 : 1);
  for (const current of [0, 1, 2]) {
    await Promise.all(
      procs
        .filter((p) => stage(p) === current)
        .map((p) => {
          onStop(p.name);
          return stopProc(p);
        }),
    );
  }
  fs.rmSync(pidFile(dir), { force: true });
}

export function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Thrown by a check to stop waiting at once: what it waits for will not happen. */
export class GaveUp extends Error {}

/** Polls check() until it returns a value other than undefined, or throws after timeoutMs. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 120_000, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      if (err instanceof GaveUp) throw err;
      lastError = err;
    }
    await sleep(intervalMs);
  }
  const detail = lastError instanceof Error ? `: ${lastError.message}` : '';
  throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}${detail}`);
}
