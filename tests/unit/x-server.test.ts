// The local X API of the regtest stack, spoken to over HTTP as tipd and a person would: it must
// answer in the JSON of the real API (REFERENCE §6), keep accounts apart from their names, and
// keep its users and tweets across a restart.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startXServer, type XServer } from '../../regtest/x-server.ts';

const appToken = 'app-token-for-tests';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tipd-x-server-'));
const stateFile = path.join(dir, 'state.json');
const lookupQuery = 'expansions=author_id&user.fields=username&tweet.fields=created_at,note_tweet';

let server: XServer;
beforeAll(async () => {
  server = await startXServer({ port: 0, appToken, stateFile });
});
afterAll(async () => {
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Reply {
  status: number;
  headers: Headers;
  body: any;
}

async function call(method: string, route: string, options: { token?: string; body?: unknown; raw?: string } = {}): Promise<Reply> {
  const res = await fetch(`${server.url}${route}`, {
    method,
    headers: { ...(options.token ? { authorization: `Bearer ${options.token}` } : {}), 'content-type': 'application/json' },
    ...(options.raw !== undefined ? { body: options.raw } : options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
  });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

const post = (user: string, text: string) => call('POST', '/2/tweets', { token: `user:${user}`, body: { text } });
const lookup = (id: string, token = appToken) => call('GET', `/2/tweets/${id}?${lookupQuery}`, { token });

describe('posting a tweet', () => {
  it('answers 201 with the id and text, and the id is a snowflake of now', async () => {
    const before = Date.now();
    const res = await post('Alice_Poster', 'hello from alice');
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ data: { id: expect.stringMatching(/^[0-9]{1,19}$/), text: 'hello from alice', edit_history_tweet_ids: [res.body.data.id] } });
    const postedAt = Number(BigInt(res.body.data.id) >> 22n) + 1288834974657;
    expect(postedAt).toBeGreaterThanOrEqual(before);
    expect(postedAt).toBeLessThanOrEqual(Date.now());
  });

  it('gives strictly increasing ids, also within one millisecond', async () => {
    const ids = (await Promise.all(Array.from({ length: 20 }, (_, i) => post('burst', `tweet ${i}`)))).map((r) => BigInt(r.body.data.id));
    const sorted = [...ids].sort((a, b) => (a < b ? -1 : 1));
    expect(new Set(ids).size).toBe(20);
    for (let i = 1; i < sorted.length; i++) expect(sorted[i]! > sorted[i - 1]!).toBe(true);
  });

  it.each([
    { what: 'no token', token: undefined, status: 401 },
    { what: 'a username with a dash', token: 'user:bad-name', status: 401 },
    { what: 'a username of 16 characters', token: 'user:abcdefghijklmnop', status: 401 },
    { what: 'the app token (app-only auth cannot post)', token: appToken, status: 403 },
  ])('refuses $what with $status', async ({ token, status }) => {
    const res = await call('POST', '/2/tweets', { ...(token ? { token } : {}), body: { text: 'hi' } });
    expect(res.status).toBe(status);
    expect(res.body).toMatchObject({ title: expect.any(String), type: expect.any(String), status });
  });

  it.each([
    { what: 'bad JSON', raw: '{"text":' },
    { what: 'no text', raw: '{}' },
    { what: 'empty text', raw: '{"text":""}' },
    { what: 'an unknown field', raw: '{"text":"hi","poll":{}}' },
    { what: 'a text over 25,000 characters', raw: JSON.stringify({ text: 'a'.repeat(25_001) }) },
  ])('refuses $what with a 400 invalid-request problem', async ({ raw }) => {
    const res = await call('POST', '/2/tweets', { token: 'user:alice', raw });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({
      title: 'Invalid Request',
      type: 'https://api.twitter.com/2/problems/invalid-request',
      errors: [{ message: expect.any(String) }],
    });
  });

  it('refuses a body over 64 KiB with 413', async () => {
    const res = await call('POST', '/2/tweets', { token: 'user:alice', raw: JSON.stringify({ text: 'a'.repeat(70_000) }) });
    expect(res.status).toBe(413);
  });
});

describe('looking a tweet up with the app token', () => {
  it('answers the tweet, its author and its time, agreeing with the snowflake', async () => {
    const { id } = (await post('Carol_Creator', 'claiming @Carol_Creator for tipd')).body.data;
    const res = await lookup(id);
    expect(res.status).toBe(200);
    const author = res.body.includes.users[0];
    expect(res.body).toEqual({
      data: {
        id,
        text: 'claiming @Carol_Creator for tipd',
        author_id: author.id,
        created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        edit_history_tweet_ids: [id],
      },
      includes: { users: [{ id: author.id, name: 'Carol_Creator', username: 'Carol_Creator' }] },
    });
    expect(author.id).toMatch(/^[0-9]{1,19}$/);
    expect(new Date(res.body.data.created_at).getTime()).toBe(Number(BigInt(id) >> 22n) + 1288834974657);
  });

  it('carries the rate-limit headers, counting down', async () => {
    const { id } = (await post('alice', 'counted')).body.data;
    const first = await lookup(id);
    const second = await lookup(id);
    expect(first.headers.get('x-rate-limit-limit')).toBe('450');
    expect(Number(second.headers.get('x-rate-limit-remaining'))).toBe(Number(first.headers.get('x-rate-limit-remaining')) - 1);
    expect(Number(first.headers.get('x-rate-limit-reset'))).toBeGreaterThan(Date.now() / 1000);
  });

  it('answers only what was asked for: no author or time without the expansion and fields', async () => {
    const { id } = (await post('alice', 'plain')).body.data;
    const res = await call('GET', `/2/tweets/${id}`, { token: appToken });
    expect(res.body).toEqual({ data: { id, text: 'plain', edit_history_tweet_ids: [id] } });
  });

  it('gives a long post as a shortened text and the whole of it in note_tweet', async () => {
    const long = `${'long '.repeat(100)}end`;
    const { id } = (await post('alice', long)).body.data;
    const { data } = (await lookup(id)).body;
    expect([...data.text].length).toBe(280);
    expect(data.note_tweet).toEqual({ text: long });
  });

  it('answers a tweet that never existed with HTTP 200 and only the not-found error', async () => {
    const res = await lookup('1790000000000000000');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      errors: [
        {
          value: '1790000000000000000',
          detail: 'Could not find tweet with id: [1790000000000000000].',
          title: 'Not Found Error',
          resource_type: 'tweet',
          parameter: 'id',
          resource_id: '1790000000000000000',
          type: 'https://api.twitter.com/2/problems/resource-not-found',
        },
      ],
    });
  });

  it.each([
    { what: 'no token', token: '' },
    { what: 'a wrong token', token: 'not-the-app-token' },
    { what: "a user's token", token: 'user:alice' },
  ])('refuses $what with the 401 problem', async ({ token }) => {
    const res = await call('GET', `/2/tweets/1?${lookupQuery}`, token ? { token } : {});
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ title: 'Unauthorized', type: 'about:blank', status: 401, detail: 'Unauthorized' });
  });

  it.each(['abc', '12345678901234567890', '1.5'])('refuses the id %j with a 400 naming it', async (id) => {
    const res = await lookup(id);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({
      title: 'Invalid Request',
      errors: [{ parameters: { id: [id] }, message: `The \`id\` query parameter value [${id}] is not valid` }],
    });
  });

  it('refuses an unknown query parameter with a 400 naming it', async () => {
    const res = await call('GET', '/2/tweets/1?foo=bar', { token: appToken });
    expect(res.status).toBe(400);
    expect(res.body.errors[0]).toMatchObject({ parameters: { foo: ['bar'] } });
  });
});

