// tipd as a wallet paying a Lightning Address (LUD-16, LUD-06): the one module that calls other
// LNURL servers. It resolves an address to its pay request, asks its callback for an invoice, and
// checks that invoice before anything is paid. Every call has a timeout and a cap on the answer's
// size; only https is spoken (or http to a .onion host); every failure is a Refusal with a code,
// which a claim answers with and a payout takes as a failed attempt.
import { hash } from 'node:crypto';
import { z } from 'zod';
import type { Network } from '../config.ts';
import { Refusal } from '../errors.ts';
import { decodeInvoice, invoiceNetworkOf } from '../ln/bolt11.ts';
import { readCapped } from '../process/read-capped.ts';

/** A Lightning Address as tipd keeps it: lower case; the domain may carry a port (a local stack). */
const addressPattern = /^([a-z0-9._+-]{1,64})@((?:[a-z0-9-]{1,63}\.)*[a-z0-9-]{1,63}(?::\d{1,5})?)$/;

/** `input` as a Lightning Address (trimmed, lower case); refused with `address_invalid` if it is none. */
export function parseAddress(input: string): string {
  const address = input.trim().toLowerCase();
  if (!addressPattern.test(address)) throw new Refusal('address_invalid', 'lightningAddress must look like name@domain');
  return address;
}

/** Where an address's pay request is (LUD-16): https, or http to a .onion host. */
export function payRequestUrlOf(address: string): string {
  const [, user, domain] = addressPattern.exec(address)!;
  const scheme = domain!.split(':')[0]!.endsWith('.onion') ? 'http' : 'https';
  return `${scheme}://${domain}/.well-known/lnurlp/${user}`;
}

/** A pay request as tipd relies on it. */
export interface PayRequest {
  callback: string;
  minSendableMsat: bigint;
  maxSendableMsat: bigint;
  metadata: string;
  /** The longest comment taken (LUD-12); 0: none. */
  commentAllowed: number;
}

const msatField = z.union([z.number().int().positive().max(Number.MAX_SAFE_INTEGER), z.string().regex(/^[1-9]\d{0,17}$/)]).transform((v) => BigInt(v));
const payRequestSchema = z.object({
  tag: z.literal('payRequest'),
  callback: z.string().max(2_000),
  minSendable: msatField,
  maxSendable: msatField,
  metadata: z.string().max(100_000),
  commentAllowed: z.number().int().nonnegative().optional(),
});
const errorAnswerSchema = z.object({ status: z.literal('ERROR'), reason: z.string().optional() });
const invoiceAnswerSchema = z.object({
  pr: z.string().min(1).max(4_000),
  successAction: z.object({ tag: z.string(), message: z.string().optional() }).passthrough().optional().nullable(),
});

/** A pay request answer is a few kB; an image in the metadata makes it larger. */
const answerBytesMax = 256 * 1024;

/** Whether `url` may be called: https, or http to a .onion host. */
const speakable = (url: URL) => url.protocol === 'https:' || (url.protocol === 'http:' && url.hostname.endsWith('.onion'));

export interface AddressClientOptions {
  timeoutMs: number;
  /** For tests: how to fetch. */
  fetch?: typeof fetch;
}

export class LightningAddresses {
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;

  constructor(options: AddressClientOptions) {
    this.#timeoutMs = options.timeoutMs;
    this.#fetch = options.fetch ?? fetch;
  }

