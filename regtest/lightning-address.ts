// The creator's wallet on the regtest stack: a Lightning Address (LNURL-pay, LUD-06/16) server that
// tipd did not write, backed by a creator's LND. The server is chill117's `lnurl` package (npm
// `lnurl`): its payRequest answer, its callback with the amount checks, and its LND backend (LND's
// REST API, which makes the invoice with the metadata's sha256 as description hash) answer every
// request. `lnurl` has no Lightning Address route, so this file adds only what it lacks:
//   - one reusable payRequest link per user, made with lnurl's own `generateNewUrl` (unlimited
//     uses), whose metadata names the address (`text/identifier`, LUD-16);
//   - `GET /.well-known/lnurlp/<user>` rewritten, as a reverse proxy would, to that link's URL
//     (`/lnurl?q=<secret>`), so the answer is lnurl's own (an unknown user gets lnurl's 404);
//   - https, with the stack's certificate: lnurl's express app served by Node's https server.
//
//   node regtest/lightning-address.ts --port 8473 --domain localhost:8473 --user dave \
//     --lnd-rest 127.0.0.1:10204 --lnd-cert <tls.cert> --lnd-macaroon <invoice.macaroon> \
//     --tls-cert <crt> --tls-key <key>
import fs from 'node:fs';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

/** The part of `lnurl`'s Server (lib/Server.js, v0.27.0) used here; the package has no types. */
interface LnurlServer {
  app: (req: IncomingMessage, res: ServerResponse) => void;
  onReady(): Promise<void>;
  generateNewUrl(tag: 'payRequest', params: Record<string, unknown>, options: { uses: number }): Promise<{ secret: string; url: string; encoded: string }>;
  close(): Promise<void>;
}
interface Lnurl {
  createServer(options: Record<string, unknown>): LnurlServer;
}

const { values: args } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string' },
    domain: { type: 'string' },
    user: { type: 'string', multiple: true },
    'lnd-rest': { type: 'string' },
    'lnd-cert': { type: 'string' },
    'lnd-macaroon': { type: 'string' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    'max-sat': { type: 'string', default: '1000000' },
  },
});
for (const name of ['port', 'domain', 'user', 'lnd-rest', 'lnd-cert', 'lnd-macaroon', 'tls-cert', 'tls-key'] as const) {
  if (!args[name]) throw new Error(`--${name} is required`);
}
const users = args.user!;
for (const user of users) if (!/^[a-z0-9\-_.]+$/.test(user)) throw new Error(`--user ${user}: LUD-16 allows a-z 0-9 - _ . only`);

const lnurl = createRequire(import.meta.url)('lnurl') as Lnurl;
const server = lnurl.createServer({
  host: args.host,
  port: Number(args.port),
  // lnurl's own http listener stays off: its app is served over https below.
  listen: false,
  // The base of the callback URLs lnurl prints: the https address wallets reach.
  url: `https://${args.domain}`,
  endpoint: '/lnurl',
  cors: true,
  lightning: {
    backend: 'lnd',
    // lnurl reads both files itself; `cert` pins LND's self-signed REST certificate.
    config: { hostname: args['lnd-rest'], protocol: 'https', cert: args['lnd-cert'], macaroon: args['lnd-macaroon'] },
  },
  store: { backend: 'memory', config: {} },
  payRequest: { commentAllowed: 200 },
});
await server.onReady();

const links = new Map<string, string>();
for (const user of users) {
  const address = `${user}@${args.domain}`;
  const metadata = JSON.stringify([
    ['text/plain', `Pay ${address}`],
    ['text/identifier', address],
  ]);
  const link = await server.generateNewUrl('payRequest', { minSendable: 1_000, maxSendable: Number(args['max-sat']) * 1_000, metadata }, { uses: 0 });
  links.set(user, new URL(link.url).pathname + new URL(link.url).search);
}

const wellKnown = /^\/\.well-known\/lnurlp\/([^/?#]+)(?:[?#].*)?$/;
const httpsServer = https.createServer({ cert: fs.readFileSync(args['tls-cert']!), key: fs.readFileSync(args['tls-key']!) }, (req, res) => {
  const match = wellKnown.exec(req.url ?? '');
  if (match) {
    // LUD-16: a `+tag` suffix names the same user; names are case-insensitive.
    const user = match[1]!.toLowerCase().split(/\+|%2b/)[0]!;
    const link = links.get(user);
    if (link) req.url = link;
  }
  server.app(req, res);
});
httpsServer.listen(Number(args.port), args.host, () => {
  process.stdout.write(
    `Lightning Addresses ${users.map((u) => `${u}@${args.domain}`).join(', ')} served at https://${args.domain} (lnurl's server, LND REST at ${args['lnd-rest']})\n`,
  );
});

const stop = () => {
  httpsServer.close();
  httpsServer.closeAllConnections();
  void server.close().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
