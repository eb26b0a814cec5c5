// tipd over https, on the real stack: the stack's tipd serves https with a certificate of the
// stack's own CA (which wallets' https clients can be told to trust), a tipd may serve TLS alone on
// its port, and every link tipd prints is built from TIPD_PUBLIC_URL, not from a request's Host.
import fs from 'node:fs';
import https from 'node:https';
import tls, { type TLSSocket } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { freshHandle } from './creators.ts';
import { api, fundedSupporter, stack, startTipd } from './helpers.ts';

interface HttpsAnswer {
  status: number;
  body: any;
  /** The names the server's certificate is valid for, as Node.js reports them. */
  altNames: string | undefined;
}

/**
 * GET `url` over https, trusting `ca` (a PEM) or, without one, only Node's bundled CAs (not the
 * stack's, which the test processes are told to trust through NODE_EXTRA_CA_CERTS).
 */
function httpsGet(url: string, ca?: string): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca: ca ?? [...tls.rootCertificates], timeout: 10_000 }, (res) => {
      const altNames = (res.socket as TLSSocket).getPeerCertificate().subjectaltname;
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text), altNames }));
    });
    req.on('error', reject);
  });
}

const stackCa = () => fs.readFileSync(stack().tipd.caCert, 'utf8');

describe("the stack's tipd over https", () => {
  it('answers at its public URL with a certificate of the stack’s CA, for localhost, tipd.localhost and 127.0.0.1', async () => {
    const { publicUrl } = stack().tipd;
    expect(publicUrl).toMatch(/^https:\/\/localhost:\d+$/);
    const health = await httpsGet(`${publicUrl}/healthz`, stackCa());
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ status: 'ok', network: 'regtest', lnd: { pubkey: stack().nodes.hub.pubkey } });
    expect(health.altNames).toBe('DNS:localhost, DNS:tipd.localhost, IP Address:127.0.0.1');
    const byAddress = await httpsGet(`${publicUrl.replace('localhost', '127.0.0.1')}/healthz`, stackCa());
    expect(byAddress.status).toBe(200);
    // The same tipd on plain HTTP, as before.
    expect((await api(stack().tipd.url, 'GET', '/healthz')).status).toBe(200);
  });

  it('is refused by a client that does not trust the stack’s CA', async () => {
    await expect(httpsGet(`${stack().tipd.publicUrl}/healthz`)).rejects.toMatchObject({
      code: expect.stringMatching(/^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN)$/),
    });
  });
});

describe('a tipd serving TLS itself', () => {
  it('serves https alone on its port when no TLS port is set', async () => {
    const tls = {
      TIPD_TLS_CERT_PATH: stack().tipd.caCert.replace(/ca\.crt$/, 'tipd.crt'),
      TIPD_TLS_KEY_PATH: stack().tipd.caCert.replace(/ca\.crt$/, 'tipd.key'),
    };
    const tipd = await startTipd(tls);
    try {
      expect(tipd.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect((await httpsGet(`${tipd.url}/healthz`, stackCa())).status).toBe(200);
      // Nothing answers plain HTTP there.
      await expect(fetch(`${tipd.url.replace('https', 'http')}/healthz`)).rejects.toThrow();
    } finally {
      await tipd.stop();
    }
  });
});

describe('the links tipd prints', () => {
  it('are built from TIPD_PUBLIC_URL, whatever Host a request names', async () => {
    const tipd = await startTipd({ TIPD_PUBLIC_URL: 'https://tips.example.com/' });
    try {
      const handle = freshHandle('linked');
      const { token } = await fundedSupporter(tipd.url, 2_000);
      expect((await api(tipd.url, 'POST', '/v1/tips', { token, body: { handle, amountSat: 1_000 } })).status).toBe(201);
      const notify = await api(tipd.url, 'GET', `/v1/handles/${handle}/notify`, { headers: { host: 'evil.example' } });
      expect(notify.status).toBe(200);
      expect(notify.body.text).toBe(
        `@${handle} 1,000 sats from 1 supporter are waiting for you on tipd. Claim them with your Lightning wallet: https://tips.example.com/@${handle}/claim`,
      );
      // Without a public URL there is no link to print: refused, never made from the Host header.
      const bare = await startTipd({ TIPD_PUBLIC_URL: '' });
      try {
        const refused = await api(bare.url, 'GET', `/v1/handles/${handle}/notify`, { headers: { host: 'evil.example' } });
        expect(refused.body.error.code).toBe('public_url_unset');
      } finally {
        await bare.stop();
      }
    } finally {
      await tipd.stop();
    }
  });

  it('refuses a plain-http public URL outside regtest, at start, naming the variable', async () => {
    const tipd = startTipd({ TIPD_NETWORK: 'mainnet', TIPD_PUBLIC_URL: 'http://tips.example.com' });
    await expect(tipd).rejects.toThrow(/TIPD_PUBLIC_URL: must be https:\/\//);
  });
});
