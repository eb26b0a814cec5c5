// tipd as a process on the hub: health, the JSON error format, logs, configuration errors and a
// clean shutdown.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../regtest/stack.ts';
import { portInUse } from '../../regtest/procs.ts';
import { nodeFlags } from '../../src/process/node-settings.ts';
import { api, stack, startTipd, type TipdProcess } from './helpers.ts';

describe('tipd on the hub', () => {
  let tipd: TipdProcess;
  beforeAll(async () => {
    tipd = await startTipd();
  });
  afterAll(async () => {
    await tipd.stop();
  });

  it('reports healthy with the hub it drives', async () => {
    const res = await fetch(`${tipd.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ok', network: 'regtest', lnd: { pubkey: stack().nodes.hub.pubkey, alias: 'hub' } });
  });

  it.each([
    { what: 'an unknown route', method: 'GET', route: '/v1/nothing-here', body: undefined, status: 404, code: 'not_found' },
    { what: 'a body that is not JSON', method: 'POST', route: '/v1/anything', body: '{"amountSat": 1', status: 400, code: 'invalid_json' },
    {
      what: 'a body over the size limit',
      method: 'POST',
      route: '/v1/anything',
      body: JSON.stringify({ pad: 'x'.repeat(20_000) }),
      status: 413,
      code: 'body_too_large',
    },
    {
      what: 'a body with a key twice (JSON lets the last win)',
      method: 'POST',
      route: '/v1/tips',
      body: '{"handle":"carol","amountSat":1,"amountSat":100000000}',
      status: 400,
      code: 'invalid_json',
    },
    {
      what: 'a body in UTF-16 (UTF-8 only)',
      method: 'POST',
      route: '/v1/tips',
      body: Buffer.from('{"handle":"carol","amountSat":1}', 'utf16le'),
      contentType: 'application/json; charset=utf-16le',
      status: 415,
      code: 'unsupported_encoding',
    },
  ])('answers $what with $status and code $code in the JSON error format', async ({ method, route, body, status, code, ...rest }) => {
    const contentType = 'contentType' in rest ? rest.contentType : 'application/json';
    const res = await fetch(`${tipd.url}${route}`, { method, body, headers: body ? { 'content-type': contentType } : {} });
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const json = (await res.json()) as { error: { code: string; message: string } };
    expect(json.error.code).toBe(code);
    expect(json.error.message.length).toBeGreaterThan(0);
  });

  it('logs one JSON object per line, with no secret in them', async () => {
    await fetch(`${tipd.url}/v1/nothing-here`);
    const text = tipd.logs.map((l) => JSON.stringify(l)).join('\n');
    expect(tipd.logs.some((l) => l.msg === 'request' && l.status === 404 && l.path === '/v1/nothing-here')).toBe(true);
    expect(tipd.logs.every((l) => typeof l.time === 'string' && typeof l.level === 'string' && l.service === 'tipd')).toBe(true);
    expect(text).not.toContain(stack().tipd.adminToken);
    expect(text).not.toContain(fs.readFileSync(stack().tipd.macaroon).toString('base64').slice(0, 40));
  });
});

describe("tipd's Node.js settings", () => {
  it('started with them, it says nothing; started without them, it warns once, naming them', async () => {
    const tuned = await startTipd();
    const bare = await startTipd({}, undefined, []);
    try {
      const warnings = (t: TipdProcess) => t.logs.filter((l) => l.level === 'warn' && Array.isArray(l.nodeFlags));
      expect(warnings(tuned)).toEqual([]);
      expect(warnings(bare)).toHaveLength(1);
      expect(warnings(bare)[0]!.nodeFlags).toEqual(nodeFlags);
    } finally {
      await Promise.all([tuned.stop(), bare.stop()]);
    }
  });
});

describe('tipd whose LND is stopped', () => {
  it('answers /healthz with 503 and the reason, and keeps waiting for LND', async () => {
    // A port where no LND listens: what tipd sees when its node is down.
    let port = 10_190;
    while (await portInUse(port)) port += 1;
    const tipd = await startTipd({ TIPD_LND_SOCKET: `localhost:${port}`, TIPD_LND_TIMEOUT_MS: '2000' });
    try {
      const res = await fetch(`${tipd.url}/healthz`);
      expect(res.status).toBe(503);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('lnd_unavailable');
      expect(tipd.child.exitCode).toBeNull();
      // The operator still sees the ledger's own sums; the hub's side is unknown.
      const audit = await api(tipd.url, 'GET', '/v1/admin/audit', { token: stack().tipd.adminToken });
      expect(audit.status).toBe(200);
      expect(audit.body).toMatchObject({
        liabilitiesMsat: { total: '0' },
        hub: { channelBalanceMsat: null, coversLiabilities: null, unknownBecause: 'lnd_unavailable' },
        ledger: { sumMsat: '0', balanced: true },
      });
    } finally {
      await tipd.stop();
    }
  });
});

describe('tipd stopping', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)('on %s stops accepting, exits 0 and logs that it stopped', async (signal) => {
    const tipd = await startTipd();
    const code = await tipd.stop(signal);
    expect(code).toBe(0);
    expect(tipd.logs.at(-1)).toMatchObject({ msg: 'stopped' });
    expect(tipd.logs.some((l) => l.msg === 'shutting down' && l.reason === signal)).toBe(true);
  });
});

describe('tipd with a bad configuration', () => {
  it.each([
    [{ TIPD_PORT: 'eighty' }, 'TIPD_PORT'],
    [{ TIPD_NETWORK: 'moon' }, 'TIPD_NETWORK'],
    [{ TIPD_LND_MACAROON_PATH: '/nonexistent/tipd.macaroon' }, 'TIPD_LND_MACAROON_PATH'],
  ])('with %o exits 1 at once with one line naming %s', async (env, variable) => {
    const s = stack();
    const child = spawn(process.execPath, [path.join(repoRoot, 'src/main.ts')], {
      env: {
        PATH: process.env.PATH,
        TIPD_NETWORK: 'regtest',
        TIPD_LND_SOCKET: s.nodes.hub.socket,
        TIPD_LND_CERT_PATH: s.nodes.hub.cert,
        TIPD_LND_MACAROON_PATH: s.tipd.macaroon,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise((resolve) => child.once('close', resolve));
    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(new RegExp(`^tipd: invalid configuration: .*${variable}`));
  });

  it('exits 1 with the reason when LND is on another network than configured', async () => {
    const tipd = await startTipd({ TIPD_NETWORK: 'signet' });
    expect(await tipd.exited).toBe(1);
    expect(tipd.logs.some((l) => l.level === 'fatal' && l.code === 'lnd_wrong_network')).toBe(true);
  });
});
