// LNURL-pay for handles (LUD-06, with LUD-12 comments, LUD-16 Lightning Addresses, LUD-18 payer
// data, LUD-21 verify): every valid handle, claimed or not, is payable from any wallet at
// `<handle>@<host>`. The first answer's metadata is what the invoice commits to (its description
// hash), so the callback must rebuild exactly the same string: everything it depends on is in the
// callback's path (the handle as shown, claimed or not), never read again from the store.
import { hash } from 'node:crypto';
import { z } from 'zod';
import { Refusal } from '../errors.ts';
import type { Handle } from '../escrow/handles.ts';
import { parseAddress } from './address.ts';

export interface PayLimits {
  /** Regtest: payers' addresses may be local (see `callableHost` in address.ts). */
  allowLocal?: boolean;
  minSendableMsat: bigint;
  maxSendableMsat: bigint;
  /** The longest comment taken (LUD-12); 0: none. */
  commentMax: number;
}

/** Whether the handle's escrow goes to a creator now (claimed) or waits for one. */
export type HandleState = 'claimed' | 'unclaimed';

/** Where tipd is reached: the links and the Lightning Addresses' domain. */
export interface Site {
  /** TIPD_PUBLIC_URL: scheme and host, no trailing slash. */
  url: string;
  /** Its host (with the port, if not the scheme's own): the domain of the Lightning Addresses. */
  host: string;
}

export const siteOf = (publicUrl: string): Site => ({ url: publicUrl, host: new URL(publicUrl).host });

/** A handle's Lightning Address (LUD-16: usernames are lower case). */
export const lightningAddress = (site: Site, handle: Handle): string => `${handle.key}@${site.host}`;

/** The URL a handle's LNURL and Lightning Address both lead to. */
export const payRequestUrl = (site: Site, handle: Handle): string => `${site.url}/.well-known/lnurlp/${handle.key}`;

/** The metadata string of a handle's pay request: exactly one text/plain, and the identifier (LUD-16). */
export function metadataOf(site: Site, handle: Handle, state: HandleState): string {
  const text =
    state === 'claimed'
      ? `Tip @${handle.display} on ${site.host} (claimed: forwarded to @${handle.display})`
      : `Tip @${handle.display} on ${site.host} (not claimed yet: held for @${handle.display} until they claim it)`;
  return JSON.stringify([
    ['text/plain', text],
    ['text/identifier', lightningAddress(site, handle)],
  ]);
}

/** The first answer of LNURL-pay for a handle (LUD-06). */
export function payRequest(site: Site, handle: Handle, state: HandleState, limits: PayLimits) {
  return {
    tag: 'payRequest' as const,
    callback: `${site.url}/lnurl/pay/${handle.display}/${state}`,
    minSendable: Number(limits.minSendableMsat),
    maxSendable: Number(limits.maxSendableMsat),
    metadata: metadataOf(site, handle, state),
    ...(limits.commentMax > 0 ? { commentAllowed: limits.commentMax } : {}),
    payerData: { name: { mandatory: false }, identifier: { mandatory: false } },
  };
}

/**
 * A supporter's own LNURL-pay, to fund the balance from any wallet: one QR that stays the same
 * (the amount is picked in the wallet). It names the account's id, which is no secret: knowing it
 * lets one pay into the account, nothing more.
 */
export const fundingUrl = (site: Site, supporterId: string): string => `${site.url}/lnurl/fund/${supporterId}`;

export const fundingMetadata = (site: Site): string => JSON.stringify([['text/plain', `Top up your tipd balance on ${site.host}`]]);

/** The first answer of a supporter's funding LNURL-pay: no comment, no payer data (it is one's own account). */
export function fundingPayRequest(site: Site, supporterId: string, limits: Omit<PayLimits, 'commentMax'>) {
  return {
    tag: 'payRequest' as const,
    callback: `${fundingUrl(site, supporterId)}/callback`,
    minSendable: Number(limits.minSendableMsat),
    maxSendable: Number(limits.maxSendableMsat),
    metadata: fundingMetadata(site),
  };
}

/** What the payer may say of themselves (LUD-18): only what the pay request offered. */
const payerDataSchema = z.strictObject({
  name: z.string().max(100).optional(),
  identifier: z.string().max(320).optional(),
});
export type PayerData = z.infer<typeof payerDataSchema>;

/**
 * The callback's payer data, as sent (the invoice commits to the string itself); malformed, or an
 * identifier that is no Lightning Address tipd could pay back (`parseAddress`): refused.
 */
export function parsePayerData(raw: string, allowLocal: boolean): PayerData {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new Refusal('invalid_payerdata', 'payerdata is not JSON');
  }
  const parsed = payerDataSchema.safeParse(value);
  if (!parsed.success)
    throw new Refusal('invalid_payerdata', `payerdata: ${parsed.error.issues[0]!.path.join('.') || 'value'}: ${parsed.error.issues[0]!.message}`);
  const { identifier } = parsed.data;
  if (identifier === undefined) return parsed.data;
  try {
    return { ...parsed.data, identifier: parseAddress(identifier, allowLocal) };
  } catch {
    throw new Refusal('invalid_payerdata', 'payerdata: identifier: must be a Lightning Address (name@domain)');
  }
}

/** The description hash of a callback's invoice: of the metadata, followed by the payer data string when one was sent (LUD-18). */
export const descriptionHashOf = (metadata: string, payerData: string | undefined): Buffer => hash('sha256', metadata + (payerData ?? ''), 'buffer');

/** Control characters (and lone surrogates) out, whitespace runs as one space: a comment shown to the public. */
export function cleanComment(comment: string): string {
  return comment
    .toWellFormed()
    .replace(/[\p{Cc}\p{Cf}\u2028\u2029]+/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** A callback's amount (msat, as a decimal string): whole sats within the limits. */
export function checkAmount(amountMsat: bigint, limits: PayLimits): void {
  if (amountMsat % 1000n !== 0n) throw new Refusal('amount_not_whole_sats', `amount ${amountMsat} msat is not a whole number of sats`);
  if (amountMsat < limits.minSendableMsat || amountMsat > limits.maxSendableMsat)
    throw new Refusal('amount_out_of_range', `amount must be between ${limits.minSendableMsat} and ${limits.maxSendableMsat} msat`);
}

/** The success message a wallet shows once it paid (LUD-09: at most 144 characters). */
export function successMessage(handle: Handle, state: HandleState): string {
  const text =
    state === 'claimed' ? `Thank you! Your tip is on its way to @${handle.display}.` : `Thank you! Your tip waits for @${handle.display} to claim it.`;
  return text.length <= 144 ? text : `${text.slice(0, 143)}…`;
}