describe('deleting a tweet', () => {
  it("lets its author delete it, after which it is not found; someone else's gets 403", async () => {
    const { id } = (await post('dave', 'to be deleted')).body.data;
    const other = await call('DELETE', `/2/tweets/${id}`, { token: 'user:mallory' });
    expect(other.status).toBe(403);
    expect((await lookup(id)).body.data.id).toBe(id);

    const res = await call('DELETE', `/2/tweets/${id}`, { token: 'user:DAVE' });
    expect(res).toMatchObject({ status: 200, body: { data: { deleted: true } } });
    const after = await lookup(id);
    expect(after.status).toBe(200);
    expect(after.body.errors[0].type).toBe('https://api.twitter.com/2/problems/resource-not-found');
    expect((await call('DELETE', `/2/tweets/${id}`, { token: 'user:dave' })).status).toBe(404);
  });
});

describe('accounts', () => {
  it('are one per username whatever its case, shown as first spelled', async () => {
    const a = (await post('Erin_X', 'one')).body.data.id;
    const b = (await post('erin_x', 'two')).body.data.id;
    const [first, second] = [(await lookup(a)).body, (await lookup(b)).body];
    expect(second.data.author_id).toBe(first.data.author_id);
    expect(second.includes.users[0].username).toBe('Erin_X');
  });

  it('keep their id through a rename, and the old name becomes a new account with a new id', async () => {
    const old = (await post('frank', 'before the rename')).body.data.id;
    const frankId = (await lookup(old)).body.data.author_id;

    const renamed = await call('POST', '/_control/rename', { body: { from: 'frank', to: 'Frank_Renamed' } });
    expect(renamed).toMatchObject({ status: 200, body: { data: { id: frankId, username: 'Frank_Renamed' } } });
    expect((await lookup(old)).body.includes.users[0]).toMatchObject({ id: frankId, username: 'Frank_Renamed' });

    const squatter = (await post('frank', 'I am the new @frank')).body.data.id;
    const newcomer = (await lookup(squatter)).body;
    expect(newcomer.includes.users[0].username).toBe('frank');
    expect(newcomer.data.author_id).not.toBe(frankId);
  });

  it('refuse a rename of an unknown name (404) or onto a taken one (409)', async () => {
    await post('gina', 'x');
    await post('hank', 'y');
    expect((await call('POST', '/_control/rename', { body: { from: 'nobody_here', to: 'z' } })).status).toBe(404);
    expect((await call('POST', '/_control/rename', { body: { from: 'gina', to: 'HANK' } })).status).toBe(409);
    expect((await call('POST', '/_control/rename', { body: { from: 'gina', to: 'bad-name' } })).status).toBe(400);
  });
});

