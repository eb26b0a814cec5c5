// tipd's pages in a real browser (Chromium, driven by Playwright) on the real stack: a visitor scans
// a handle's QR, alice's LND pays, and the page shows the payment by itself; the invoice fallback
// with a preset; a creator claims through the wizard (node and Lightning Address) and watches the
// payout; the tip button on another site's page; the home page; bad input in every form.
import http from 'node:http';
import { parsePaymentRequest } from 'invoices';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { decodeLnurl } from '../../src/lnurl/lnurl.ts';
import { launchBrowser, openTab, readQr, screenshot, viewports, type Tab, type Viewport } from './browser.ts';
import { freshHandle, xServer } from './creators.ts';
import { api, eventually, freePort, fundedSupporter, lndOf, stack, startPublicTipd, wallet, type TipdProcess } from './helpers.ts';

let tipd: TipdProcess & { publicUrl: string };
const operatorToken = 'o'.repeat(40);
let browser: Browser;
const tabs: Tab[] = [];
beforeAll(async () => {
  [tipd, browser] = await Promise.all([
    startPublicTipd({
      TIPD_LNURL_MAX_SAT: '50000',
      TIPD_LNURL_COMMENT_MAX: '40',
      TIPD_PAYOUT_MIN_SAT: '1000',
      TIPD_PAYOUT_RETRY_SECONDS: '1',
      TIPD_ADMIN_TOKEN: operatorToken,
    }),
    launchBrowser(),
  ]);
});
afterAll(async () => {
  // A page's script error or a blocked resource (the Content-Security-Policy) fails the file.
  expect(tabs.flatMap((tab) => tab.problems)).toEqual([]);
  await browser?.close();
  await tipd?.stop();
});

/** A new tab at `path` of tipd's public URL. */
async function visit(path: string, viewport: Viewport = 'phone'): Promise<Page> {
  const tab = await openTab(browser, viewport);
  tabs.push(tab);
  await tab.page.goto(`${tipd.publicUrl}${path}`);
  return tab.page;
}

const pay = async (invoice: string) => expect((await lndOf('alice').payInvoice({ paymentRequest: invoice, maxFeeMsat: 10_000n })).state).toBe('succeeded');

/** `handle` gets `sat` from a funded supporter's tip over the API. */
async function tipped(handle: string, sat: number): Promise<void> {
  const { token } = await fundedSupporter(tipd.url, sat);
  expect((await api(tipd.url, 'POST', '/v1/tips', { token, body: { handle, amountSat: sat } })).status).toBe(201);
}

