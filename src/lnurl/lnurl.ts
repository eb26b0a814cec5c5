// What every LNURL exchange shares (LUD-01): the bech32 `LNURL1…` form of a URL, shown in QR codes
// (upper case: QR codes hold it in fewer modules), and the LNURL error answer. The LNURL routes
// (api/lnurl.ts) answer in this format instead of tipd's own error format, since wallets read it.
import { bech32 } from 'bech32';

/** LNURLs are longer than bech32's 90-character limit for addresses (LUD-01). */
const lnurlLengthLimit = 2_000;

/** `url` as a bech32 `LNURL1…` string. */
export function encodeLnurl(url: string): string {
  return bech32.encode('lnurl', bech32.toWords(Buffer.from(url, 'utf8')), lnurlLengthLimit).toUpperCase();
}

/** The URL a bech32 LNURL stands for; `undefined` when it is not one. */
export function decodeLnurl(lnurl: string): string | undefined {
  try {
    const { prefix, words } = bech32.decode(lnurl.toLowerCase().replace(/^lightning:/, ''), lnurlLengthLimit);
    return prefix === 'lnurl' ? Buffer.from(bech32.fromWords(words)).toString('utf8') : undefined;
  } catch {
    return undefined;
  }
}

/** The LNURL error answer (LUD-01), with tipd's machine-readable code beside the reason. */
export interface LnurlError {
  status: 'ERROR';
  reason: string;
  code: string;
}

export const lnurlError = (code: string, reason: string): LnurlError => ({ status: 'ERROR', reason, code });
