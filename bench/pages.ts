// The tip page's budget: its JS and CSS compressed (gzip and brotli, as a phone downloads them)
// against 100 kB, and its first render (the handle and its QR on screen) in Chromium against 1 s,
// on a tipd without LND (a page needs only the ledger), as served and on a throttled phone link.
// Needs the built pages (npm run build:web) and Chromium (scripts/browser.sh).
import fs from 'node:fs';
import path from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { fundedLedger, roundsFrom, spread, tipdWithoutLnd } from './fixtures.ts';
import { pagesDir } from '../src/pages/pages.ts';

const budgetBytes = 100_000;
const firstRenderBudgetMs = 1_000;
const rounds = roundsFrom('BENCH_PAGE_ROUNDS', 15);

// What the tip page loads: the assets its document names (one script, one stylesheet, no others).
const html = fs.readFileSync(path.join(pagesDir, 'index.html'), 'utf8');
const assets = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.(?:js|css))"/g)].map(([, file]) => file!);
let gzipBytes = 0;
let brotliBytes = 0;
let rawBytes = 0;
for (const file of assets) {
  const bytes = fs.readFileSync(path.join(pagesDir, file));
  rawBytes += bytes.length;
  gzipBytes += gzipSync(bytes, { level: 9 }).length;
  brotliBytes += brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
}
const button = fs.readFileSync(path.join(pagesDir, 'button.js'));
const kb = (n: number) => `${(n / 1000).toFixed(1)} kB`;
console.log(
  `pages: the tip page's JS and CSS (${assets.length} files): ${kb(rawBytes)} raw, ${kb(gzipBytes)} gzip, ${kb(brotliBytes)} brotli; budget ${kb(budgetBytes)} compressed: ${gzipBytes <= budgetBytes ? 'met' : 'NOT MET'}`,
);
console.log(`pages: the tip button for other sites: ${kb(button.length)} raw, ${kb(gzipSync(button, { level: 9 }).length)} gzip`);

const { dataDir, store, ledger } = await fundedLedger(1, 10n ** 9n);
await ledger.close();
await store.close();
const tipd = await tipdWithoutLnd(dataDir);
const browser = await chromium.launch({ executablePath: process.env.TIPD_CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
try {
  // A phone on a middling mobile link: 150 ms round trips, 1.6 Mbit/s down, a CPU four times slower.
  // The budget is for the page as served (on the stack's machine); the phone's figure is for reading.
  const links = [
    { name: 'as served', throttle: false, budget: true },
    { name: 'a throttled phone (150 ms RTT, 1.6 Mbit/s, CPU ÷4)', throttle: true, budget: false },
  ];
  for (const link of links) {
    const firstRenders: number[] = [];
    for (let round = 0; round < rounds; round++) {
      // A new context each time: nothing cached, as a first visit.
      const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
      const page = await context.newPage();
      if (link.throttle) {
        const cdp = await context.newCDPSession(page);
        await cdp.send('Network.enable');
        await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 150, downloadThroughput: 200_000, uploadThroughput: 90_000 });
        await cdp.send('Emulation.setCPUThrottlingRate', { rate: 4 });
      }
      await page.goto(`${tipd.url}/@carol`);
      await page.locator('#lnurl-qr').waitFor();
      // From the start of the navigation to the handle and its QR on screen, by the page's own clock.
      firstRenders.push(await page.evaluate(() => performance.now()));
      await context.close();
    }
    const { median, min, max } = spread(firstRenders);
    console.log(
      `pages: first render of a tip page, ${link.name}: median ${median.toFixed(0)} ms (min ${min.toFixed(0)}, max ${max.toFixed(0)}, ${rounds} first visits)` +
        (link.budget ? `; budget ${firstRenderBudgetMs} ms: ${median <= firstRenderBudgetMs ? 'met' : 'NOT MET'}` : ''),
    );
  }
} finally {
  await browser.close();
  await tipd.stop();
  fs.rmSync(dataDir, { recursive: true, force: true, maxRetries: 3 });
}