describe("a handle's tip page", () => {
  it('shows a QR that any wallet pays through LNURL, and then the payment and the new total by itself', async () => {
    const handle = freshHandle('Qr');
    const page = await visit(`/@${handle}`);
    await expect.poll(() => page.locator('h1').textContent()).toBe(`@${handle}`);
    await expect.poll(() => page.locator('.waiting').textContent()).toContain('No sats wait yet');
    await screenshot(page, 'tip-page-new');

    // A phone's camera: the QR holds the handle's LNURL, which leads to its pay request.
    const lnurl = await readQr(page.locator('#lnurl-qr'));
    expect(decodeLnurl(lnurl)).toBe(`${tipd.publicUrl}/.well-known/lnurlp/${handle.toLowerCase()}`);
    expect(await page.locator('a.qr-link').getAttribute('href')).toBe(`lightning:${lnurl}`);
    await expect.poll(() => page.locator('.copyable code').first().textContent()).toBe(`${handle.toLowerCase()}@${new URL(tipd.publicUrl).host}`);

    // An independent LNURL client (lnurl-pay) asks for the invoice, as a wallet scanning the QR would; alice's node pays.
    const answer = await wallet('lnurl-pay', lnurl, '2100', 'for the QR');
    expect(answer.hasValidDescriptionHash).toBe(true);
    await pay(answer.invoice);
    await expect.poll(() => page.locator('#waiting-sats').textContent(), { timeout: 10_000 }).toBe('2,100 sats');
    await expect.poll(() => page.locator('#recent-tips li').first().textContent()).toContain('2,100 sats');
    expect(await page.locator('#recent-tips q').first().textContent()).toBe('for the QR');
    await screenshot(page, 'tip-page-tipped');
  });

  it('makes an invoice QR for a preset amount with a comment, and says "paid" within a second of the payment', async () => {
    const handle = freshHandle('Inv');
    const page = await visit(`/@${handle}`);
    await page.getByRole('button', { name: '5,000' }).click();
    await page.getByLabel('Comment (optional)').fill('great thread');
    // A double click asks for one invoice.
    const asked: string[] = [];
    page.on('request', (req) => req.url().includes('/lnurl/pay/') && asked.push(req.url()));
    await page.getByRole('button', { name: 'Make an invoice' }).dblclick();
    const invoice = (await readQr(page.locator('#invoice-qr'))).toLowerCase();
    expect(asked).toHaveLength(1);
    expect(new URL(asked[0]!).searchParams.get('amount')).toBe('5000000');
    expect(parsePaymentRequest({ request: invoice }).mtokens).toBe('5000000');
    await screenshot(page, 'tip-page-invoice');

    await pay(invoice);
    const paidAt = Date.now();
    await page.locator('#paid').waitFor({ timeout: 5_000 });
    expect(Date.now() - paidAt).toBeLessThan(2_000);
    await expect.poll(() => page.locator('#waiting-sats').textContent()).toBe('5,000 sats');
    expect(await page.locator('#recent-tips q').first().textContent()).toBe('great thread');
    await screenshot(page, 'tip-page-paid');
  });

  it('stops asking about an invoice once it has expired, and says so', async () => {
    const tab = await openTab(browser, 'phone');
    tabs.push(tab);
    const { page } = tab;
    // The page's clock, not tipd's: an hour passes in the browser only.
    await page.clock.install();
    await page.goto(`${tipd.publicUrl}/@${freshHandle('Exp')}`);
    await page.getByRole('button', { name: 'Make an invoice' }).click();
    const expiresAt = Date.parse(parsePaymentRequest({ request: (await readQr(page.locator('#invoice-qr'))).toLowerCase() }).expires_at);
    const asked: string[] = [];
    page.on('request', (req) => req.url().includes('/lnurl/verify/') && asked.push(req.url()));
    await expect.poll(() => asked.length).toBeGreaterThan(0);
    // Past its expiry and the five minutes the page allows for a clock running fast.
    await page.clock.fastForward(expiresAt - (await page.evaluate(() => Date.now())) + 5 * 60_000 + 1_000);
    await page.locator('#expired').waitFor();
    expect(await page.locator('#invoice-qr').count()).toBe(0);
    await screenshot(page, 'tip-page-expired');
    const before = asked.length;
    await page.clock.runFor(5_000);
    expect(asked).toHaveLength(before);
    // Another invoice is made as before.
    await page.getByRole('button', { name: 'Make another invoice' }).click();
    await page.locator('#invoice-qr').waitFor();
  });

  it('tells what is wrong with an amount next to the field, and asks for nothing', async () => {
    const page = await visit(`/@${freshHandle('bad')}`);
    const asked: string[] = [];
    page.on('request', (req) => req.url().includes('/lnurl/pay/') && asked.push(req.url()));
    const amount = page.getByLabel('Custom amount');
    await amount.fill('0');
    await page.getByRole('button', { name: 'Make an invoice' }).click();
    await expect.poll(() => page.locator('#amount-error').textContent()).toBe('Enter a whole number of sats, 1 or more.');
    expect(await amount.getAttribute('aria-invalid')).toBe('true');
    expect(asked).toEqual([]);
    // Over the most one payment may bring (TIPD_LNURL_MAX_SAT, in the handle's pay request).
    expect(await page.locator('#amount-hint').textContent()).toBe('1 to 50,000 sats');
    await amount.fill('60000');
    await page.getByRole('button', { name: 'Make an invoice' }).click();
    await expect.poll(() => page.locator('#amount-error').textContent()).toBe('At most 50,000 sats in one payment.');
    expect(asked).toEqual([]);
    await screenshot(page, 'tip-page-bad-amount');
  });

  it('offers to tell an unclaimed creator on X with a link to the claim page', async () => {
    const handle = freshHandle('tell');
    await tipped(handle, 1_500);
    const page = await visit(`/@${handle}`, 'desktop');
    const tell = page.getByRole('link', { name: `Tell @${handle} on X` });
    const intent = new URL((await tell.getAttribute('href'))!);
    expect(intent.origin + intent.pathname).toBe('https://x.com/intent/tweet');
    expect(intent.searchParams.get('text')).toContain(`${tipd.publicUrl}/@${handle}/claim`);
    await screenshot(page, 'tip-page-waiting');
  });
});

