// What the LNURL routes share: where they live (LNURL-pay's Lightning Address path, LUD-16, and
// everything under /lnurl/), and that wallet web apps may call them from any origin (CORS `*`: they
// carry no credentials). Their errors are answered in LNURL's format (api/errors.ts).
import type { RequestHandler } from 'express';

/** The paths of the LNURL routes. */
export const lnurlPaths = ['/.well-known/lnurlp', '/lnurl'];

export const isLnurlPath = (path: string): boolean => lnurlPaths.some((prefix) => path.startsWith(`${prefix}/`));

/** Any origin may call the LNURL routes; a preflight is answered at once. */
export const lnurlCors: RequestHandler = (req, res, next) => {
  res.set('Access-Control-Allow-Origin', '*');
  if (req.method !== 'OPTIONS') return next();
  res.set('Access-Control-Allow-Methods', 'GET').set('Access-Control-Max-Age', '86400').status(204).end();
};
