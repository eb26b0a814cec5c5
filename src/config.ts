// tipd's configuration: read once at start from the environment, validated with zod. A bad or
// missing value is one line naming the variable. Files named by *_PATH are read here, so the rest
// of tipd only ever sees values.
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { z } from 'zod';

export const networks = ['mainnet', 'testnet', 'testnet4', 'signet', 'regtest'] as const;
export type Network = (typeof networks)[number];

/**
 * Most payouts out at once (held and sent, waiting for LND's answer), by default: where tipd's rate
 * stops growing. `npm run bench:payouts` on the regtest stack (2 cores; hub to carol, one channel),
 * N handles due at once, tipd against the hub's own keysends of the same amounts all at once, medians
 * of interleaved pairs. N = 200, five pairs: 8 → 50 payouts/s (0.40× LND), 32 → 89 (0.74×),
 * 64 → 90 (0.75×), 128 → 104 (0.84×), 200 → 109 (0.93×), LND 119–124/s. N = 400, three pairs:
 * 128 → 93/s (0.78×), 200 → 104 (0.87×), 400 → 101 (0.85×). More in flight gains nothing, and
 * 200 leaves 283 of the 483 HTLCs an LND peer accepts on a channel by default for withdrawals and
 * other traffic; a hub whose payouts go through a peer that accepts fewer (Core Lightning and
 * Eclair: 30) must set it lower, or the payouts past those slots find no route, fail and back off.
 */
export const payoutConcurrencyMaxDefault = 200;

const integer = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, `must be a whole number from ${min} to ${max}`)
    .transform(Number)
    .pipe(z.number().min(min, `must be from ${min} to ${max}`).max(max, `must be from ${min} to ${max}`));

// LND credentials are accepted as base64 or hex (as `lightning` does) and passed on as base64.
const credential = z
  .string()
  .trim()
  .refine((s) => /^([0-9a-f]{2})+$/i.test(s) || /^[A-Za-z0-9+/]+={0,2}$/.test(s), 'must be base64 or hex')
  .transform((s) => (/^([0-9a-f]{2})+$/i.test(s) ? Buffer.from(s, 'hex').toString('base64') : s));

