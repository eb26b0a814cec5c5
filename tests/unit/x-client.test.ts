// tipd's X API client against the local X server (the same JSON as the real API) and against
// servers that misbehave: a tweet is found with its author's stable id, a missing or deleted one
// is a value, and every failure is an XApiError with its code, never a guess.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startXServer, type XServer } from '../../regtest/x-server.ts';
import { XApi, XApiError, type XApiErrorCode } from '../../src/x/client.ts';
import { snowflakeTime } from '../../src/x/tweets.ts';

const appToken = 'app-token-for-client-tests';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tipd-x-client-'));
const stateFile = path.join(dir, 'state.json');

let server: XServer;
let x: XApi;
beforeAll(async () => {
  server = await startXServer({ port: 0, appToken, stateFile });
  x = new XApi({ baseUrl: server.url, bearerToken: appToken, timeoutMs: 5_000 });
});
afterAll(async () => {
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function post(user: string, text: string): Promise<string> {
  const res = await fetch(`${server.url}/2/tweets`, { method: 'POST', headers: { authorization: `Bearer user:${user}` }, body: JSON.stringify({ text }) });
  expect(res.status).toBe(201);
  return ((await res.json()) as { data: { id: string } }).data.id;
}

const control = async (route: string, body: unknown) => {
  const res = await fetch(`${server.url}/_control/${route}`, { method: 'POST', body: JSON.stringify(body) });
  expect(res.status).toBe(200);
};

/** The XApiError a lookup fails with. */
async function failure(api: XApi, id = '1'): Promise<XApiError> {
  const err = await api.lookupTweet(id).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(XApiError);
  return err as XApiError;
}

/** A server answering every request with `handler`. */
async function fakeX(handler: http.RequestListener): Promise<{ url: string; close(): Promise<void> }> {
  const fake = http.createServer(handler);
  await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
  const { port } = fake.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        fake.close(() => resolve());
        fake.closeAllConnections();
      }),
  };
}

describe('looking a tweet up', () => {
  it('finds a tweet with its text, its author (stable id and handle) and when it was posted', async () => {
    const id = await post('Carol_Creator', 'tipd claim: @Carol_Creator 02ab…');
    const result = await x.lookupTweet(id);
    expect(result).toEqual({
      found: true,
      tweet: {
        id,
        text: 'tipd claim: @Carol_Creator 02ab…',
        authorId: expect.stringMatching(/^[0-9]{1,19}$/),
        authorUsername: 'Carol_Creator',
        createdAt: snowflakeTime(id),
      },
    });
  });

  it('tells a retweet from a tweet, by the tweet it retweets', async () => {
    const original = await post('someone_else', 'claim tipd-1 sig abc');
    const user = (await (await fetch(`${server.url}/2/users/by/username/retweeter`, { headers: { authorization: `Bearer ${appToken}` } })).json()) as {
      data?: { id: string };
    };
    expect(user.data).toBeUndefined();
    await post('retweeter', 'hello');
    const { data } = (await (await fetch(`${server.url}/2/users/by/username/retweeter`, { headers: { authorization: `Bearer ${appToken}` } })).json()) as {
      data: { id: string };
    };
    const res = await fetch(`${server.url}/2/users/${data.id}/retweets`, {
      method: 'POST',
      headers: { authorization: 'Bearer user:retweeter' },
      body: JSON.stringify({ tweet_id: original }),
    });
    const retweetId = ((await res.json()) as { data: { id: string } }).data.id;
    const result = await x.lookupTweet(retweetId);
    expect(result).toMatchObject({ found: true, tweet: { authorUsername: 'retweeter', text: 'RT @someone_else: claim tipd-1 sig abc', retweetOf: original } });
    expect(await x.lookupTweet(original)).toMatchObject({ found: true, tweet: { retweetOf: undefined } });
  });

  it('reads the whole text of a long post from note_tweet', async () => {
    const long = `${'word '.repeat(80)}signature`;
    const result = await x.lookupTweet(await post('alice', long));
    expect(result.found && result.tweet.text).toBe(long);
  });

  it('says not_found for a tweet that never existed, and for a deleted one', async () => {
    expect(await x.lookupTweet('1790000000000000000')).toEqual({ found: false, reason: 'not_found' });
    const id = await post('dave', 'soon gone');
    expect((await x.lookupTweet(id)).found).toBe(true);
    await fetch(`${server.url}/2/tweets/${id}`, { method: 'DELETE', headers: { authorization: 'Bearer user:dave' } });
    expect(await x.lookupTweet(id)).toEqual({ found: false, reason: 'not_found' });
  });

  it('gives a new author id for a recycled handle: the old account renamed, the name taken by someone else', async () => {
    const before = await x.lookupTweet(await post('frank', 'the first @frank'));
    await control('rename', { from: 'frank', to: 'frank_moved' });
    const after = await x.lookupTweet(await post('frank', 'a second @frank'));
    if (!before.found || !after.found) throw new Error('both tweets must be found');
    expect(after.tweet.authorUsername).toBe('frank');
    expect(after.tweet.authorId).not.toBe(before.tweet.authorId);
    const again = await x.lookupTweet(before.tweet.id);
    expect(again.found && again.tweet).toMatchObject({ authorId: before.tweet.authorId, authorUsername: 'frank_moved' });
  });

  it('finds what it found before after the X server restarted', async () => {
    const id = await post('ivy', 'survives a restart');
    const before = await x.lookupTweet(id);
    await server.close();
    server = await startXServer({ port: 0, appToken, stateFile });
    x = new XApi({ baseUrl: server.url, bearerToken: appToken, timeoutMs: 5_000 });
    expect(await x.lookupTweet(id)).toEqual(before);
  });

  it('refuses, as a bug of the caller, an id that is not one', async () => {
    await expect(x.lookupTweet('https://x.com/a/status/1')).rejects.toThrow(RangeError);
  });
});

