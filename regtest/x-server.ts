// A local stand-in for the X API v2, for the regtest stack and tests: people post and delete
// tweets as `Authorization: Bearer user:<username>`, tipd looks them up with the app token, in the
// JSON of the real API (missing tweets as HTTP 200 with only `errors`, problems, rate-limit
// headers). Accounts keep their numeric id across renames, so a recycled handle is a new account.
// /_control/* renames accounts and switches lookups to failing. State survives in a JSON file.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { z } from 'zod';

export interface XServerOptions {
  /** 0: any free port. */
  port: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** The bearer token tipd looks tweets up with. */
  appToken: string;
  /** Where users and tweets are kept between runs; none: in memory only. */
  stateFile?: string;
}

export interface XServer {
  url: string;
  close(): Promise<void>;
}

export const xModes = ['ok', 'rate_limited', 'unauthorized', 'unavailable'] as const;
export type XMode = (typeof xModes)[number];

const snowflakeEpochMs = 1_288_834_974_657n;
const bodyBytesMax = 64 * 1024;
/** Code points: a long post of X Premium; over shortTextMax it is a note_tweet. */
const textMax = 25_000;
const shortTextMax = 280;
const usersMax = 10_000;
const tweetsMax = 100_000;
/** GET /2/tweets/:id per app (pay-per-use page, REFERENCE §6); reported, never enforced. */
const lookupLimit = { requests: 450, windowMs: 15 * 60_000 };

const digits = z.string().regex(/^[0-9]{1,19}$/);
const usernamePattern = /^[A-Za-z0-9_]{1,15}$/;
const username = z.string().regex(usernamePattern, 'must be 1 to 15 letters, digits or _');

const stateSchema = z.object({
  users: z.array(z.object({ id: digits, username, name: z.string() })).max(usersMax),
  tweets: z.array(z.object({ id: digits, text: z.string(), authorId: digits, deleted: z.boolean(), retweetOf: digits.optional() })).max(tweetsMax),
});
type State = z.infer<typeof stateSchema>;
type User = State['users'][number];
type StoredTweet = State['tweets'][number];

const postBody = z.strictObject({ text: z.string().refine((t) => t.length > 0 && [...t].length <= textMax, `must be 1 to ${textMax} characters`) });
const renameBody = z.strictObject({ from: username, to: username });
const retweetBody = z.strictObject({ tweet_id: digits });
const modeBody = z.strictObject({ mode: z.enum(xModes) });

const lookupParameters = ['id', 'expansions', 'tweet.fields', 'user.fields', 'media.fields', 'poll.fields', 'place.fields'];
const problemType = (name: string) => `https://api.twitter.com/2/problems/${name}`;

class Answer {
  readonly status: number;
  readonly body: unknown;
  readonly headers: Record<string, string>;
  constructor(status: number, body: unknown, headers: Record<string, string> = {}) {
    this.status = status;
    this.body = body;
    this.headers = headers;
  }
}

const plainProblem = (status: number, title: string, detail = title) => new Answer(status, { title, detail, type: 'about:blank', status });
const invalidRequest = (errors: unknown[]) =>
  new Answer(400, { errors, title: 'Invalid Request', detail: 'One or more parameters to your request was invalid.', type: problemType('invalid-request') });
const invalidId = (id: string) => invalidRequest([{ parameters: { id: [id] }, message: `The \`id\` query parameter value [${id}] is not valid` }]);
const withHeaders = (answer: Answer, headers: Record<string, string>) => new Answer(answer.status, answer.body, { ...answer.headers, ...headers });
const notFoundErrors = (id: string) => ({
  errors: [
    {
      value: id,
      detail: `Could not find tweet with id: [${id}].`,
      title: 'Not Found Error',
      resource_type: 'tweet',
      parameter: 'id',
      resource_id: id,
      type: problemType('resource-not-found'),
    },
  ],
});
const unauthorized = () => plainProblem(401, 'Unauthorized');

/** Everything the server knows, and every change to it, written through to the state file. */
class World {
  readonly #file: string | undefined;
  readonly #users = new Map<string, User>(); // by lower-case username
  readonly #tweets = new Map<string, StoredTweet>();
  #lastTweetId = 0n;

