// The addresses of tipd's pages (web/), built from its public URL (TIPD_PUBLIC_URL) and never from a
// request: the links tipd prints (a notify text, a claim's tweet) lead people here.
import type { Site } from '../lnurl/pay.ts';

/** A handle's tip page. */
export const tipPageUrl = (site: Site, handle: string): string => `${site.url}/@${handle}`;

/** Where a handle's creator claims its sats. */
export const claimPageUrl = (site: Site, handle: string): string => `${tipPageUrl(site, handle)}/claim`;
