// A real browser for the page tests: Debian's Chromium (scripts/browser.sh installs it) driven by
// Playwright, at a phone's and a desktop's size. It reads QR codes off screenshots as a phone's
// camera would (jsQR), saves screenshots to tests/screenshots/ (ignored by git) and fails a test on
// any script error or Content-Security-Policy violation of the page.
import fs from 'node:fs';
import path from 'node:path';
import jsQRModule from 'jsqr';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { PNG } from 'pngjs';

/** jsqr is CommonJS with an `exports.default`: what Node's ESM import sees as its default's default. */
const jsQR = jsQRModule.default;

export const chromiumPath = process.env.TIPD_CHROMIUM ?? '/usr/bin/chromium';
export const screenshotsDir = path.join(import.meta.dirname, '../screenshots');

export const viewports = {
  phone: { width: 390, height: 844 },
  desktop: { width: 1280, height: 900 },
} as const;
export type Viewport = keyof typeof viewports;

export const launchBrowser = (): Promise<Browser> => chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox', '--disable-gpu'] });

export interface Tab {
  page: Page;
  context: BrowserContext;
  /** What went wrong in the page: uncaught errors, and console errors such as CSP violations. */
  problems: string[];
  close(): Promise<void>;
}

/** A fresh tab (its own storage), trusting the stack's certificates as a phone would trust a real one. */
export async function openTab(browser: Browser, viewport: Viewport = 'phone', colorScheme: 'light' | 'dark' = 'light'): Promise<Tab> {
  const context = await browser.newContext({
    viewport: viewports[viewport],
    colorScheme,
    ignoreHTTPSErrors: true,
    permissions: ['clipboard-read', 'clipboard-write'],
  });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (message) => {
    // A refusal of tipd's (a 4xx the page explains) is logged by the browser too: not a problem of the page.
    if (message.type() === 'error' && !/^Failed to load resource: the server responded with a status of 4\d\d/.test(message.text()))
      problems.push(`console: ${message.text()}`);
  });
  return { page, context, problems, close: () => context.close() };
}

/** The text of the QR code `qr` shows, read from a screenshot of it. */
export async function readQr(qr: Locator): Promise<string> {
  const png = PNG.sync.read(await qr.screenshot());
  const code = jsQR(new Uint8ClampedArray(png.data), png.width, png.height);
  if (!code) throw new Error('no QR code could be read from the screenshot');
  return code.data;
}

/** A full-page screenshot, `<name>-<viewport>.png`, for people to look at. */
export async function screenshot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(screenshotsDir, { recursive: true });
  const width = page.viewportSize()?.width ?? 0;
  const viewport = width < 600 ? 'phone' : 'desktop';
  await page.screenshot({ path: path.join(screenshotsDir, `${name}-${viewport}.png`), fullPage: true });
}
