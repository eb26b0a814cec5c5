import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, payoutConcurrencyMaxDefault } from '../../src/config.ts';
import { localTls } from '../../regtest/tls.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tipd-config-'));
const certFile = path.join(dir, 'tls.cert');
const macaroonFile = path.join(dir, 'tipd.macaroon');
fs.writeFileSync(certFile, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
fs.writeFileSync(macaroonFile, Buffer.from([0x02, 0x01, 0x03, 0xff]));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const minimal = { TIPD_LND_SOCKET: 'localhost:10009', TIPD_LND_CERT_PATH: certFile, TIPD_LND_MACAROON_PATH: macaroonFile };

describe('configuration from the environment', () => {
  it('fills in defaults and reads the credential files as base64', () => {
    const config = loadConfig(minimal);
    expect(config).toMatchObject({ network: 'mainnet', http: { host: '127.0.0.1', port: 8470 }, dataDir: './data', adminToken: undefined });
    expect(config.lnd).toEqual({
      socket: 'localhost:10009',
      cert: fs.readFileSync(certFile).toString('base64'),
      macaroon: 'AgED/w==',
      timeoutMs: 30_000,
    });
  });

  it('serves metrics on a port of its own only when TIPD_METRICS_PORT is set, on 127.0.0.1 unless told otherwise, never on the API port', () => {
    expect(loadConfig(minimal).metrics).toBeUndefined();
    expect(loadConfig({ ...minimal, TIPD_METRICS_PORT: '9470' }).metrics).toEqual({ host: '127.0.0.1', port: 9470 });
    expect(loadConfig({ ...minimal, TIPD_METRICS_PORT: '9470', TIPD_METRICS_HOST: '10.0.0.5' }).metrics).toEqual({ host: '10.0.0.5', port: 9470 });
    expect(() => loadConfig({ ...minimal, TIPD_METRICS_PORT: '8470' })).toThrow(/TIPD_METRICS_PORT: must differ from TIPD_PORT/);
  });

  it('limits sign-ins with a wallet to 30 a minute per address unless told otherwise (0: no limit)', () => {
    expect(loadConfig(minimal).auth).toEqual({ ratePerMinute: 30 });
    expect(loadConfig({ ...minimal, TIPD_AUTH_RATE_LIMIT_PER_MINUTE: '0' }).auth).toEqual({ ratePerMinute: 0 });
    expect(() => loadConfig({ ...minimal, TIPD_AUTH_RATE_LIMIT_PER_MINUTE: '-1' })).toThrow(/TIPD_AUTH_RATE_LIMIT_PER_MINUTE/);
  });

  it('sends at most TIPD_PAYOUT_CONCURRENCY_MAX payouts at once, from 1 to 483 (the HTLCs LND takes in flight on one channel)', () => {
    expect(loadConfig(minimal).payouts.sendingMax).toBe(payoutConcurrencyMaxDefault);
    expect(loadConfig({ ...minimal, TIPD_PAYOUT_CONCURRENCY_MAX: '1' }).payouts.sendingMax).toBe(1);
    expect(loadConfig({ ...minimal, TIPD_PAYOUT_CONCURRENCY_MAX: '483' }).payouts.sendingMax).toBe(483);
    for (const bad of ['0', '484', '8.5', 'many']) {
      expect(() => loadConfig({ ...minimal, TIPD_PAYOUT_CONCURRENCY_MAX: bad })).toThrow(/TIPD_PAYOUT_CONCURRENCY_MAX: must be/);
    }
  });

  it('waits for slow clients seconds, not minutes: 10 s for the headers, 30 s for the whole request, 5 s idle between requests; 2,000 connections', () => {
    expect(loadConfig(minimal).http).toEqual({
      host: '127.0.0.1',
      port: 8470,
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
      keepAliveTimeoutMs: 5_000,
      connectionsMax: 2_000,
    });
    const tuned = loadConfig({
      ...minimal,
      TIPD_HTTP_HEADERS_TIMEOUT_MS: '30000',
      TIPD_HTTP_REQUEST_TIMEOUT_MS: '30000',
      TIPD_HTTP_KEEP_ALIVE_TIMEOUT_MS: '65000',
      TIPD_HTTP_CONNECTIONS_MAX: '10000',
    });
    expect(tuned.http).toMatchObject({ headersTimeoutMs: 30_000, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 65_000, connectionsMax: 10_000 });
  });

  it('caps the events websocket at 100 sockets per address, 20 without a token, unless told otherwise (0: no limit)', () => {
    expect(loadConfig(minimal).events).toEqual({ clientsPerAddressMax: 100, anonymousClientsPerAddressMax: 20 });
    expect(loadConfig({ ...minimal, TIPD_EVENTS_CLIENTS_PER_ADDRESS_MAX: '0', TIPD_EVENTS_ANONYMOUS_PER_ADDRESS_MAX: '500' }).events).toEqual({
      clientsPerAddressMax: 0,
      anonymousClientsPerAddressMax: 500,
    });
    expect(() => loadConfig({ ...minimal, TIPD_EVENTS_ANONYMOUS_PER_ADDRESS_MAX: '-1' })).toThrow(/TIPD_EVENTS_ANONYMOUS_PER_ADDRESS_MAX/);
  });

  it('takes credentials inline, as base64 or hex, instead of files', () => {
    const config = loadConfig({ TIPD_LND_SOCKET: 'lnd:10009', TIPD_LND_CERT: 'LS0tLS1C', TIPD_LND_MACAROON: '020103ff' });
    expect(config.lnd.cert).toBe('LS0tLS1C');
    expect(config.lnd.macaroon).toBe('AgED/w==');
  });

  it('takes a public URL of https, or of http on regtest or to a .onion host, as its base alone', () => {
    expect(loadConfig({ ...minimal, TIPD_PUBLIC_URL: 'https://tips.example.com/' }).publicUrl).toBe('https://tips.example.com');
    expect(loadConfig({ ...minimal, TIPD_NETWORK: 'regtest', TIPD_PUBLIC_URL: 'http://127.0.0.1:8470' }).publicUrl).toBe('http://127.0.0.1:8470');
    expect(loadConfig({ ...minimal, TIPD_PUBLIC_URL: 'http://tipsxyz.onion' }).publicUrl).toBe('http://tipsxyz.onion');
    expect(loadConfig(minimal).publicUrl).toBeUndefined();
  });

  it('reads the TLS certificate and key, served on their own port or on the HTTP port', async () => {
    const pair = await localTls(path.join(dir, 'tls'));
    const config = loadConfig({ ...minimal, TIPD_TLS_CERT_PATH: pair.cert, TIPD_TLS_KEY_PATH: pair.key, TIPD_TLS_PORT: '8443' });
    expect(config.tls).toEqual({ cert: fs.readFileSync(pair.cert), key: fs.readFileSync(pair.key), port: 8443 });
    expect(loadConfig({ ...minimal, TIPD_TLS_CERT_PATH: pair.cert, TIPD_TLS_KEY_PATH: pair.key }).tls?.port).toBeUndefined();
    // A key that is not the certificate's, or a file that is no PEM, is refused before tipd listens.
    expect(() => loadConfig({ ...minimal, TIPD_TLS_CERT_PATH: pair.cert, TIPD_TLS_KEY_PATH: macaroonFile })).toThrow(
      /^TIPD_TLS_CERT_PATH, TIPD_TLS_KEY_PATH: not a PEM certificate and its key/,
    );
    expect(() => loadConfig({ ...minimal, TIPD_TLS_CERT_PATH: pair.cert, TIPD_TLS_KEY_PATH: pair.caCert })).toThrow(ConfigError);
    expect(loadConfig(minimal).tls).toBeUndefined();
  });

  it('ignores variables that are set but blank, and ones that are not tipd’s', () => {
    expect(loadConfig({ ...minimal, TIPD_PORT: '', HOME: '/root' }).http.port).toBe(8470);
  });

  it.each([
    [{ TIPD_PORT: '80.5' }, 'TIPD_PORT: must be a whole number from 0 to 65535'],
    [{ TIPD_PORT: '1e3' }, 'TIPD_PORT: must be a whole number from 0 to 65535'],
    [{ TIPD_PORT: '70000' }, 'TIPD_PORT: must be from 0 to 65535'],
    [{ TIPD_NETWORK: 'bitcoin' }, 'TIPD_NETWORK:'],
    [{ TIPD_HTTP_HEADERS_TIMEOUT_MS: '0' }, 'TIPD_HTTP_HEADERS_TIMEOUT_MS: must be from 1000 to 600000'],
    [
      { TIPD_HTTP_HEADERS_TIMEOUT_MS: '20000', TIPD_HTTP_REQUEST_TIMEOUT_MS: '15000' },
      'TIPD_HTTP_HEADERS_TIMEOUT_MS: must be at most TIPD_HTTP_REQUEST_TIMEOUT_MS (15000)',
    ],
    [{ TIPD_HTTP_REQUEST_TIMEOUT_MS: '0' }, 'TIPD_HTTP_REQUEST_TIMEOUT_MS: must be from 1000 to 3600000'],
    [{ TIPD_HTTP_KEEP_ALIVE_TIMEOUT_MS: '0' }, 'TIPD_HTTP_KEEP_ALIVE_TIMEOUT_MS: must be from 1000 to 600000'],
    [{ TIPD_HTTP_CONNECTIONS_MAX: '5' }, 'TIPD_HTTP_CONNECTIONS_MAX: must be from 10 to 1000000'],
    [{ TIPD_LND_SOCKET: 'localhost' }, 'TIPD_LND_SOCKET: must be host:port'],
    [{ TIPD_LND_SOCKET: undefined }, 'TIPD_LND_SOCKET:'],
    [{ TIPD_ADMIN_TOKEN: 'short' }, 'TIPD_ADMIN_TOKEN: must be at least 32 characters'],
    [{ TIPD_LND_CERT_PATH: undefined }, 'TIPD_LND_CERT_PATH: set exactly one of TIPD_LND_CERT_PATH (a file) or TIPD_LND_CERT (base64)'],
    [{ TIPD_LND_MACAROON: 'AgED' }, 'TIPD_LND_MACAROON_PATH: set exactly one of'],
    [{ TIPD_LND_MACAROON_PATH: undefined, TIPD_LND_MACAROON: 'not base64!' }, 'TIPD_LND_MACAROON: must be base64 or hex'],
    [{ TIPD_LND_MACAROON_PATH: path.join(dir, 'missing') }, 'TIPD_LND_MACAROON_PATH: cannot read'],
    [{ TIPD_PUBLIC_URL: 'http://tips.example.com' }, 'TIPD_PUBLIC_URL: must be https:// (wallets refuse LNURL over plain http'],
    [{ TIPD_PUBLIC_URL: 'https://tips.example.com/tipd' }, 'TIPD_PUBLIC_URL: must be the base of the site alone'],
    [{ TIPD_PUBLIC_URL: 'ftp://tips.example.com' }, 'TIPD_PUBLIC_URL: must be an http(s) URL'],
    [{ TIPD_PUBLIC_URL: 'not a url' }, 'TIPD_PUBLIC_URL: must be an http(s) URL'],
    [{ TIPD_PUBLIC_URL: 'https://tips.example.com?x=1' }, 'TIPD_PUBLIC_URL: must be the base of the site alone'],
    [{ TIPD_PUBLIC_URL: 'https://me:secret@tips.example.com' }, 'TIPD_PUBLIC_URL: must be the base of the site alone'],
    [{ TIPD_TLS_CERT_PATH: certFile, TIPD_TLS_KEY_PATH: macaroonFile, TIPD_TLS_PORT: '8470' }, 'TIPD_TLS_PORT: must differ from TIPD_PORT'],
    [{ TIPD_TLS_CERT_PATH: certFile }, 'TIPD_TLS_KEY_PATH: set both TIPD_TLS_CERT_PATH and TIPD_TLS_KEY_PATH'],
    [{ TIPD_TLS_PORT: '8443' }, 'TIPD_TLS_PORT: serves TLS: set TIPD_TLS_CERT_PATH and TIPD_TLS_KEY_PATH too'],
    [{ TIPD_TLS_CERT_PATH: certFile, TIPD_TLS_KEY_PATH: path.join(dir, 'missing') }, 'TIPD_TLS_KEY_PATH: cannot read'],
  ])('rejects %o with one line: %s', (change, expected) => {
    let error: unknown;
    try {
      loadConfig({ ...minimal, ...change });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain(expected);
    expect(message).not.toContain('\n');
  });
});