describe("the creator's claim", () => {
  it('walks a node through signing and tweeting; the claim and the payout appear on the page', async () => {
    const handle = freshHandle('Wiz');
    await tipped(handle, 3_000);
    const page = await visit(`/@${handle}/claim`);
    await expect.poll(() => page.locator('.waiting').textContent()).toContain('3,000 sats');
    await page.getByLabel('My Lightning node').check();
    await page.getByLabel('Node public key').fill('02abc');
    await page.getByRole('button', { name: 'Continue' }).click();
    await expect.poll(() => page.locator('#destination-error').textContent()).toContain('66 hex characters');

    // A double click makes one claim.
    const claims: string[] = [];
    page.on('request', (req) => req.method() === 'POST' && req.url().endsWith('/v1/claims') && claims.push(req.headers()['idempotency-key'] ?? ''));
    await page.getByLabel('Node public key').fill(stack().nodes.carol.pubkey);
    await page.getByRole('button', { name: 'Continue' }).dblclick();
    const message = await page.locator('code[title="Message"]').first().textContent();
    expect(message).toMatch(/^tipd claim tipd-[0-9a-f]+: pay @/);
    expect(claims).toHaveLength(1);
    expect(await page.locator('code[title="Command"]').textContent()).toBe(`lncli signmessage "${message}"`);
    await screenshot(page, 'claim-node-sign');

    // The creator signs with their node, pastes the signature, and posts the tweet the page wrote.
    const signature = await lndOf('carol').signMessage(message!);
    await page.getByLabel('The signature').fill(signature);
    const tweet = (await page.locator('code[title="Tweet"]').textContent())!;
    expect(tweet).toContain(signature);
    const intent = new URL((await page.getByRole('link', { name: 'Post on X' }).getAttribute('href'))!);
    expect(intent.searchParams.get('text')).toBe(tweet);
    const tweetId = await xServer.post(handle, tweet);

    await page.getByLabel('Link of your tweet').fill('not a link');
    await page.getByRole('button', { name: 'Claim' }).click();
    await expect.poll(() => page.locator('#tweet-error').textContent()).toContain('Paste the link of your tweet');
    await page.getByLabel('Link of your tweet').fill(`https://x.com/${handle}/status/${tweetId}`);
    await page.getByRole('button', { name: 'Claim' }).click();
    await page.locator('#claimed').waitFor();
    await expect.poll(() => page.locator('#payout-list li').first().textContent(), { timeout: 60_000 }).toMatch(/sats paid/);
    // Claimed: no more "sats wait for you".
    await expect.poll(() => page.locator('.waiting').count()).toBe(0);
    await screenshot(page, 'claim-node-paid');

    // The tip page shows the evidence for anyone to check.
    const tipPage = await visit(`/@${handle}`, 'desktop');
    await expect.poll(() => tipPage.locator('#evidence').textContent()).toBe(`Claimed by @${handle}`);
    expect(await tipPage.getByRole('link', { name: 'the tweet' }).getAttribute('href')).toBe(`https://x.com/${handle}/status/${tweetId}`);
    await screenshot(tipPage, 'tip-page-claimed');
  });

  it('explains a refusal with what to do next: a tweet from another account', async () => {
    const handle = freshHandle('Who');
    const address = stack().lightningAddresses[0]!.address;
    const page = await visit(`/@${handle}/claim`, 'desktop');
    await page.getByRole('textbox', { name: 'Lightning Address' }).fill(address);
    await page.getByRole('button', { name: 'Continue' }).click();
    const tweet = (await page.locator('code[title="Tweet"]').textContent())!;
    const tweetId = await xServer.post('someone_else', tweet);
    await page.getByLabel('Link of your tweet').fill(`https://x.com/someone_else/status/${tweetId}`);
    await page.getByRole('button', { name: 'Claim' }).click();
    await expect.poll(() => page.locator('#tweet-error').textContent()).toContain('sign in to X as that account');
    await screenshot(page, 'claim-refused');
  });

  it('walks a Lightning Address through one tweet; what waits is paid there', async () => {
    const handle = freshHandle('Adr');
    await tipped(handle, 2_000);
    const { address, node } = stack().lightningAddresses[0]!;
    const before = await lndOf(node).getChannelBalanceMsat();
    const page = await visit(`/@${handle}/claim`, 'desktop');
    await page.getByRole('textbox', { name: 'Lightning Address' }).fill(address);
    await page.getByRole('button', { name: 'Continue' }).click();
    const tweet = (await page.locator('code[title="Tweet"]').textContent())!;
    expect(tweet).toContain(`address ${address}`);
    await screenshot(page, 'claim-address-tweet');
    const tweetId = await xServer.post(handle, tweet);
    await page.getByLabel('Link of your tweet').fill(`https://x.com/${handle}/status/${tweetId}?s=20`);
    await page.getByRole('button', { name: 'Claim' }).click();
    await page.locator('#claimed').waitFor();
    await expect.poll(() => page.locator('#payout-list li').first().textContent(), { timeout: 60_000 }).toMatch(/sats paid/);
    await eventually(async () => ((await lndOf(node).getChannelBalanceMsat()) > before ? true : undefined));
    await screenshot(page, 'claim-address-paid');
  });
});

