// An HTTP answer's body, read up to a bound: the clients of other servers (the X API, Lightning
// Addresses) must not let one answer fill tipd's memory.

/** The body of `res` as UTF-8, or `undefined` once it grows past `bytesMax` (the rest is not read). */
export async function readCapped(res: Response, bytesMax: number): Promise<string | undefined> {
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
    bytes += chunk.byteLength;
    if (bytes > bytesMax) {
      await res.body.cancel().catch(() => {});
      return undefined;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
