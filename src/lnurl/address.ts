// tipd as a wallet paying a Lightning Address (LUD-16, LUD-06): the one module that calls other
// LNURL servers. It resolves an address to its pay request, asks its callback for an invoice, and
// checks that invoice before anything is paid. Every call has a timeout and a cap on the answer's
// size; only https is spoken (or http to a .onion host), to public hosts only (a local stack's on
// regtest), connected to at public addresses only (public-network.ts); every failure is a Refusal with a code, which a claim answers with and a payout takes
// as a failed attempt.
import { hash } from 'node:crypto';
import { z } from 'zod';
import type { Network } from '../config.ts';
import { Refusal } from '../errors.ts';
import { decodeInvoice, invoiceProblem, type DecodedInvoice, type InvoiceProblem } from '../ln/bolt11.ts';
import { readCapped } from '../process/read-capped.ts';
import { cleanComment as cleanText } from './pay.ts';
import { publicOnlyAgent, type Resolve } from './public-network.ts';
import { fetch as undiciFetch } from 'undici';

/** A Lightning Address's parts: a user, and a domain (with a port only on a local stack). */
const addressPattern = /^([a-z0-9._+-]{1,64})@((?:[a-z0-9-]{1,63}\.)*[a-z0-9-]{1,63})(?::(\d{1,5}))?$/;

/**
 * Whether tipd may call `host` (a hostname, no port): on a public network only a DNS name of at
 * least two labels whose last is not a number (no IP literal, no `localhost`, no single label), so
 * that a claim or a payer cannot point tipd at its own machine or network. On regtest anything:
 * the stack's servers listen on localhost.
 */
export function callableHost(host: string, allowLocal: boolean): boolean {
  if (allowLocal) return true;
  const labels = host.split('.');
  return labels.length >= 2 && !/^\d+$/.test(labels.at(-1)!) && !host.endsWith('.localhost') && !host.endsWith('.local') && !host.startsWith('[');
}

/**
 * `input` as a Lightning Address (trimmed, lower case), or refused with `address_invalid`. A port,
 * an IP address or a local name only when `allowLocal` (regtest): see `callableHost`.
 */
export function parseAddress(input: string, allowLocal: boolean): string {
  const address = input.trim().toLowerCase();
  const match = addressPattern.exec(address);
  const port = match?.[3] === undefined ? undefined : Number(match[3]);
  const refused = () => new Refusal('address_invalid', 'lightningAddress must look like name@domain');
  if (!match || (port !== undefined && (!allowLocal || port < 1 || port > 65_535)) || !callableHost(match[2]!, allowLocal)) throw refused();
  if (!URL.canParse(payRequestUrlOf(address))) throw refused();
  return address;
}