describe("the supporter's app", () => {
  it('signs in with a wallet, is funded by any wallet, tips once on a double click, and withdraws to a wallet, the balance live throughout', async () => {
    const page = await visit('/me');
    // The wallet scans the sign-in QR and signs its k1 with its linking key (LUD-04).
    const login = new URL(decodeLnurl(await readQr(page.locator('#login-qr')))!);
    expect(login.searchParams.get('tag')).toBe('login');
    const secret = secp256k1.utils.randomSecretKey();
    login.searchParams.set(
      'sig',
      Buffer.from(secp256k1.sign(Buffer.from(login.searchParams.get('k1')!, 'hex'), secret, { prehash: false, format: 'der' })).toString('hex'),
    );
    login.searchParams.set('key', Buffer.from(secp256k1.getPublicKey(secret, true)).toString('hex'));
    expect(await (await fetch(login)).json()).toEqual({ status: 'OK' });
    await expect.poll(() => page.locator('#balance').textContent(), { timeout: 15_000 }).toBe('0 sats');
    expect(await page.evaluate<string | null>("localStorage.getItem('tipd.token')")).toMatch(/^tipd_/);
    expect(page.url()).toBe(`${tipd.publicUrl}/me`);

    // Funded from any wallet: lnurl-pay reads the funding QR, alice pays; the balance follows.
    const fund = await readQr(page.locator('#fund-qr'));
    await pay((await wallet('lnurl-pay', fund, '3000')).invoice);
    await expect.poll(() => page.locator('#balance').textContent(), { timeout: 10_000 }).toBe('3,000 sats');
    await screenshot(page, 'supporter-funded');

    const handle = freshHandle('Me');
    const tips: string[] = [];
    page.on('request', (req) => req.method() === 'POST' && req.url().endsWith('/v1/tips') && tips.push(req.url()));
    // What is wrong is said next to its field: a handle that is none, more than the balance.
    await page.getByLabel('X handle').fill('not a handle!');
    await page.getByRole('button', { name: 'Tip', exact: true }).click();
    await expect.poll(() => page.locator('#tip-handle-error').textContent()).toContain('1 to 15 letters');
    await page.getByLabel('X handle').fill(`@${handle}`);
    await page.getByLabel('Amount (sats)').fill('5000');
    await page.getByRole('button', { name: 'Tip', exact: true }).click();
    await expect.poll(() => page.locator('#tip-amount-error').textContent()).toBe('Your balance does not cover this. Fund it first, or ask for less.');
    expect(await page.locator('#tip-handle-error').count()).toBe(0);
    expect(tips).toHaveLength(1);
    tips.length = 0;
    await screenshot(page, 'supporter-tip-refused');
    await page.getByLabel('Amount (sats)').fill('1200');
    await page.getByRole('button', { name: 'Tip', exact: true }).dblclick();
    await expect.poll(() => page.locator('#balance').textContent()).toBe('1,800 sats');
    expect(tips).toHaveLength(1);
    expect((await api(tipd.url, 'GET', `/v1/handles/${handle}`)).body.pendingMsat).toBe('1200000');

    // Withdrawn with any wallet: the withdraw QR's LNURL (LUD-03), an invoice of alice's for all of it.
    await page.getByRole('button', { name: 'Withdraw to a wallet' }).click();
    const request = (await (await fetch(decodeLnurl(await readQr(page.locator('#withdraw-qr')))!)).json()) as {
      callback: string;
      k1: string;
      maxWithdrawable: number;
    };
    const invoice = await lndOf('alice').createInvoice({
      amountMsat: BigInt(request.maxWithdrawable),
      description: 'withdraw',
      expiresAt: new Date(Date.now() + 600_000),
    });
    const callback = new URL(request.callback);
    callback.searchParams.set('k1', request.k1);
    callback.searchParams.set('pr', invoice.paymentRequest);
    expect(await (await fetch(callback)).json()).toEqual({ status: 'OK' });
    // Over alice's direct channel no fee is paid: the fee reserve kept back from the link comes back.
    const leftSat = Math.floor((1_800_000 - request.maxWithdrawable) / 1000);
    expect(leftSat).toBeLessThan(100);
    await expect.poll(() => page.locator('#balance').textContent(), { timeout: 15_000 }).toBe(`${leftSat.toLocaleString('en-US')} sats`);
    // The redeemed link's QR is gone: a new one is asked for.
    await expect.poll(() => page.locator('#withdraw-qr').count()).toBe(0);
    await screenshot(page, 'supporter-withdrawn');
  });
});