describe('failure modes of lookups', () => {
  afterAll(async () => {
    await call('POST', '/_control/mode', { body: { mode: 'ok' } });
  });

  it.each([
    { mode: 'rate_limited', status: 429, body: { title: 'Too Many Requests', detail: 'Too Many Requests', type: 'about:blank', status: 429 } },
    { mode: 'unauthorized', status: 401, body: { title: 'Unauthorized', detail: 'Unauthorized', type: 'about:blank', status: 401 } },
    { mode: 'unavailable', status: 503, body: { title: 'Service Unavailable', detail: 'Service Unavailable', type: 'about:blank', status: 503 } },
  ])('answers $status in mode $mode, while posting still works', async ({ mode, status, body }) => {
    const { id } = (await post('alice', `in mode ${mode}`)).body.data;
    expect((await call('POST', '/_control/mode', { body: { mode } })).status).toBe(200);
    const res = await lookup(id);
    expect(res.status).toBe(status);
    expect(res.body).toEqual(body);
    expect(res.headers.get('x-rate-limit-reset')).toMatch(/^\d+$/);
    if (mode === 'rate_limited') expect(res.headers.get('x-rate-limit-remaining')).toBe('0');
    await call('POST', '/_control/mode', { body: { mode: 'ok' } });
    expect((await lookup(id)).status).toBe(200);
  });

  it('refuses an unknown mode', async () => {
    expect((await call('POST', '/_control/mode', { body: { mode: 'broken' } })).status).toBe(400);
  });
});

describe('a restart', () => {
  it('keeps users, tweets and deletions, from the state file', async () => {
    const kept = (await post('ivy', 'kept')).body.data.id;
    const gone = (await post('ivy', 'gone')).body.data.id;
    await call('DELETE', `/2/tweets/${gone}`, { token: 'user:ivy' });
    const ivyId = (await lookup(kept)).body.data.author_id;
    const stateBefore = (await call('GET', '/_control/state')).body.data;

    await server.close();
    server = await startXServer({ port: 0, appToken, stateFile });

    expect((await call('GET', '/_control/state')).body.data).toEqual({ ...stateBefore, mode: 'ok' });
    expect((await lookup(kept)).body.data).toMatchObject({ text: 'kept', author_id: ivyId });
    expect((await lookup(gone)).body.errors).toHaveLength(1);
    const later = (await post('IVY', 'after the restart')).body.data.id;
    expect(BigInt(later) > BigInt(gone)).toBe(true);
    expect((await lookup(later)).body.data.author_id).toBe(ivyId);
    expect(fs.readdirSync(dir)).toEqual(['state.json']);
  });
});