/** Where an address's pay request is (LUD-16): https, or http to a .onion host. */
export function payRequestUrlOf(address: string): string {
  const at = address.lastIndexOf('@');
  const [user, domain] = [address.slice(0, at), address.slice(at + 1)];
  const scheme = domain.split(':')[0]!.endsWith('.onion') ? 'http' : 'https';
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

/** Msat as servers write them: a number (one past 2^53 is taken as 2^53, a bound no payout nears) or a decimal string. */
const msatField = z
  .union([z.number().int().positive(), z.string().regex(/^[1-9]\d{0,17}$/)])
  .transform((v) => (typeof v === 'number' ? BigInt(Math.min(v, Number.MAX_SAFE_INTEGER)) : BigInt(v)));
const payRequestSchema = z.object({
  tag: z.literal('payRequest'),
  callback: z.string().max(2_000),
  minSendable: msatField,
  maxSendable: msatField,
  metadata: z.string(),
  commentAllowed: z.number().int().nonnegative().nullable().optional(),
});
const errorAnswerSchema = z.object({ status: z.literal('ERROR'), reason: z.string().optional() });
const invoiceAnswerSchema = z.object({
  pr: z.string().min(1).max(4_000),
  successAction: z.object({ tag: z.string(), message: z.string().optional() }).passthrough().optional().nullable(),
});

/** A pay request answer is a few kB; an image in the metadata (LUD-06 allows one) makes it larger. */
const answerBytesMax = 1024 * 1024;

/** Redirects followed (a custom domain may send its addresses to its wallet's server), each checked as the first URL. */
const redirectsMax = 3;

export interface AddressClientOptions {
  timeoutMs: number;
  /** Regtest: the stack's servers, on localhost with ports, may be called (see `callableHost`). */
  allowLocal: boolean;
  /** For tests: how to fetch. */
  fetch?: typeof fetch;
  /** For tests: how names are resolved (the system's resolver by default). */
  resolve?: Resolve;
}

export class LightningAddresses {
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;
  readonly #allowLocal: boolean;
  /** Off regtest, connections go to public addresses only, whatever a name resolves to. */
  readonly #dispatcher: ReturnType<typeof publicOnlyAgent> | undefined;

  constructor(options: AddressClientOptions) {
    this.#timeoutMs = options.timeoutMs;
    // undici's own fetch with undici's agent (the one Node bundles may be of another version).
    this.#fetch = options.fetch ?? (undiciFetch as unknown as typeof fetch);
    this.#allowLocal = options.allowLocal;
    this.#dispatcher = options.allowLocal ? undefined : publicOnlyAgent(options.resolve);
  }

  /** Whether `url` may be called: https (or http to a .onion host), to a host `callableHost` allows. */
  #callable(url: URL): boolean {
    const scheme = url.protocol === 'https:' || (url.protocol === 'http:' && url.hostname.endsWith('.onion'));
    return scheme && callableHost(url.hostname, this.#allowLocal) && (url.port === '' || this.#allowLocal) && !url.username && !url.password;
  }

  /**
   * GETs `url` and answers its JSON; an LNURL error answer, or any failure, is `address_unreachable`.
   * What went wrong on the way is told in general terms only (claims are public: tipd must not
   * tell a caller which ports of a host answer); the log has no more either.
   */
  async #get(first: URL, what: string): Promise<unknown> {
    let text: string;
    let url = first;
    for (let redirects = 0; ; redirects++) {
      if (!this.#callable(url)) throw new Refusal('address_unreachable', `${what}: tipd only calls https URLs of public hosts`);
      let res: Response;
      try {
        res = await this.#fetch(url, {
          headers: { accept: 'application/json' },
          redirect: 'manual',
          signal: AbortSignal.timeout(this.#timeoutMs),
          ...(this.#dispatcher && { dispatcher: this.#dispatcher }),
        });
      } catch (err) {
        const timedOut = (err as Error).name === 'TimeoutError';
        throw new Refusal('address_unreachable', `${what} could not be reached (${timedOut ? `no answer within ${this.#timeoutMs} ms` : 'no connection'})`);
      }
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location !== null) {
        await res.body?.cancel();
        const next = URL.parse(location, url.href);
        if (!next || redirects >= redirectsMax) throw new Refusal('address_unreachable', `${what} redirects too often, or nowhere`);
        url = next;
        continue;
      }
      let read: string | undefined;
      try {
        read = await readCapped(res, answerBytesMax);
      } catch {
        throw new Refusal('address_unreachable', `${what} broke off its answer`);
      }
      if (read === undefined) throw new Refusal('address_unreachable', `${what} answered more than ${answerBytesMax} bytes`);
      if (!res.ok && !read.includes('ERROR')) throw new Refusal('address_unreachable', `${what} answered HTTP ${res.status}`);
      text = read;
      break;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new Refusal('address_unreachable', `${what} answered something that is not JSON`);
    }
    const error = errorAnswerSchema.safeParse(json);
    if (error.success) throw new Refusal('address_unreachable', `${what} answered an error: ${cleanText(error.data.reason ?? 'no reason').slice(0, 200)}`);
    return json;
  }

  /** The address's pay request (LUD-16): a `payRequest` with an https callback and sane limits. */
  async resolve(address: string): Promise<PayRequest> {
    const what = `the Lightning Address ${address}`;
    const parsed = payRequestSchema.safeParse(await this.#get(new URL(payRequestUrlOf(address)), what));
    if (!parsed.success) throw new Refusal('address_unreachable', `${what} answered no pay request tipd can use (${parsed.error.issues[0]!.path.join('.')})`);
    const { callback, minSendable, maxSendable, metadata, commentAllowed } = parsed.data;
    const callbackUrl = URL.parse(callback);
    if (!callbackUrl || !this.#callable(callbackUrl))
      throw new Refusal('address_unreachable', `${what} has a callback tipd will not call (not https, or not a public host)`);
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
    // Shown to the public with the payout: no control characters.
    return { paymentRequest: answer.data.pr, successMessage: message === null ? null : cleanText(message).slice(0, 144) || null };
  }
}

/** What an invoice `invoiceProblem` refuses is, as the refusal says it. */
function problemText(problem: InvoiceProblem, decoded: DecodedInvoice): string {
  switch (problem) {
    case 'wrong_network':
      return `for another network (${decoded.network})`;
    case 'own_invoice':
      return "of this tipd's own node";
    case 'amount_missing':
      return 'for no amount';
    case 'invoice_expired':
      return 'that expires within a minute';
    default:
      return 'that is not a BOLT11 payment request';
  }
}

/** Whether an invoice committed to the pay request's metadata (LUD-06), or carried a plain description instead. */
export type DescriptionCheck = 'matched' | 'absent';

/**
 * Checks an invoice an address's callback gave before anything is paid: a BOLT11 request of this
 * network, not expired (with a minute to spare), not the hub's own (as a withdrawal's: `invoiceProblem`),
 * for exactly `amountMsat`, and
 * committing to the metadata (an invoice with a plain description instead is taken, and that is
 * recorded). Refused with `address_bad_invoice`.
 */
export function checkInvoice(
  paymentRequest: string,
  expected: { amountMsat: bigint; metadata: string; network: Network; hubPubkey: string; now: Date },
): { paymentHash: string; request: string; description: DescriptionCheck; expiresAt: Date } {
  const decoded = decodeInvoice(paymentRequest);
  const bad = (why: string) => new Refusal('address_bad_invoice', `the address gave an invoice ${why}`);
  if (!decoded) throw bad('that is not a BOLT11 payment request');
  const problem = invoiceProblem(decoded, expected);
  if (problem) throw bad(problemText(problem, decoded));
  if (decoded.amountMsat !== expected.amountMsat) throw bad(`for ${decoded.amountMsat} msat, not the ${expected.amountMsat} asked`);
  if (decoded.descriptionHash !== undefined && decoded.descriptionHash !== hash('sha256', expected.metadata))
    throw bad('whose description hash is not that of its metadata');
  return {
    paymentHash: decoded.paymentHash,
    request: decoded.request,
    description: decoded.descriptionHash === undefined ? 'absent' : 'matched',
    expiresAt: decoded.expiresAt,
  };
}