const schema = z
  .object({
    TIPD_NETWORK: z.enum(networks).default('mainnet'),
    TIPD_HOST: z.string().min(1).default('127.0.0.1'),
    TIPD_PORT: integer(0, 65_535).default(8470),
    TIPD_HTTP_HEADERS_TIMEOUT_MS: integer(1_000, 600_000).default(10_000),
    TIPD_HTTP_REQUEST_TIMEOUT_MS: integer(1_000, 3_600_000).default(30_000),
    TIPD_HTTP_KEEP_ALIVE_TIMEOUT_MS: integer(1_000, 600_000).default(5_000),
    TIPD_HTTP_CONNECTIONS_MAX: integer(10, 1_000_000).default(2_000),
    TIPD_DATA_DIR: z.string().min(1).default('./data'),
    TIPD_BACKUP_DIR: z.string().min(1).optional(),
    TIPD_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
    TIPD_ADMIN_TOKEN: z.string().min(32, 'must be at least 32 characters').optional(),
    TIPD_METRICS_PORT: integer(0, 65_535).optional(),
    TIPD_METRICS_HOST: z.string().min(1).default('127.0.0.1'),
    TIPD_SHUTDOWN_TIMEOUT_MS: integer(0, 600_000).default(10_000),
    TIPD_LND_SOCKET: z.string().regex(/^[^\s:]+:\d{1,5}$/, 'must be host:port'),
    TIPD_LND_CERT: credential.optional(),
    TIPD_LND_CERT_PATH: z.string().min(1).optional(),
    TIPD_LND_MACAROON: credential.optional(),
    TIPD_LND_MACAROON_PATH: z.string().min(1).optional(),
    TIPD_LND_TIMEOUT_MS: integer(100, 600_000).default(30_000),
    TIPD_DEPOSIT_EXPIRY_SECONDS: integer(60, 7 * 24 * 3600).default(3600),
    TIPD_WITHDRAWAL_FEE_BASE_MSAT: integer(0, 100_000_000).default(10_000),
    TIPD_WITHDRAWAL_FEE_PPM: integer(0, 100_000).default(5_000),
    TIPD_PERIOD_SECONDS: integer(1, 366 * 24 * 3600).optional(),
    TIPD_UNCLAIMED_RETURN_DAYS: integer(8, 3650).default(180),
    TIPD_IDEMPOTENCY_HOURS: integer(1, 30 * 24).default(24),
    TIPD_RATE_LIMIT_PER_MINUTE: integer(0, 10_000_000).default(3_000),
    TIPD_EVENTS_CLIENTS_PER_ADDRESS_MAX: integer(0, 1_000_000).default(100),
    TIPD_EVENTS_ANONYMOUS_PER_ADDRESS_MAX: integer(0, 1_000_000).default(20),
    TIPD_PUBLIC_URL: z
      .string()
      .transform((text, ctx) => {
        const url = URL.parse(text);
        if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
          ctx.addIssue({ code: 'custom', message: 'must be an http(s) URL, e.g. https://tips.example.com' });
          return z.NEVER;
        }
        if (url.pathname !== '/' || url.search || url.hash || url.username || url.password) {
          ctx.addIssue({ code: 'custom', message: 'must be the base of the site alone (scheme and host), with no path, query, fragment or credentials' });
          return z.NEVER;
        }
        return url;
      })
      .optional(),
    TIPD_LNURL_MAX_SAT: integer(1, 100_000_000).default(1_000_000),
    TIPD_LNURL_COMMENT_MAX: integer(0, 2_000).default(280),
    TIPD_LNURL_RATE_LIMIT_PER_MINUTE: integer(0, 1_000_000).default(120),
    TIPD_LNURL_WITHDRAW_SECONDS: integer(1, 24 * 3600).default(600),
    TIPD_TLS_CERT_PATH: z.string().min(1).optional(),
    TIPD_TLS_KEY_PATH: z.string().min(1).optional(),
    TIPD_TLS_PORT: integer(0, 65_535).optional(),
    TIPD_X_API_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).default('https://api.x.com'),
    TIPD_X_BEARER_TOKEN: z.string().trim().min(1).optional(),
    TIPD_X_TIMEOUT_MS: integer(100, 120_000).default(10_000),
    TIPD_CLAIM_EXPIRY_SECONDS: integer(1, 30 * 24 * 3600).default(24 * 3600),
    TIPD_CLAIM_COOLING_OFF_SECONDS: integer(0, 365 * 24 * 3600).default(7 * 24 * 3600),
    TIPD_CLAIM_RATE_LIMIT_PER_MINUTE: integer(0, 1_000_000).default(30),
    TIPD_AUTH_RATE_LIMIT_PER_MINUTE: integer(0, 1_000_000).default(30),
    TIPD_PAYOUT_MIN_SAT: integer(1, 100_000_000).default(1_000),
    TIPD_PAYOUT_FEE_BASE_MSAT: integer(0, 100_000_000).default(10_000),
    TIPD_PAYOUT_FEE_PPM: integer(0, 100_000).default(5_000),
    TIPD_PAYOUT_RETRY_SECONDS: integer(1, 3600).default(60),
    // LND accepts at most 483 HTLCs in flight on one channel (BOLT 2's limit, max_accepted_htlcs);
    // payouts to one creator's node may all take the same channel.
    TIPD_PAYOUT_CONCURRENCY_MAX: integer(1, 483).default(payoutConcurrencyMaxDefault),
  })
  .superRefine((env, ctx) => {
    if (env.TIPD_HTTP_HEADERS_TIMEOUT_MS > env.TIPD_HTTP_REQUEST_TIMEOUT_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['TIPD_HTTP_HEADERS_TIMEOUT_MS'],
        message: `must be at most TIPD_HTTP_REQUEST_TIMEOUT_MS (${env.TIPD_HTTP_REQUEST_TIMEOUT_MS}): the headers are part of the request`,
      });
    }
    if ((env.TIPD_TLS_CERT_PATH === undefined) !== (env.TIPD_TLS_KEY_PATH === undefined)) {
      const missing = env.TIPD_TLS_CERT_PATH === undefined ? 'TIPD_TLS_CERT_PATH' : 'TIPD_TLS_KEY_PATH';
      ctx.addIssue({ code: 'custom', path: [missing], message: 'set both TIPD_TLS_CERT_PATH and TIPD_TLS_KEY_PATH to serve TLS, or neither' });
    }
    if (env.TIPD_TLS_PORT !== undefined && env.TIPD_TLS_CERT_PATH === undefined) {
      ctx.addIssue({ code: 'custom', path: ['TIPD_TLS_PORT'], message: 'serves TLS: set TIPD_TLS_CERT_PATH and TIPD_TLS_KEY_PATH too' });
    }
    if (env.TIPD_TLS_PORT !== undefined && env.TIPD_TLS_PORT !== 0 && env.TIPD_TLS_PORT === env.TIPD_PORT) {
      ctx.addIssue({ code: 'custom', path: ['TIPD_TLS_PORT'], message: 'must differ from TIPD_PORT (leave it unset to serve TLS alone on TIPD_PORT)' });
    }
    if (env.TIPD_METRICS_PORT !== undefined && env.TIPD_METRICS_PORT !== 0 && [env.TIPD_PORT, env.TIPD_TLS_PORT].includes(env.TIPD_METRICS_PORT)) {
      ctx.addIssue({
        code: 'custom',
        path: ['TIPD_METRICS_PORT'],
        message: 'must differ from TIPD_PORT and TIPD_TLS_PORT (GET /metrics is served there too, behind the operator token)',
      });
    }
    // Wallets speak LNURL over https only (LUD-01), but to a Tor hidden service; a local regtest stack may use http.
    const publicUrl = env.TIPD_PUBLIC_URL;
    if (publicUrl?.protocol === 'http:' && !publicUrl.hostname.endsWith('.onion') && env.TIPD_NETWORK !== 'regtest') {
      ctx.addIssue({
        code: 'custom',
        path: ['TIPD_PUBLIC_URL'],
        message: 'must be https:// (wallets refuse LNURL over plain http, except to a .onion host); plain http is for regtest only',
      });
    }
    for (const name of ['CERT', 'MACAROON'] as const) {
      const value = env[`TIPD_LND_${name}`];
      const file = env[`TIPD_LND_${name}_PATH`];
      if ((value === undefined) === (file === undefined)) {
        ctx.addIssue({
          code: 'custom',
          path: [`TIPD_LND_${name}_PATH`],
          message: `set exactly one of TIPD_LND_${name}_PATH (a file) or TIPD_LND_${name} (base64)`,
        });
      }
    }
  });