  /** GETs `url` and answers its JSON; an LNURL error answer, or any failure, is `address_unreachable`. */
  async #get(url: URL, what: string): Promise<unknown> {
    if (!speakable(url)) throw new Refusal('address_unreachable', `${what}: ${url.protocol} is not spoken; Lightning Addresses are https`);
    let text: string;
    try {
      const res = await this.#fetch(url, { headers: { accept: 'application/json' }, redirect: 'error', signal: AbortSignal.timeout(this.#timeoutMs) });
      const read = await readCapped(res, answerBytesMax);
      if (read === undefined) throw new Error(`an answer larger than ${answerBytesMax} bytes`);
      text = read;
      if (!res.ok && !text.includes('ERROR')) throw new Error(`HTTP ${res.status}`);
    } catch (err) {
      const e = err as Error;
      const reason = e.name === 'TimeoutError' ? `no answer within ${this.#timeoutMs} ms` : `${e.message}${e.cause ? ` (${(e.cause as Error).message})` : ''}`;
      throw new Refusal('address_unreachable', `${what} failed: ${reason}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new Refusal('address_unreachable', `${what} answered something that is not JSON`);
    }
    const error = errorAnswerSchema.safeParse(json);
    if (error.success) throw new Refusal('address_unreachable', `${what} answered an error: ${(error.data.reason ?? 'no reason').slice(0, 200)}`);
    return json;
  }

  /** The address's pay request (LUD-16): a `payRequest` with an https callback and sane limits. */
  async resolve(address: string): Promise<PayRequest> {
    const what = `the Lightning Address ${address}`;
    const parsed = payRequestSchema.safeParse(await this.#get(new URL(payRequestUrlOf(address)), what));
    if (!parsed.success) throw new Refusal('address_unreachable', `${what} answered no pay request tipd can use (${parsed.error.issues[0]!.path.join('.')})`);
    const { callback, minSendable, maxSendable, metadata, commentAllowed } = parsed.data;
    const callbackUrl = URL.parse(callback);
    if (!callbackUrl || !speakable(callbackUrl)) throw new Refusal('address_unreachable', `${what} has a callback that is not https`);
    if (minSendable > maxSendable) throw new Refusal('address_limits', `${what} takes at least ${minSendable} msat but at most ${maxSendable}`);
    return { callback, minSendableMsat: minSendable, maxSendableMsat: maxSendable, metadata, commentAllowed: commentAllowed ?? 0 };
  }

  /** Asks the callback for an invoice of `amountMsat`, with `comment` if the address takes one (cut to its length). */
  async invoice(payRequest: PayRequest, amountMsat: bigint, comment: string): Promise<{ paymentRequest: string; successMessage: string | null }> {
    const url = new URL(payRequest.callback);
    url.searchParams.set('amount', amountMsat.toString());
    if (payRequest.commentAllowed > 0 && comment) url.searchParams.set('comment', [...comment].slice(0, payRequest.commentAllowed).join(''));
    const answer = invoiceAnswerSchema.safeParse(await this.#get(url, `the callback of ${url.host}`));
    if (!answer.success) throw new Refusal('address_bad_invoice', `the callback of ${url.host} answered no invoice`);
    const message = answer.data.successAction?.tag === 'message' ? (answer.data.successAction.message ?? null) : null;
    return { paymentRequest: answer.data.pr, successMessage: message?.slice(0, 144) ?? null };
  }
}

/** Whether an invoice committed to the pay request's metadata (LUD-06), or carried a plain description instead. */
export type DescriptionCheck = 'matched' | 'absent';

/**
 * Checks an invoice an address's callback gave before anything is paid: a BOLT11 request of this
 * network, not expired (with a minute to spare), for exactly `amountMsat`, not the hub's own, and
 * committing to the metadata (an invoice with a plain description instead is taken, and that is
 * recorded). Refused with `address_bad_invoice`.
 */
export function checkInvoice(
  paymentRequest: string,
  expected: { amountMsat: bigint; metadata: string; network: Network; hubPubkey: string; now: Date },
): { paymentHash: string; request: string; description: DescriptionCheck } {
  const decoded = decodeInvoice(paymentRequest);
  const bad = (why: string) => new Refusal('address_bad_invoice', `the address gave an invoice ${why}`);
  if (!decoded) throw bad('that is not a BOLT11 payment request');
  if (decoded.network !== invoiceNetworkOf[expected.network]) throw bad(`for another network (${decoded.network})`);
  if (decoded.payee === expected.hubPubkey) throw bad("of this tipd's own node");
  if (decoded.amountMsat !== expected.amountMsat) throw bad(`for ${decoded.amountMsat ?? 'no'} msat, not the ${expected.amountMsat} asked`);
  if (decoded.expiresAt.getTime() - expected.now.getTime() < 60_000) throw bad('that expires within a minute');
  if (decoded.descriptionHash !== undefined && decoded.descriptionHash !== hash('sha256', expected.metadata))
    throw bad('whose description hash is not that of its metadata');
  return { paymentHash: decoded.paymentHash, request: decoded.request, description: decoded.descriptionHash === undefined ? 'absent' : 'matched' };
}