describe("the operator's page", () => {
  it('shows what tipd owes, to whom, and whether the ledger balances, once the token is typed in (never in a URL)', async () => {
    const handle = freshHandle('Ops');
    await tipped(handle, 1_234);
    const page = await visit('/admin', 'desktop');
    await page.getByLabel('Operator token (TIPD_ADMIN_TOKEN)').fill('wrong-token-wrong-token');
    await page.getByRole('button', { name: 'Open' }).click();
    await expect.poll(() => page.locator('.notice.error').textContent()).toContain('Bearer');
    await page.getByLabel('Operator token (TIPD_ADMIN_TOKEN)').fill(operatorToken);
    await page.getByRole('button', { name: 'Open' }).click();
    const audit = (await api(tipd.url, 'GET', '/v1/admin/wind-down', { token: operatorToken })).body;
    await expect.poll(() => page.locator('#owed-total').textContent()).toBe(`${(BigInt(audit.owed.totalMsat) / 1000n).toLocaleString('en-US')} sats`);
    expect(await page.locator('#escrow-list').textContent()).toContain(`@${handle}`);
    expect(await page.getByText('balanced (sums to zero)').count()).toBe(1);
    expect(page.url()).toBe(`${tipd.publicUrl}/admin`);
    await screenshot(page, 'operator-page');
  });
});

describe('the home page', () => {
  it('lists the handles with the most sats waiting, and finds any handle', async () => {
    const handle = freshHandle('Top');
    await tipped(handle, 45_000);
    // The list is read again every 30 s: a fresh tipd would show it at once, this one may need a moment.
    const page = await visit('/', 'desktop');
    await eventually(async () => {
      await page.reload();
      return (
        (await page
          .locator('ol.list')
          .textContent({ timeout: 2_000 })
          .catch(() => ''))!.includes(`@${handle}`) || undefined
      );
    }, 45_000);
    await screenshot(page, 'home');
    await page.getByLabel('X handle').fill('not a handle!');
    await page.getByRole('button', { name: 'Open' }).click();
    await expect.poll(() => page.locator('#handle-error').textContent()).toContain('1 to 15 letters');
    await page.getByLabel('X handle').fill(`@${handle}`);
    await page.getByRole('button', { name: 'Open' }).click();
    await page.waitForURL(`${tipd.publicUrl}/@${handle}`);
    await expect.poll(() => page.locator('#waiting-sats').textContent()).toBe('45,000 sats');
  });
});