export interface Config {
  network: Network;
  /**
   * Where tipd listens, and how long it waits for a client: a request's headers and the whole
   * request from its first byte, and an idle keep-alive connection; the most connections open at
   * once on each listening port, websockets included.
   */
  http: { host: string; port: number; headersTimeoutMs: number; requestTimeoutMs: number; keepAliveTimeoutMs: number; connectionsMax: number };
  /**
   * The base URL wallets and browsers reach tipd at (scheme and host, no trailing slash): every link
   * tipd prints is built from it, never from a request's Host header. Undefined: not set.
   */
  publicUrl: string | undefined;
  /**
   * LNURL-pay: the most a wallet may send in one payment, and the longest comment taken (LUD-12; 0:
   * none). LNURL-withdraw: how long a withdraw link may be redeemed.
   */
  /** ratePerMinute: LNURL-pay callbacks a minute per address (each makes an invoice); 0: no limit. */
  lnurl: { maxSendableMsat: bigint; commentMax: number; withdrawLinkTtlMs: number; ratePerMinute: number };
  /** TLS served by tipd itself: on `port` beside plain HTTP, or (no port) instead of it on the HTTP port. */
  tls: { cert: Buffer; key: Buffer; port: number | undefined } | undefined;
  dataDir: string;
  /** Where POST /v1/admin/backup writes its backups (TIPD_BACKUP_DIR; by default `<dataDir>/backups`). */
  backupDir: string;
  logLevel: string;
  adminToken: string | undefined;
  /** A listener of its own serving GET /metrics without a token (the API's port needs the operator token); undefined: none. */
  metrics: { host: string; port: number } | undefined;
  shutdownTimeoutMs: number;
  lnd: { socket: string; cert: string; macaroon: string; timeoutMs: number };
  depositExpiryMs: number;
  withdrawalFee: { baseMsat: bigint; ppm: bigint };
  /** Length of a flattr period; undefined: calendar months (UTC). */
  periodMs: number | undefined;
  /** Unclaimed tips go back to their supporters after this long. */
  unclaimedReturnMs: number;
  /** Idempotency keys are remembered this long after their first use. */
  idempotencyKeepMs: number;
  /** Requests (and websocket upgrades) a minute per token (or address); 0: no limit. */
  rateLimitPerMinute: number;
  /** The events websocket: sockets of one address, and of them without a token; 0: no limit. */
  events: { clientsPerAddressMax: number; anonymousClientsPerAddressMax: number };
  /** The X API v2 that claim proofs are fetched from; without a bearer token, proofs are refused. */
  x: { baseUrl: string; bearerToken: string | undefined; timeoutMs: number };
  /** ratePerMinute: claims and proofs a minute per address (each costs LND or X API calls); 0: no limit. */
  claims: { expiryMs: number; coolingOffMs: number; ratePerMinute: number };
  /** Sign-in with a wallet: sign-ins asked for a minute per address (each is stored a while); 0: no limit. */
  auth: { ratePerMinute: number };
  /**
   * Keysend payouts to claimed handles: the least worth sending, the fee cap, the first retry delay
   * (doubling), and the most out at once (held and sent, waiting for LND's answer).
   */
  payouts: { minMsat: bigint; feeBaseMsat: bigint; feePpm: bigint; retryMs: number; sendingMax: number };
}