describe('failures of the X API', () => {
  afterAll(async () => {
    await control('mode', { mode: 'ok' });
  });

  it.each([
    { mode: 'rate_limited', code: 'x_rate_limited', status: 429 },
    { mode: 'unauthorized', code: 'x_unauthorized', status: 401 },
    { mode: 'unavailable', code: 'x_unavailable', status: 503 },
  ] as const)('reads the mode $mode as $code with the status $status', async ({ mode, code, status }) => {
    const id = await post('alice', `before ${mode}`);
    await control('mode', { mode });
    const err = await failure(x, id);
    expect(err).toMatchObject({ code, upstreamStatus: status });
    expect(err.message).toContain(String(status));
    await control('mode', { mode: 'ok' });
  });

  it('says when a rate limit ends, from x-rate-limit-reset', async () => {
    await control('mode', { mode: 'rate_limited' });
    const err = await failure(x);
    await control('mode', { mode: 'ok' });
    expect(err.resetAt).toBeInstanceOf(Date);
    expect(err.resetAt!.getTime() % 1000).toBe(0);
    expect(err.resetAt!.getTime()).toBeGreaterThan(Date.now());
    expect(err.resetAt!.getTime()).toBeLessThanOrEqual(Date.now() + 15 * 60_000 + 1000);
    expect(err.message).toContain(err.resetAt!.toISOString());
  });

  it('reads a wrong bearer token as x_unauthorized, and never repeats the token', async () => {
    const err = await failure(new XApi({ baseUrl: server.url, bearerToken: 'a-revoked-token', timeoutMs: 5_000 }));
    expect(err).toMatchObject({ code: 'x_unauthorized', upstreamStatus: 401 });
    expect(err.message).not.toContain('a-revoked-token');
  });

  it('makes no request without a bearer token: x_not_configured', async () => {
    let requests = 0;
    const fake = await fakeX((_req, res) => {
      requests += 1;
      res.end();
    });
    const err = await failure(new XApi({ baseUrl: fake.url, bearerToken: undefined, timeoutMs: 5_000 }));
    await fake.close();
    expect(err).toMatchObject({ code: 'x_not_configured', upstreamStatus: undefined });
    expect(requests).toBe(0);
  });

  it('gives up on a server that never answers after timeoutMs: x_unavailable', async () => {
    const silent = await fakeX(() => {});
    const started = Date.now();
    const err = await failure(new XApi({ baseUrl: silent.url, bearerToken: 'token', timeoutMs: 200 }));
    await silent.close();
    expect(err).toMatchObject({ code: 'x_unavailable', upstreamStatus: undefined });
    expect(err.message).toContain('200 ms');
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('gives up on an answer whose body never ends, after timeoutMs: x_unavailable', async () => {
    const stalling = await fakeX((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"data":');
    });
    const err = await failure(new XApi({ baseUrl: stalling.url, bearerToken: 'token', timeoutMs: 200 }));
    await stalling.close();
    expect(err).toMatchObject({ code: 'x_unavailable', upstreamStatus: 200 });
  });

  it('reads a refused connection as x_unavailable', async () => {
    const gone = await fakeX(() => {});
    await gone.close();
    const err = await failure(new XApi({ baseUrl: gone.url, bearerToken: 'token', timeoutMs: 2_000 }));
    expect(err).toMatchObject({ code: 'x_unavailable', upstreamStatus: undefined });
  });

  const id = '1790000000000000000';
  const tweet = { id, text: 'hi', author_id: '42', created_at: '2024-05-13T12:43:51.000Z', edit_history_tweet_ids: [id] };
  const users = [{ id: '42', name: 'Carol', username: 'carol' }];
  it.each<{ what: string; status?: number; headers?: Record<string, string>; body: string; code: XApiErrorCode; result?: unknown }>([
    {
      what: 'a protected tweet',
      body: JSON.stringify({ errors: [{ resource_id: id, type: 'https://api.x.com/2/problems/not-authorized-for-resource' }] }),
      code: 'x_invalid_answer',
      result: { found: false, reason: 'not_authorized' },
    },
    {
      what: 'a not-found on api.x.com',
      body: JSON.stringify({ errors: [{ value: id, resource_id: id, type: 'https://api.x.com/2/problems/resource-not-found' }] }),
      code: 'x_invalid_answer',
      result: { found: false, reason: 'not_found' },
    },
    { what: 'a 403 problem', status: 403, body: JSON.stringify({ title: 'Forbidden', type: 'about:blank', status: 403 }), code: 'x_unauthorized' },
    { what: 'a 500', status: 500, body: 'oops', code: 'x_unavailable' },
    { what: 'a 502 without a body', status: 502, body: '', code: 'x_unavailable' },
    { what: 'a 429 without reset header', status: 429, body: '{"errors":[{"code":88,"message":"Rate limit exceeded"}]}', code: 'x_rate_limited' },
    { what: 'a 400', status: 400, body: '{"title":"Invalid Request"}', code: 'x_invalid_answer' },
    { what: 'a 404', status: 404, body: '{}', code: 'x_invalid_answer' },
    { what: 'a redirect', status: 302, headers: { location: 'https://elsewhere.example/' }, body: '', code: 'x_invalid_answer' },
    { what: 'HTML', body: '<html>maintenance</html>', code: 'x_invalid_answer' },
    { what: 'an empty object', body: '{}', code: 'x_invalid_answer' },
    {
      what: 'errors of another kind',
      body: JSON.stringify({ errors: [{ type: 'https://api.twitter.com/2/problems/invalid-request' }] }),
      code: 'x_invalid_answer',
    },
    {
      what: 'a not-found about another tweet',
      body: JSON.stringify({ errors: [{ resource_id: '7', type: 'https://api.twitter.com/2/problems/resource-not-found' }] }),
      code: 'x_invalid_answer',
    },
    { what: 'a tweet without includes', body: JSON.stringify({ data: tweet }), code: 'x_invalid_answer' },
    {
      what: 'an author missing from includes',
      body: JSON.stringify({ data: tweet, includes: { users: [{ ...users[0], id: '43' }] } }),
      code: 'x_invalid_answer',
    },
    { what: 'another tweet than asked for', body: JSON.stringify({ data: { ...tweet, id: '1' }, includes: { users } }), code: 'x_invalid_answer' },
    { what: 'a numeric author id', body: JSON.stringify({ data: { ...tweet, author_id: 42 }, includes: { users } }), code: 'x_invalid_answer' },
    { what: 'no created_at', body: JSON.stringify({ data: { ...tweet, created_at: undefined }, includes: { users } }), code: 'x_invalid_answer' },
    {
      what: 'a username with a dash',
      body: JSON.stringify({ data: tweet, includes: { users: [{ ...users[0], username: 'car-ol' }] } }),
      code: 'x_invalid_answer',
    },
    { what: 'an answer over 1 MiB', body: JSON.stringify({ data: { ...tweet, text: 'a'.repeat(1_100_000) }, includes: { users } }), code: 'x_invalid_answer' },
    {
      what: 'a good answer (the control row)',
      body: JSON.stringify({ data: tweet, includes: { users } }),
      code: 'x_invalid_answer',
      result: { found: true, tweet: { id, text: 'hi', authorId: '42', authorUsername: 'carol', createdAt: new Date('2024-05-13T12:43:51.000Z') } },
    },
  ])('reads $what', async ({ status = 200, headers = {}, body, code, result }) => {
    const fake = await fakeX((_req, res) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(body);
    });
    try {
      const api = new XApi({ baseUrl: fake.url, bearerToken: 'token', timeoutMs: 5_000 });
      if (result) return expect(await api.lookupTweet(id)).toEqual(result);
      const err = await failure(api, id);
      expect(err).toMatchObject({ code, upstreamStatus: status });
      expect(err.message).toContain(String(status));
      if (status === 429) expect(err.resetAt).toBeUndefined();
    } finally {
      await fake.close();
    }
  });

  it('sends the query and the bearer token the real API expects', async () => {
    let seen: http.IncomingMessage | undefined;
    const fake = await fakeX((req, res) => {
      seen = req;
      res.end('{}');
    });
    await failure(new XApi({ baseUrl: `${fake.url}/`, bearerToken: 'the-token', timeoutMs: 5_000 }), '20');
    await fake.close();
    expect(seen?.method).toBe('GET');
    expect(seen?.url).toBe('/2/tweets/20?expansions=author_id&user.fields=username&tweet.fields=created_at,note_tweet,referenced_tweets');
    expect(seen?.headers.authorization).toBe('Bearer the-token');
  });
});
