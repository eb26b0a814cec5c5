// The regtest stack's own commands, run as a user runs them, on a second stack beside the suite's
// (its own data folder, ports shifted): an `up` killed half-way, `up` again, `up` when all is up,
// `up` after daemons crashed, and `down` leaving no process and no port behind.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isOurs, portInUse, readPids, type Proc } from '../../regtest/procs.ts';
import { allPortsOf, localPorts, readStack, repoRoot } from '../../regtest/stack.ts';
import { nodeNames } from '../../regtest/topology.ts';

const portOffset = 1000;
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tipd-regtest-'));
const env = { ...process.env, TIPD_REGTEST_DIR: dataDir, TIPD_REGTEST_PORT_OFFSET: String(portOffset) };
const ports = localPorts(portOffset);
const allPorts = allPortsOf(ports);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

/** Runs `node regtest/cli.ts <command>`; `killWhen` sends SIGKILL once stderr matches it. */
function regtest(command: 'up' | 'down', killWhen?: RegExp): Promise<Run> {
  const started = Date.now();
  const child = spawn(process.execPath, [path.join(repoRoot, 'regtest/cli.ts'), command], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    if (killWhen?.test(stderr)) child.kill('SIGKILL');
  });
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr, seconds: (Date.now() - started) / 1000 })));
}

const healthy = async () => (await fetch(`http://127.0.0.1:${ports.tipd}/healthz`)).status === 200;
const alive = (procs: Proc[]) => procs.filter(isOurs).map((p) => p.name);

// Each step starts or stops a whole stack beside the suite's own: give it room on two cores.
describe('the regtest stack commands', { timeout: 300_000 }, () => {
  afterAll(async () => {
    await regtest('down');
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('recover from an `up` killed half-way: the next `up` ends the leftovers and starts afresh', async () => {
    const killed = await regtest('up', /LND nodes started/);
    expect(killed.code).toBeNull();
    const leftovers = readPids(dataDir);
    expect(alive(leftovers)).toEqual(expect.arrayContaining(['btcd', ...nodeNames]));

    const run = await regtest('up');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('stopping leftover');
    expect(alive(leftovers)).toEqual([]);
    expect(await healthy()).toBe(true);
    expect(readStack(dataDir)?.tipd.url).toBe(`http://127.0.0.1:${ports.tipd}`);
  });

  it('return at once from `up` when everything is already up, changing nothing', async () => {
    const before = readPids(dataDir);
    const run = await regtest('up');
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('already up');
    expect(run.seconds).toBeLessThan(10);
    expect(readPids(dataDir)).toEqual(before);
  });

  it('bring the stack back with `up` after the hub and tipd were killed (tipd saying 503 meanwhile)', async () => {
    const before = readPids(dataDir);
    const hub = before.find((p) => p.name === 'hub')!;
    process.kill(hub.pid, 'SIGKILL');
    const res = await fetch(`http://127.0.0.1:${ports.tipd}/healthz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: { code: 'lnd_unavailable' } });
    process.kill(before.find((p) => p.name === 'tipd')!.pid, 'SIGKILL');

    const run = await regtest('up');
    expect(run.code, run.stderr).toBe(0);
    expect(alive(before)).toEqual([]);
    expect(alive(readPids(dataDir)).sort()).toEqual(['btcd', ...nodeNames, 'x', 'lightning-address', 'tipd'].sort());
    expect(await healthy()).toBe(true);
  });

  it('leave no process and no port behind after `down`', async () => {
    const procs = readPids(dataDir);
    const run = await regtest('down');
    expect(run.code).toBe(0);
    expect(alive(procs)).toEqual([]);
    for (const port of allPorts) expect(await portInUse(port), `port ${port}`).toBe(false);
    expect(readStack(dataDir)).toBeUndefined();
  });
});