  constructor(file: string | undefined) {
    this.#file = file;
    if (!file || !fs.existsSync(file)) return;
    let state: State;
    try {
      state = stateSchema.parse(JSON.parse(fs.readFileSync(file, 'utf8')));
    } catch (err) {
      throw new Error(`x-server: cannot load its state from ${file}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    for (const user of state.users) this.#users.set(user.username.toLowerCase(), user);
    for (const tweet of state.tweets) {
      this.#tweets.set(tweet.id, tweet);
      if (BigInt(tweet.id) > this.#lastTweetId) this.#lastTweetId = BigInt(tweet.id);
    }
  }

  state(): State {
    return { users: [...this.#users.values()], tweets: [...this.#tweets.values()] };
  }

  #save(): void {
    if (!this.#file) return;
    const tmp = `${this.#file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, `${JSON.stringify(this.state(), null, 2)}\n`);
    fs.renameSync(tmp, this.#file);
  }

  user(name: string): User | undefined {
    return this.#users.get(name.toLowerCase());
  }

  userById(id: string): User | undefined {
    return [...this.#users.values()].find((u) => u.id === id);
  }

  tweet(id: string): StoredTweet | undefined {
    return this.#tweets.get(id);
  }

  /** A random 63-bit id: not derived from the name, since names move between accounts. */
  #newUserId(): string {
    const taken = new Set([...this.#users.values()].map((u) => u.id));
    for (;;) {
      const id = (randomBytes(8).readBigUInt64BE() >> 1n).toString();
      if (id !== '0' && !taken.has(id)) return id;
    }
  }

  /** A snowflake after every earlier one: the time in the high bits, a sequence in the low 22. */
  #newTweetId(): string {
    const now = (BigInt(Date.now()) - snowflakeEpochMs) << 22n;
    this.#lastTweetId = now > this.#lastTweetId ? now : this.#lastTweetId + 1n;
    return this.#lastTweetId.toString();
  }

  /** A new account for `name` at its first use. */
  #account(name: string): User | Answer {
    const known = this.user(name);
    if (known) return known;
    if (this.#users.size >= usersMax) return plainProblem(403, 'Forbidden', `this local X server holds at most ${usersMax} users`);
    const user = { id: this.#newUserId(), username: name, name };
    this.#users.set(name.toLowerCase(), user);
    return user;
  }

  post(name: string, text: string, retweetOf?: string): StoredTweet | Answer {
    if (this.#tweets.size >= tweetsMax) return plainProblem(403, 'Forbidden', `this local X server holds at most ${tweetsMax} tweets`);
    const author = this.#account(name);
    if (author instanceof Answer) return author;
    const tweet: StoredTweet = { id: this.#newTweetId(), text, authorId: author.id, deleted: false, ...(retweetOf ? { retweetOf } : {}) };
    this.#tweets.set(tweet.id, tweet);
    this.#save();
    return tweet;
  }

  delete(tweet: StoredTweet): void {
    tweet.deleted = true;
    this.#save();
  }

  rename(from: string, to: string): User | Answer {
    const user = this.user(from);
    if (!user) return plainProblem(404, 'Not Found', `no user @${from}`);
    const other = this.user(to);
    if (other && other !== user) return plainProblem(409, 'Conflict', `@${to} is taken by user ${other.id}`);
    this.#users.delete(from.toLowerCase());
    user.username = to;
    this.#users.set(to.toLowerCase(), user);
    this.#save();
    return user;
  }
}

const createdAtOf = (id: string) => new Date(Number((BigInt(id) >> 22n) + snowflakeEpochMs)).toISOString();
const listOf = (value: string | null) => new Set((value ?? '').split(',').filter(Boolean));

/** Constant-time, whatever the lengths. */
function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The body, up to bodyBytesMax; the rest is read and dropped. */
function readBody(req: http.IncomingMessage): Promise<{ text: string; tooLarge: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > bodyBytesMax) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => resolve({ text: Buffer.concat(chunks).toString('utf8'), tooLarge }));
    req.on('error', reject);
  });
}

/** The JSON body checked against `schema`, or the 400/413 answer the real API would give. */
async function jsonBody<S extends z.ZodType>(req: http.IncomingMessage, schema: S): Promise<z.output<S> | Answer> {
  const body = await readBody(req);
  if (body.tooLarge) return plainProblem(413, 'Payload Too Large', `the body is larger than ${bodyBytesMax} bytes`);
  let json: unknown;
  try {
    json = JSON.parse(body.text);
  } catch {
    return invalidRequest([{ message: 'Request body is not valid JSON.' }]);
  }
  const parsed = schema.safeParse(json);
  if (parsed.success) return parsed.data;
  return invalidRequest(parsed.error.issues.map((i) => ({ message: `$.${i.path.join('.')}: ${i.message}` })));
}

export async function startXServer(options: XServerOptions): Promise<XServer> {
  if (!/^\S{1,1000}$/.test(options.appToken)) throw new Error('startXServer: the app token must be 1 to 1000 characters without spaces');
  const world = new World(options.stateFile);
  let mode: XMode = 'ok';
  let window = { startedAt: Date.now(), used: 0 };
  const host = options.host ?? '127.0.0.1';

  /** The x-rate-limit-* headers of a lookup, counting it. */
  const rateHeaders = (): Record<string, string> => {
    if (Date.now() - window.startedAt >= lookupLimit.windowMs) window = { startedAt: Date.now(), used: 0 };
    window.used += 1;
    const remaining = mode === 'rate_limited' ? 0 : Math.max(0, lookupLimit.requests - window.used);
    return {
      'x-rate-limit-limit': String(lookupLimit.requests),
      'x-rate-limit-remaining': String(remaining),
      'x-rate-limit-reset': String(Math.ceil((window.startedAt + lookupLimit.windowMs) / 1000)),
    };
  };

  /** `Bearer user:<username>`, or the answer for anything else. */
  const userOf = (req: http.IncomingMessage): string | Answer => {
    const token = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
    const name = token && /^user:(.+)$/.exec(token)?.[1];
    if (name && usernamePattern.test(name)) return name;
    if (token && sameToken(token, options.appToken)) {
      return new Answer(403, {
        title: 'Unsupported Authentication',
        detail:
          'Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  Supported authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context].',
        type: problemType('unsupported-authentication'),
        status: 403,
      });
    }
    return unauthorized();
  };

  const lookup = (id: string, query: URLSearchParams, authorization: string | undefined): Answer => {
    const token = /^Bearer (\S+)$/.exec(authorization ?? '')?.[1];
    if (!token || !sameToken(token, options.appToken)) return unauthorized();
    const headers = rateHeaders();
    if (mode === 'unauthorized') return withHeaders(unauthorized(), headers);
    if (mode === 'rate_limited') return withHeaders(plainProblem(429, 'Too Many Requests'), headers);
    if (mode === 'unavailable') return withHeaders(plainProblem(503, 'Service Unavailable'), headers);
    const unknown = [...query.keys()].filter((k) => !lookupParameters.includes(k));
    if (unknown.length > 0) {
      return withHeaders(
        invalidRequest(
          unknown.map((k) => ({ parameters: { [k]: query.getAll(k) }, message: `The query parameter [${k}] is not one of [${lookupParameters.join(',')}]` })),
        ),
        headers,
      );
    }
    if (!digits.safeParse(id).success) return withHeaders(invalidId(id), headers);
    const tweet = world.tweet(id);
    const author = tweet && world.userById(tweet.authorId);
    if (!tweet || tweet.deleted || !author) return new Answer(200, notFoundErrors(id), headers);

    const expansions = listOf(query.get('expansions'));
    const fields = listOf(query.get('tweet.fields'));
    const codePoints = [...tweet.text];
    const long = codePoints.length > shortTextMax;
    const data: Record<string, unknown> = {
      id: tweet.id,
      text: long ? `${codePoints.slice(0, shortTextMax - 1).join('')}…` : tweet.text,
      edit_history_tweet_ids: [tweet.id],
    };
    if (fields.has('author_id') || expansions.has('author_id')) data.author_id = author.id;
    if (fields.has('created_at')) data.created_at = createdAtOf(tweet.id);
    if (fields.has('note_tweet') && long) data.note_tweet = { text: tweet.text };
    if (fields.has('referenced_tweets') && tweet.retweetOf) data.referenced_tweets = [{ type: 'retweeted', id: tweet.retweetOf }];
    const body = expansions.has('author_id') ? { data, includes: { users: [{ id: author.id, name: author.name, username: author.username }] } } : { data };
    return new Answer(200, body, headers);
  };

  const route = async (req: http.IncomingMessage): Promise<Answer> => {
    const url = new URL(req.url ?? '/', 'http://x.invalid');
    const tweetPath = /^\/2\/tweets\/([^/]+)$/.exec(url.pathname);
    const method = req.method ?? 'GET';

    if (method === 'GET' && tweetPath) return lookup(tweetPath[1]!, url.searchParams, req.headers.authorization);

    if (method === 'POST' && url.pathname === '/2/tweets') {
      const name = userOf(req);
      if (name instanceof Answer) return name;
      const body = await jsonBody(req, postBody);
      if (body instanceof Answer) return body;
      const tweet = world.post(name, body.text);
      if (tweet instanceof Answer) return tweet;
      return new Answer(201, { data: { id: tweet.id, text: tweet.text, edit_history_tweet_ids: [tweet.id] } });
    }

    if (method === 'DELETE' && tweetPath) {
      const name = userOf(req);
      if (name instanceof Answer) return name;
      const id = tweetPath[1]!;
      if (!digits.safeParse(id).success) return invalidId(id);
      const tweet = world.tweet(id);
      if (!tweet || tweet.deleted)
        return new Answer(404, {
          ...notFoundErrors(id),
          title: 'Not Found Error',
          detail: `Could not find tweet with id: [${id}].`,
          type: problemType('resource-not-found'),
        });
      if (tweet.authorId !== world.user(name)?.id) return plainProblem(403, 'Forbidden', 'You are not allowed to delete a Tweet that belongs to another user.');
      world.delete(tweet);
      return new Answer(200, { data: { deleted: true } });
    }

    // Retweets (POST /2/users/:id/retweets, as the user :id). The real API answers only
    // { retweeted: true }; this one also names the retweet's own id, for tests to look it up.
    const retweetPath = /^\/2\/users\/([^/]+)\/retweets$/.exec(url.pathname);
    if (method === 'POST' && retweetPath) {
      const name = userOf(req);
      if (name instanceof Answer) return name;
      const body = await jsonBody(req, retweetBody);
      if (body instanceof Answer) return body;
      if (world.user(name)?.id !== retweetPath[1]) return plainProblem(403, 'Forbidden', 'You are not permitted to perform this action.');
      const original = world.tweet(body.tweet_id);
      const originalAuthor = original && world.userById(original.authorId);
      if (!original || original.deleted || !originalAuthor) return new Answer(200, notFoundErrors(body.tweet_id));
      const retweet = world.post(name, `RT @${originalAuthor.username}: ${original.text}`, original.id);
      if (retweet instanceof Answer) return retweet;
      return new Answer(200, { data: { retweeted: true, id: retweet.id } });
    }

    // GET /2/users/by/username/:username (app token): an account's id.
    const userPath = /^\/2\/users\/by\/username\/([^/]+)$/.exec(url.pathname);
    if (method === 'GET' && userPath) {
      const token = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
      if (!token || !sameToken(token, options.appToken)) return unauthorized();
      const user = world.user(userPath[1]!);
      if (!user) {
        return new Answer(200, {
          errors: [
            {
              value: userPath[1],
              detail: `Could not find user with username: [${userPath[1]}].`,
              title: 'Not Found Error',
              resource_type: 'user',
              parameter: 'username',
              resource_id: userPath[1],
              type: problemType('resource-not-found'),
            },
          ],
        });
      }
      return new Answer(200, { data: user });
    }

    if (method === 'POST' && url.pathname === '/_control/rename') {
      const body = await jsonBody(req, renameBody);
      if (body instanceof Answer) return body;
      const user = world.rename(body.from, body.to);
      return user instanceof Answer ? user : new Answer(200, { data: user });
    }

    if (method === 'POST' && url.pathname === '/_control/mode') {
      const body = await jsonBody(req, modeBody);
      if (body instanceof Answer) return body;
      mode = body.mode;
      return new Answer(200, { data: { mode } });
    }

    if (method === 'GET' && url.pathname === '/_control/state') return new Answer(200, { data: { mode, ...world.state() } });

    return plainProblem(404, 'Not Found');
  };

  const server = http.createServer((req, res) => {
    route(req).then(
      (answer) => {
        const json = JSON.stringify(answer.body);
        res.writeHead(answer.status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(json), ...answer.headers });
        res.end(json);
      },
      (err: unknown) => {
        // A bug of this server, never an answer of the real API: say so loudly.
        process.stderr.write(`x-server: ${req.method} ${req.url}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ title: 'Internal Server Error', detail: 'x-server bug', type: 'about:blank', status: 500 }));
      },
    );
  });
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as { port: number };
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: { port: { type: 'string' }, host: { type: 'string' }, 'app-token': { type: 'string' }, state: { type: 'string' } },
    strict: true,
  });
  const port = z
    .string()
    .regex(/^\d{1,5}$/)
    .transform(Number)
    .pipe(z.number().max(65_535))
    .safeParse(values.port);
  const appToken = values['app-token'] ?? process.env.X_APP_TOKEN;
  if (!port.success || !appToken) {
    console.error('usage: node regtest/x-server.ts --port N --app-token TOKEN [--host 127.0.0.1] [--state state.json]  (or X_APP_TOKEN in the environment)');
    process.exit(2);
  }
  const server = await startXServer({
    port: port.data,
    appToken,
    ...(values.host ? { host: values.host } : {}),
    ...(values.state ? { stateFile: values.state } : {}),
  });
  console.log(`x-server listening on ${server.url}`);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      void server.close().then(() => process.exit(0));
    });
  }
}
