// Tweet references as people paste them: a bare id or a tweet URL, reduced to the id, which is
// all tipd trusts (the `<user>` part of a URL proves nothing; the author comes from the X API).
// Tweet ids are snowflakes, so each one also carries the time it was posted.

/** The X OpenAPI `TweetId` pattern. */
export const tweetIdPattern = /^[0-9]{1,19}$/;
/** X's ids are signed 64-bit integers. */
const tweetIdMax = 2n ** 63n - 1n;

/**
 * https://x.com/<user>/status/<id> and its variants: twitter.com, a www. or mobile. prefix, the old
 * /statuses/, a trailing slash, a query string (?s=20). Nothing else: no other path, no fragment.
 */
const tweetUrlPattern = /^https:\/\/(?:www\.|mobile\.)?(?:x|twitter)\.com\/[A-Za-z0-9_]{1,15}\/status(?:es)?\/([0-9]{1,19})\/?(?:\?[^#\s]*)?$/;

/** The numbers 0 to `max` written with at most as many digits (leading zeros allowed), as a regular expression. */
function atMost(max: string): string {
  const below = [...max].flatMap((digit, i) => (digit === '0' ? [] : [`${max.slice(0, i)}[0-${Number(digit) - 1}][0-9]{${max.length - 1 - i}}`]));
  return `(?:[0-9]{1,${max.length - 1}}|${[...below, max].join('|')})`;
}

/** What `tweetIdOf` takes, as one regular expression: for the API's description (its input's pattern). */
export const tweetReferencePattern = (() => {
  const id = atMost(tweetIdMax.toString());
  return `^(?:${id}|${tweetUrlPattern.source.slice(1, -1).replace('([0-9]{1,19})', id)})$`;
})();

/** The tweet id of a bare id or a tweet URL; undefined for anything else. */
export function tweetIdOf(input: string): string | undefined {
  const id = tweetIdPattern.test(input) ? input : tweetUrlPattern.exec(input)?.[1];
  return id !== undefined && BigInt(id) <= tweetIdMax ? id : undefined;
}

/** Milliseconds since the Unix epoch of snowflake 0: 2010-11-04T01:42:54.657Z. */
export const snowflakeEpochMs = 1_288_834_974_657;

/**
 * When a tweet was posted, read from its id (the bits above the low 22). Ids from before November
 * 2010 are not snowflakes: they all give times within seconds of the snowflake epoch.
 */
export function snowflakeTime(id: string): Date {
  if (!tweetIdPattern.test(id)) throw new RangeError(`snowflakeTime: a tweet id is 1 to 19 digits (got "${id.slice(0, 40)}")`);
  return new Date(Number(BigInt(id) >> 22n) + snowflakeEpochMs);
}
