// The one module of tipd that talks to the X API (v2 tweet lookup, app-only bearer token). Every
// call has a timeout and a cap on the answer's size, the fields tipd relies on are checked with
// zod, and every failure becomes an XApiError with a code. The bearer token never leaves here.
import { z } from 'zod';
import { readCapped } from '../process/read-capped.ts';
import { tweetIdPattern } from './tweets.ts';

export interface Tweet {
  id: string;
  /** The whole text, also of a long post (note_tweet). */
  text: string;
  /** The author's stable numeric id: a handle can be renamed or recycled, this cannot. */
  authorId: string;
  /** The author's handle at the time of the lookup, as X spells it. */
  authorUsername: string;
  createdAt: Date;
  /** The id of the tweet this one retweets: a retweet is someone else's words. */
  retweetOf: string | undefined;
}

export type LookupResult =
  | { found: true; tweet: Tweet }
  /** not_found: missing or deleted; not_authorized: protected (or suspended) author. */
  | { found: false; reason: 'not_found' | 'not_authorized' };

export type XApiErrorCode =
  | 'x_not_configured' // no bearer token: no request was made
  | 'x_rate_limited' // 429; `resetAt` says when the window reopens, when X said
  | 'x_unauthorized' // 401/403: the bearer token is wrong, revoked or lacks access
  | 'x_unavailable' // 5xx, a network error or no answer in time
  | 'x_invalid_answer'; // an answer tipd cannot rely on, or an unexpected status

export class XApiError extends Error {
  readonly code: XApiErrorCode;
  /** The HTTP status X answered with, when it answered. */
  readonly upstreamStatus: number | undefined;
  /** From x-rate-limit-reset on a 429. */
  readonly resetAt: Date | undefined;
  constructor(code: XApiErrorCode, message: string, upstreamStatus?: number, resetAt?: Date) {
    super(message);
    this.name = 'XApiError';
    this.code = code;
    this.upstreamStatus = upstreamStatus;
    this.resetAt = resetAt;
  }
}

export interface XApiOptions {
  /** e.g. https://api.x.com, without a trailing slash. */
  baseUrl: string;
  /** The app's bearer token; undefined: every lookup fails with x_not_configured. */
  bearerToken: string | undefined;
  /** For the whole call, answer body included. */
  timeoutMs: number;
  /** Told of every lookup once it ends: its outcome (`found`, `not_found`, `not_authorized`, an XApiError's code) and how long it took; for metrics. */
  observe?: (method: string, outcome: string, seconds: number) => void;
}

/** A lookup answer is a few kB; a long post at most ~100 kB. */
const answerBytesMax = 1 << 20;

const numericId = z.string().regex(tweetIdPattern);

const problemSchema = z.object({
  type: z.string(),
  resource_id: z.string().optional(),
});

/** A tweet: HTTP 200 with `data` (and perhaps partial `errors`, about other things). */
const foundSchema = z.object({
  data: z.object({
    id: numericId,
    text: z.string(),
    author_id: numericId,
    created_at: z.iso.datetime({ offset: true }),
    note_tweet: z.object({ text: z.string() }).optional(),
    referenced_tweets: z.array(z.object({ type: z.string(), id: numericId })).optional(),
  }),
  includes: z.object({
    users: z.array(z.object({ id: numericId, username: z.string().regex(/^[A-Za-z0-9_]{1,15}$/) })).min(1),
  }),
});

/** No tweet: HTTP 200 with only `errors`. */
const missingSchema = z.object({ errors: z.array(problemSchema).min(1) });

export class XApi {
  readonly #baseUrl: string;
  readonly #bearerToken: string | undefined;
  readonly #timeoutMs: number;
  readonly #observe: XApiOptions['observe'];

  constructor(options: XApiOptions) {
    this.#baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.#bearerToken = options.bearerToken;
    this.#timeoutMs = options.timeoutMs;
    this.#observe = options.observe;
  }

  /** GET /2/tweets/:id with its author and posting time. Throws XApiError. */
  async lookupTweet(id: string): Promise<LookupResult> {
    const started = performance.now();
    let outcome = 'error';
    try {
      const result = await this.#lookupTweet(id);
      outcome = result.found ? 'found' : result.reason;
      return result;
    } catch (err) {
      if (err instanceof XApiError) outcome = err.code;
      throw err;
    } finally {
      this.#observe?.('lookupTweet', outcome, (performance.now() - started) / 1000);
    }
  }

