// What a page says of itself before any script runs: its title, description, and the Open Graph
// and X card tags that link previews read (X, chat apps and search engines run no JavaScript). A
// handle's pages name the handle and what waits for it, so that a link to them, tweeted to tell a
// creator, says so itself. Their URL comes from TIPD_PUBLIC_URL only, never from a request.
import type { HandleView } from '../escrow/tips.ts';

export interface Preview {
  title: string;
  description: string;
}

/** What the built document says (web/index.html): what a preview replaces. */
const builtTitle = '<title>tipd</title>';
const builtDescription = /<meta name="description" content="[^"]*" \/>/;

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const sats = (msat: string): string => (BigInt(msat) / 1000n).toLocaleString('en-US');
const plural = (n: number, one: string, many: string): string => `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;

/** A handle's tip page (`/@handle`), or its claim page. */
export function handlePreview(view: HandleView, page: 'tip' | 'claim'): Preview {
  const at = `@${view.handle}`;
  const waiting = view.pendingMsat === '0' ? undefined : `${sats(view.pendingMsat)} sats`;
  // Payers by LNURL who gave no address are tips, not known supporters (as the page says it).
  const from = view.supporters > 0 ? plural(view.supporters, 'supporter', 'supporters') : plural(view.tips, 'tip', 'tips');
  if (page === 'claim' && view.claimed)
    return { title: `Claim ${at} · tipd`, description: `${at} has claimed its tips on tipd: they are forwarded as they come.` };
  if (page === 'claim')
    return {
      title: `Claim ${at} · tipd`,
      description: `${waiting ? `${waiting} wait for ${at}. ` : ''}Claim them with one tweet, to your Lightning Address or your node.`,
    };
  if (view.claimed) return { title: `Tip ${at} · tipd`, description: `Tip ${at} with Lightning, from any wallet: tips are forwarded to ${at} as they come.` };
  return {
    title: `Tip ${at} · tipd`,
    description: waiting
      ? `${waiting} from ${from} wait for ${at}. Tip with any Lightning wallet; ${at} claims them with one tweet.`
      : `Be the first to tip ${at} with Lightning, from any wallet. The sats wait until ${at} claims them with one tweet.`,
  };
}

/** `document` with `preview`'s title and description, and the link preview tags; `url`: the page's public URL, if tipd has one. */
export function withPreview(document: string, preview: Preview, url: string | undefined): string {
  const title = escapeHtml(preview.title);
  const description = escapeHtml(preview.description);
  const tags = [
    `<title>${title}</title>`,
    '<meta property="og:type" content="website" />',
    '<meta property="og:site_name" content="tipd" />',
    `<meta property="og:title" content="${title}" />`,
    `<meta property="og:description" content="${description}" />`,
    ...(url === undefined ? [] : [`<meta property="og:url" content="${escapeHtml(url)}" />`]),
    '<meta name="twitter:card" content="summary" />',
  ].join('\n    ');
  // Replaced by functions: a `$` in a value is only a `$`.
  return document.replace(builtTitle, () => tags).replace(builtDescription, () => `<meta name="description" content="${description}" />`);
}

/** Whether `document` is one a preview can be put in (else pages are served as built). */
export const takesPreview = (document: string): boolean => document.includes(builtTitle) && builtDescription.test(document);