export class ConfigError extends Error {}

function readFile(variable: string, file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new ConfigError(`${variable}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

const readBase64 = (variable: string, file: string): string => readFile(variable, file).toString('base64');

/** The certificate and key, checked now (PEM, and a pair) rather than when tipd starts to listen. */
function readTls(certPath: string, keyPath: string, port: number | undefined): NonNullable<Config['tls']> {
  const cert = readFile('TIPD_TLS_CERT_PATH', certPath);
  const key = readFile('TIPD_TLS_KEY_PATH', keyPath);
  try {
    tls.createSecureContext({ cert, key });
  } catch (err) {
    throw new ConfigError(`TIPD_TLS_CERT_PATH, TIPD_TLS_KEY_PATH: not a PEM certificate and its key (${(err as Error).message})`);
  }
  return { cert, key, port };
}

/** Blank variables count as unset, as in most process managers' env files. */
export function loadConfig(environment: NodeJS.ProcessEnv): Config {
  const present = Object.fromEntries(Object.entries(environment).filter(([k, v]) => k.startsWith('TIPD_') && v !== undefined && v !== ''));
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || 'environment'}: ${i.message}`).join('; '));
  }
  const env = parsed.data;
  return {
    network: env.TIPD_NETWORK,
    http: {
      host: env.TIPD_HOST,
      port: env.TIPD_PORT,
      headersTimeoutMs: env.TIPD_HTTP_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: env.TIPD_HTTP_REQUEST_TIMEOUT_MS,
      keepAliveTimeoutMs: env.TIPD_HTTP_KEEP_ALIVE_TIMEOUT_MS,
      connectionsMax: env.TIPD_HTTP_CONNECTIONS_MAX,
    },
    publicUrl: env.TIPD_PUBLIC_URL?.origin,
    lnurl: {
      maxSendableMsat: BigInt(env.TIPD_LNURL_MAX_SAT) * 1000n,
      commentMax: env.TIPD_LNURL_COMMENT_MAX,
      withdrawLinkTtlMs: env.TIPD_LNURL_WITHDRAW_SECONDS * 1000,
      ratePerMinute: env.TIPD_LNURL_RATE_LIMIT_PER_MINUTE,
    },
    tls:
      env.TIPD_TLS_CERT_PATH === undefined || env.TIPD_TLS_KEY_PATH === undefined
        ? undefined
        : readTls(env.TIPD_TLS_CERT_PATH, env.TIPD_TLS_KEY_PATH, env.TIPD_TLS_PORT),
    dataDir: env.TIPD_DATA_DIR,
    backupDir: env.TIPD_BACKUP_DIR ?? path.join(env.TIPD_DATA_DIR, 'backups'),
    logLevel: env.TIPD_LOG_LEVEL,
    adminToken: env.TIPD_ADMIN_TOKEN,
    metrics: env.TIPD_METRICS_PORT === undefined ? undefined : { host: env.TIPD_METRICS_HOST, port: env.TIPD_METRICS_PORT },
    shutdownTimeoutMs: env.TIPD_SHUTDOWN_TIMEOUT_MS,
    lnd: {
      socket: env.TIPD_LND_SOCKET,
      cert: env.TIPD_LND_CERT ?? readBase64('TIPD_LND_CERT_PATH', env.TIPD_LND_CERT_PATH!),
      macaroon: env.TIPD_LND_MACAROON ?? readBase64('TIPD_LND_MACAROON_PATH', env.TIPD_LND_MACAROON_PATH!),
      timeoutMs: env.TIPD_LND_TIMEOUT_MS,
    },
    depositExpiryMs: env.TIPD_DEPOSIT_EXPIRY_SECONDS * 1000,
    withdrawalFee: { baseMsat: BigInt(env.TIPD_WITHDRAWAL_FEE_BASE_MSAT), ppm: BigInt(env.TIPD_WITHDRAWAL_FEE_PPM) },
    periodMs: env.TIPD_PERIOD_SECONDS === undefined ? undefined : env.TIPD_PERIOD_SECONDS * 1000,
    unclaimedReturnMs: env.TIPD_UNCLAIMED_RETURN_DAYS * 24 * 3600 * 1000,
    idempotencyKeepMs: env.TIPD_IDEMPOTENCY_HOURS * 3600 * 1000,
    rateLimitPerMinute: env.TIPD_RATE_LIMIT_PER_MINUTE,
    events: {
      clientsPerAddressMax: env.TIPD_EVENTS_CLIENTS_PER_ADDRESS_MAX,
      anonymousClientsPerAddressMax: env.TIPD_EVENTS_ANONYMOUS_PER_ADDRESS_MAX,
    },
    x: { baseUrl: env.TIPD_X_API_URL.replace(/\/+$/, ''), bearerToken: env.TIPD_X_BEARER_TOKEN, timeoutMs: env.TIPD_X_TIMEOUT_MS },
    claims: {
      expiryMs: env.TIPD_CLAIM_EXPIRY_SECONDS * 1000,
      coolingOffMs: env.TIPD_CLAIM_COOLING_OFF_SECONDS * 1000,
      ratePerMinute: env.TIPD_CLAIM_RATE_LIMIT_PER_MINUTE,
    },
    auth: { ratePerMinute: env.TIPD_AUTH_RATE_LIMIT_PER_MINUTE },
    payouts: {
      minMsat: BigInt(env.TIPD_PAYOUT_MIN_SAT) * 1000n,
      feeBaseMsat: BigInt(env.TIPD_PAYOUT_FEE_BASE_MSAT),
      feePpm: BigInt(env.TIPD_PAYOUT_FEE_PPM),
      retryMs: env.TIPD_PAYOUT_RETRY_SECONDS * 1000,
      sendingMax: env.TIPD_PAYOUT_CONCURRENCY_MAX,
    },
  };
}
