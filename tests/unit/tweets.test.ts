// Tweet references as people paste them: only the id is kept, from a bare id or a tweet URL of
// x.com or twitter.com, and anything else is refused. Tweet ids carry their posting time.
import { describe, expect, it } from 'vitest';
import { snowflakeTime, tweetIdOf } from '../../src/x/tweets.ts';

const id = '1790000000000000000';

describe('a tweet reference', () => {
  it.each([
    { input: id, what: 'a bare id' },
    { input: '0', what: 'the shortest id' },
    { input: '9223372036854775807', what: 'the largest id (signed 64 bits)' },
    { input: `https://x.com/Carol_Creator/status/${id}`, what: 'an x.com URL' },
    { input: `https://twitter.com/carol/status/${id}`, what: 'a twitter.com URL' },
    { input: `https://mobile.twitter.com/carol/status/${id}`, what: 'a mobile.twitter.com URL' },
    { input: `https://www.twitter.com/carol/status/${id}`, what: 'a www.twitter.com URL' },
    { input: `https://www.x.com/carol/status/${id}`, what: 'a www.x.com URL' },
    { input: `https://mobile.x.com/carol/status/${id}`, what: 'a mobile.x.com URL' },
    { input: `https://twitter.com/carol/statuses/${id}`, what: 'the old /statuses/ path' },
    { input: `https://x.com/carol/status/${id}?s=20`, what: 'a share query string' },
    { input: `https://x.com/carol/status/${id}?s=46&t=AbC-dEf_123`, what: 'a longer query string' },
    { input: `https://x.com/carol/status/${id}/`, what: 'a trailing slash' },
    { input: `https://x.com/carol/status/${id}/?s=20`, what: 'a trailing slash and a query string' },
    { input: `https://x.com/i/status/${id}`, what: 'the anonymous /i/ path' },
  ])('gives the id of $what', ({ input }) => {
    expect(tweetIdOf(input)).toBe(/^\d+$/.test(input) ? input : id);
  });

  it.each([
    { input: '', what: 'nothing' },
    { input: '12345678901234567890', what: 'an id of 20 digits' },
    { input: '9223372036854775808', what: 'a 19-digit id above signed 64 bits' },
    { input: '-1', what: 'a negative number' },
    { input: '1e18', what: 'an exponent' },
    { input: ` ${id}`, what: 'an id with a space' },
    { input: `${id}\n`, what: 'an id with a newline' },
    { input: `http://x.com/carol/status/${id}`, what: 'plain http' },
    { input: `https://evil.example/carol/status/${id}`, what: 'another site' },
    { input: `https://x.com.evil.example/carol/status/${id}`, what: 'a look-alike host' },
    { input: `https://evilx.com/carol/status/${id}`, what: 'a host ending in x.com' },
    { input: `https://api.x.com/carol/status/${id}`, what: 'another subdomain' },
    { input: `https://x.com/carol/status/${id}#top`, what: 'a fragment' },
    { input: `https://x.com/carol/status/${id}/photo/1`, what: 'a photo path' },
    { input: `https://x.com/carol/status/${id}x`, what: 'an id followed by letters' },
    { input: `https://x.com/carol-x/status/${id}`, what: 'a user with a dash' },
    { input: `https://x.com/abcdefghijklmnop/status/${id}`, what: 'a user of 16 characters' },
    { input: `https://x.com//status/${id}`, what: 'no user' },
    { input: `https://x.com/carol/${id}`, what: 'no /status/' },
    { input: `https://x.com/carol/status/`, what: 'no id' },
    { input: `x.com/carol/status/${id}`, what: 'no scheme' },
  ])('refuses $what', ({ input }) => {
    expect(tweetIdOf(input)).toBeUndefined();
  });
});

describe('the time in a tweet id', () => {
  it.each([
    // Ids and created_at of the X API documentation's examples (created_at is whole seconds).
    { id: '1050118621198921728', at: '2018-10-10T20:19:24.211Z' },
    { id: '1212092628029698048', at: '2019-12-31T19:26:16.771Z' },
    { id: '0', at: '2010-11-04T01:42:54.657Z' },
    // Beyond 2^53: the arithmetic is in BigInt.
    { id: '9223372036854775807', at: '2080-07-10T17:30:30.208Z' },
  ])('reads $at from $id', ({ id, at }) => {
    expect(snowflakeTime(id).toISOString()).toBe(at);
  });

  it('ignores the low 22 bits (machine and sequence)', () => {
    const base = (1_000_000n << 22n).toString();
    const last = ((1_000_000n << 22n) | 0x3fffffn).toString();
    expect(snowflakeTime(base)).toEqual(snowflakeTime(last));
  });

  it.each(['', 'abc', '12345678901234567890', '1.5'])('refuses %j, which is not a tweet id', (bad) => {
    expect(() => snowflakeTime(bad)).toThrow(RangeError);
  });
});
