// tipd's web pages (web/, built into dist/web by `npm run build:web`), served on the API's own
// origin: one document for every page (`/`, `/@handle`, `/@handle/claim`, `/me`, `/admin`) under a strict
// Content-Security-Policy (nothing but tipd's own files; no inline script or style), the hashed
// assets cached for good, and the tip button (`/button.js`) for other sites' pages. Each page's
// document carries its own title and link preview (preview.ts).
import fs from 'node:fs';
import path from 'node:path';
import type { Express, Request, Response } from 'express';
import { Refusal } from '../errors.ts';
import { parseHandle } from '../escrow/handles.ts';
import type { Tips } from '../escrow/tips.ts';
import type { Logger } from '../process/log.ts';
import { handlePreview, takesPreview, withPreview, type Preview } from './preview.ts';

/** Where `npm run build:web` puts the pages. */
export const pagesDir = path.join(import.meta.dirname, '../../dist/web');

/** Pages load only tipd's own scripts, styles and API (the websocket too), and no one frames them. */
export const pagesPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** The paths of the pages; anything else under / is not one. */
export const pagePaths = ['/', '/@:handle', '/@:handle/claim', '/me', '/admin'];

/** The pages that name no handle, as their scripts title them too. */
const fixedPreviews: Record<string, Preview> = {
  '/': { title: 'tipd: tip anyone on X with Lightning', description: 'Tip anyone on X with Lightning, from any wallet. Sats wait for them until they claim.' },
  '/me': { title: 'Your tips · tipd', description: 'Fund a budget from any Lightning wallet, tip any X handle, and withdraw what is left whenever you like.' },
  '/admin': { title: 'Operator · tipd', description: "The operator's view of what tipd owes." },
};

export interface PageSources {
  /** What waits for a handle, for its pages' previews. */
  tips?: Pick<Tips, 'handle'>;
  /** TIPD_PUBLIC_URL: the pages' own URLs in previews (none without it: never a request's Host). */
  publicUrl?: string | undefined;
}

const setPageHeaders = (res: Response) =>
  res.set({
    'Content-Security-Policy': pagesPolicy,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cache-Control': 'no-cache',
  });

/** Mounts the pages on `app`; without a build, they answer 503 `pages_not_built` (the API works all the same). */
export function pageRoutes(app: Express, log: Logger, dir = pagesDir, sources: PageSources = {}): void {
  const indexPath = path.join(dir, 'index.html');
  const document = fs.existsSync(indexPath) ? fs.readFileSync(indexPath, 'utf8') : undefined;
  const previews = document !== undefined && takesPreview(document);
  if (!document) log.warn({ dir }, 'the web pages are not built (npm run build:web): pages answer 503');
  else if (!previews) log.warn({ dir }, 'the built pages have no title and description to put previews in: served as built');

  /** The page at `req`'s path with its preview; undefined: no such handle. Its URL is the canonical one, whatever case or slash was asked. */
  const documentFor = async (req: Request, built: string): Promise<string | undefined> => {
    const param = req.params.handle as string | undefined;
    const urlOf = (path: string) => (sources.publicUrl === undefined ? undefined : `${sources.publicUrl}${path}`);
    if (param === undefined) {
      const path = req.path.toLowerCase().replace(/\/$/, '') || '/';
      const preview = fixedPreviews[path];
      return preview && previews ? withPreview(built, preview, urlOf(path)) : built;
    }
    const handle = param.startsWith('@') ? undefined : parseHandle(param);
    if (!handle) return undefined;
    if (!sources.tips || !previews) return built;
    const view = await sources.tips.handle(handle);
    // Matched without regard to case, with or without a trailing slash, as express routes.
    const claim = /\/claim\/?$/i.test(req.path);
    return withPreview(built, handlePreview(view, claim ? 'claim' : 'tip'), urlOf(`/@${view.handle}${claim ? '/claim' : ''}`));
  };

  app.get(pagePaths, async (req, res) => {
    if (!document) throw new Refusal('pages_not_built');
    const page = await documentFor(req, document);
    setPageHeaders(res)
      .status(page === undefined ? 404 : 200)
      .type('html')
      .send(page ?? document);
  });
  app.get('/button.js', (req, res, next) => {
    // Other sites load it as a module: it needs CORS, and may be cached a little.
    res.set({ 'Access-Control-Allow-Origin': '*', 'Cross-Origin-Resource-Policy': 'cross-origin' });
    sendBuilt(req, res, dir, 'button.js', '10m', () => next(new Refusal(document ? 'not_found' : 'pages_not_built')));
  });
  // Named by their content's hash: a new build has new names, so they are cached for good.
  app.get('/assets/:file', (req, res, next) => {
    const { file } = req.params;
    if (!assetPattern.test(file)) return next();
    sendBuilt(req, res, dir, `assets/${file}`, '365d', () => next());
  });
}

/** The build's file names: letters, digits, `-`, `_` and `.`, no path. */
const assetPattern = /^[\w-]+(\.[\w-]+)*\.(js|css)$/;

/** The encodings the build made copies in (web/vite.config.ts), best first. */
const encodings = [
  { name: 'br', suffix: '.br' },
  { name: 'gzip', suffix: '.gz' },
] as const;

/** Sends a built file, compressed as the browser accepts (its brotli or gzip copy), or calls `missing`. */
function sendBuilt(req: Request, res: Response, dir: string, file: string, maxAge: string, missing: () => void): void {
  // Ours first (brotli is the smaller), as long as the browser takes it at all; the file itself
  // when it takes none, or when a build made no copy.
  const accepted = encodings.filter((e) => req.acceptsEncodings(e.name) === e.name);
  const send = (encoding: (typeof encodings)[number] | undefined) => {
    // The type of the file itself, not of its compressed copy.
    res.set({ 'X-Content-Type-Options': 'nosniff', Vary: 'Accept-Encoding' }).type(path.extname(file));
    if (encoding) res.set('Content-Encoding', encoding.name);
    else res.removeHeader('Content-Encoding');
    res.sendFile(file + (encoding?.suffix ?? ''), { root: dir, maxAge, immutable: maxAge === '365d' }, (err) => {
      if (!err || res.headersSent) return;
      if (encoding) return send(accepted[accepted.indexOf(encoding) + 1]);
      missing();
    });
  };
  send(accepted[0]);
}