describe('the tip button on another site', () => {
  it('shows the sats waiting on a page of another origin with its own strict CSP, and opens the tip page', async () => {
    const handle = freshHandle('Btn');
    await tipped(handle, 1_200);
    const port = await freePort();
    const origin = new URL(tipd.publicUrl).origin;
    const blog = http.createServer((_req, res) => {
      res.setHeader('content-security-policy', `default-src 'self'; script-src ${origin}; connect-src ${origin}`);
      res.setHeader('content-type', 'text/html');
      res.end(
        `<!doctype html><html><head><title>A blog</title><meta name="viewport" content="width=device-width"></head><body><h1>My post</h1><p>Liked it?</p>` +
          `<script type="module" src="${origin}/button.js" async></script><tipd-button handle="${handle}"></tipd-button></body></html>`,
      );
    });
    await new Promise<void>((resolve) => blog.listen(port, '127.0.0.1', resolve));
    try {
      const tab = await openTab(browser);
      tabs.push(tab);
      const requests: string[] = [];
      tab.page.on('request', (req) => requests.push(new URL(req.url()).origin));
      await tab.page.goto(`http://127.0.0.1:${port}/`);
      const button = tab.page.locator('tipd-button').getByRole('link');
      await expect.poll(() => button.textContent()).toBe(`⚡ Tip @${handle}1,200 sats waiting`);
      await screenshot(tab.page, 'button-on-a-blog');
      // Nothing but the blog and tipd itself.
      expect(new Set(requests)).toEqual(new Set([`http://127.0.0.1:${port}`, origin]));
      const [opened] = await Promise.all([tab.context.waitForEvent('page'), button.click()]);
      await opened.waitForURL(`${origin}/@${handle}`);
      await expect.poll(() => opened.locator('#waiting-sats').textContent()).toBe('1,200 sats');
    } finally {
      blog.close();
    }
  });
});