  async #lookupTweet(id: string): Promise<LookupResult> {
    if (!tweetIdPattern.test(id)) throw new RangeError(`lookupTweet: a tweet id is 1 to 19 digits (got "${id.slice(0, 40)}")`);
    const what = `the X API lookup of tweet ${id}`;
    if (this.#bearerToken === undefined)
      throw new XApiError('x_not_configured', `${what} was not made: no X API bearer token is configured (TIPD_X_BEARER_TOKEN)`);

    const url = `${this.#baseUrl}/2/tweets/${id}?expansions=author_id&user.fields=username&tweet.fields=created_at,note_tweet,referenced_tweets`;
    let status: number | undefined;
    let text: string;
    try {
      const res = await fetch(url, {
        headers: { authorization: `Bearer ${this.#bearerToken}`, accept: 'application/json' },
        redirect: 'manual',
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      status = res.status;
      if (status === 429) {
        await res.body?.cancel();
        const resetAt = resetOf(res.headers.get('x-rate-limit-reset'));
        throw new XApiError(
          'x_rate_limited',
          `${what} was refused with HTTP 429: rate limited${resetAt ? ` until ${resetAt.toISOString()}` : ''}`,
          status,
          resetAt,
        );
      }
      if (status === 401 || status === 403) {
        await res.body?.cancel();
        throw new XApiError('x_unauthorized', `${what} was refused with HTTP ${status}: the bearer token is wrong, revoked or lacks access`, status);
      }
      if (status >= 500) {
        await res.body?.cancel();
        throw new XApiError('x_unavailable', `${what} failed with HTTP ${status}: X is unavailable`, status);
      }
      if (status !== 200) {
        await res.body?.cancel();
        throw new XApiError('x_invalid_answer', `${what} got an unexpected HTTP ${status}`, status);
      }
      const read = await readCapped(res, answerBytesMax);
      if (read === undefined) throw new XApiError('x_invalid_answer', `${what} got an HTTP ${status} answer larger than ${answerBytesMax} bytes`, status);
      text = read;
    } catch (err) {
      if (err instanceof XApiError) throw err;
      const e = err as Error;
      const at = status === undefined ? '' : ` (HTTP ${status}, while reading the answer)`;
      if (e.name === 'TimeoutError') throw new XApiError('x_unavailable', `${what} got no answer within ${this.#timeoutMs} ms${at}`, status);
      const cause = (e.cause as Error | undefined)?.message;
      throw new XApiError('x_unavailable', `${what} failed${at}: ${e.message}${cause ? ` (${cause})` : ''}`, status);
    }
    return parseLookup(id, text, what);
  }
}

/** x-rate-limit-reset is unix seconds. */
function resetOf(header: string | null): Date | undefined {
  return header !== null && /^\d{1,12}$/.test(header) ? new Date(Number(header) * 1000) : undefined;
}

const issueOf = (error: z.ZodError): string => {
  const issue = error.issues[0]!;
  return `${issue.path.join('.') || 'the body'}: ${issue.message}`;
};

const problemIs = (problem: z.infer<typeof problemSchema>, suffix: string) => problem.type.endsWith(`/${suffix}`);

function parseLookup(id: string, text: string, what: string): LookupResult {
  const invalid = (why: string) => new XApiError('x_invalid_answer', `${what} got an HTTP 200 answer tipd cannot use: ${why}`, 200);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw invalid('not JSON');
  }
  const hasData = typeof json === 'object' && json !== null && 'data' in json;
  if (!hasData) {
    const parsed = missingSchema.safeParse(json);
    if (!parsed.success) throw invalid(issueOf(parsed.error));
    // Errors about another resource (there should be none) say nothing about this tweet.
    const about = parsed.data.errors.filter((p) => (p.resource_id ?? id) === id);
    if (about.some((p) => problemIs(p, 'resource-not-found'))) return { found: false, reason: 'not_found' };
    if (about.some((p) => problemIs(p, 'not-authorized-for-resource'))) return { found: false, reason: 'not_authorized' };
    throw invalid(`no data, and errors of type ${parsed.data.errors.map((p) => p.type).join(', ')}`);
  }
  const parsed = foundSchema.safeParse(json);
  if (!parsed.success) throw invalid(issueOf(parsed.error));
  const { data, includes } = parsed.data;
  if (data.id !== id) throw invalid(`data.id is ${data.id}, not the tweet asked for`);
  const author = includes.users.find((user) => user.id === data.author_id);
  if (!author) throw invalid(`the author ${data.author_id} is not in includes.users`);
  return {
    found: true,
    tweet: {
      id,
      text: data.note_tweet?.text ?? data.text,
      authorId: data.author_id,
      authorUsername: author.username,
      createdAt: new Date(data.created_at),
      retweetOf: data.referenced_tweets?.find((r) => r.type === 'retweeted')?.id,
    },
  };
}