describe('every page', () => {
  it('fits a phone and a desktop, light and dark, with nothing wider than the screen', async () => {
    const handle = freshHandle('Look');
    await tipped(handle, 1_000);
    const pages = [
      { name: 'home', path: '/', ready: 'h1' },
      { name: 'tip-page', path: `/@${handle}`, ready: '#lnurl-qr' },
      { name: 'claim-page', path: `/@${handle}/claim`, ready: '#destination' },
      { name: 'supporter-page', path: '/me', ready: '#login-qr' },
    ];
    for (const viewport of ['phone', 'desktop'] as const) {
      for (const colorScheme of ['light', 'dark'] as const) {
        const tab = await openTab(browser, viewport, colorScheme);
        tabs.push(tab);
        for (const { name, path, ready } of pages) {
          await tab.page.goto(`${tipd.publicUrl}${path}`);
          await tab.page.locator(ready).waitFor();
          // Nothing scrolls sideways: the widest element fits the screen.
          expect(await tab.page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(viewports[viewport].width);
          await screenshot(tab.page, colorScheme === 'dark' ? `${name}-dark` : name);
        }
        await tab.close();
      }
    }
  });

  it('can be used by keyboard alone: the invoice form, from the first Tab', async () => {
    const page = await visit(`/@${freshHandle('Keys')}`);
    await page.locator('#lnurl-qr').waitFor();
    // Tab through to the 21,000 preset, choose it, then on to the submit button.
    for (let presses = 0; presses < 30; presses++) {
      await page.keyboard.press('Tab');
      if ((await page.evaluate<string | undefined>('document.activeElement?.textContent')) === '21,000') break;
    }
    await page.keyboard.press('Enter');
    expect(await page.getByLabel('Custom amount').inputValue()).toBe('21000');
    for (let presses = 0; presses < 10; presses++) {
      await page.keyboard.press('Tab');
      if ((await page.evaluate<string | undefined>('document.activeElement?.textContent')) === 'Make an invoice') break;
    }
    await page.keyboard.press('Enter');
    await page.locator('#invoice-qr').waitFor();
    expect(await page.locator('#invoice-qr').getAttribute('aria-label')).toBe('QR code: invoice of 21000 sats');
  });
});

describe('pages as served', () => {
  it('carry a strict Content-Security-Policy, and a bad handle is a 404 page', async () => {
    const res = await fetch(`${tipd.url}/@carol`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect((await fetch(`${tipd.url}/@not-a-handle!`)).status).toBe(404);
    const button = await fetch(`${tipd.url}/button.js`);
    expect(button.headers.get('access-control-allow-origin')).toBe('*');
    expect((await button.text()).length).toBeLessThan(5_000);
  });

  it('say what waits for a handle in their link preview, with no script run: title, Open Graph and X card, the URL from the public URL', async () => {
    const handle = freshHandle('Card');
    await tipped(handle, 1_234);
    // The Host header a request sends is never the page's URL.
    const html = await new Promise<string>((resolve, reject) =>
      http
        .get(`${tipd.url}/@${handle}`, { headers: { host: 'evil.example' } }, (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve(text));
        })
        .on('error', reject),
    );
    const meta = (property: string) => new RegExp(`<meta (?:property|name)="${property}" content="([^"]*)" />`).exec(html)?.[1];
    expect(/<title>([^<]*)<\/title>/.exec(html)?.[1]).toBe(`Tip @${handle} · tipd`);
    const description = `1,234 sats from 1 supporter wait for @${handle}. Tip with any Lightning wallet; @${handle} claims them with one tweet.`;
    expect(meta('og:description')).toBe(description);
    expect(meta('description')).toBe(description);
    expect(meta('og:title')).toBe(`Tip @${handle} · tipd`);
    expect(meta('og:url')).toBe(`${tipd.publicUrl}/@${handle}`);
    expect(meta('twitter:card')).toBe('summary');
    expect(html).not.toContain('evil.example');
    // The claim page, and a handle nobody tipped yet.
    const claim = await (await fetch(`${tipd.url}/@${handle}/claim`)).text();
    expect(/<title>([^<]*)<\/title>/.exec(claim)?.[1]).toBe(`Claim @${handle} · tipd`);
    expect(claim).toContain(`content="1,234 sats wait for @${handle}. Claim them with one tweet, to your Lightning Address or your node."`);
    // Asked in another case, with a trailing slash: the same page, at its one URL.
    const shouted = await (await fetch(`${tipd.url}/@${handle.toUpperCase()}/claim/`)).text();
    expect(shouted).toContain(`<meta property="og:url" content="${tipd.publicUrl}/@${handle}/claim" />`);
    expect(/<title>([^<]*)<\/title>/.exec(shouted)?.[1]).toBe(`Claim @${handle} · tipd`);
    const fresh = freshHandle('New');
    expect(await (await fetch(`${tipd.url}/@${fresh}`)).text()).toContain(`content="Be the first to tip @${fresh} with Lightning`);
    expect((await fetch(`${tipd.url}/@@${fresh}`)).status).toBe(404);
  });

  it('send their scripts compressed as the browser accepts, and cache them for good', async () => {
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(await (await fetch(`${tipd.url}/`)).text())![1]!;
    const get = (encoding: string) =>
      new Promise<http.IncomingMessage>((resolve) => http.get(`${tipd.url}${script}`, { headers: { 'accept-encoding': encoding } }, resolve));
    const brotli = await get('gzip, deflate, br');
    expect(brotli.headers['content-encoding']).toBe('br');
    expect(brotli.headers['content-type']).toMatch(/^text\/javascript/);
    expect(brotli.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    const plain = await get('identity');
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(Number(plain.headers['content-length'])).toBeGreaterThan(Number(brotli.headers['content-length']) * 2);
    brotli.resume();
    plain.resume();
    expect((await fetch(`${tipd.url}/assets/nothing.js`)).status).toBe(404);
  });
});
