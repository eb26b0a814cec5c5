// Calls to other people's servers (Lightning Addresses: lnurl/address.ts) reach public addresses
// only. A name is resolved as the connection is made, and only the public addresses it resolves to
// are connected to: a name that points at tipd's own machine or network (or is made to, between a
// check and the connection: DNS rebinding) is never reached.
import dns from 'node:dns';
import type { LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import { Agent } from 'undici';

/** NAT64's well-known prefix (RFC 6052): on an IPv6-only network with DNS64, IPv4-only hosts resolve into it. */
const nat64 = ipaddr.parseCIDR('64:ff9b::/96');

/**
 * Whether `address` (an IP address) is a public unicast one: no loopback, private, link-local,
 * reserved… range. An IPv4-mapped address, or one behind NAT64's well-known prefix, is judged as
 * the IPv4 address it carries.
 */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  const parsed = ipaddr.process(address);
  if (parsed.kind() === 'ipv6' && parsed.match(nat64)) {
    const bytes = parsed.toByteArray().slice(12);
    return ipaddr.fromByteArray(bytes).range() === 'unicast';
  }
  return parsed.range() === 'unicast';
}

/** How names are resolved: every address of a name (dns.lookup by default; tests give their own). */
export type Resolve = (hostname: string, family: number, hints?: number) => Promise<dns.LookupAddress[]>;

const systemResolve: Resolve = (hostname, family, hints) => dns.promises.lookup(hostname, { all: true, family, ...(hints === undefined ? {} : { hints }) });

/** A `lookup` for net.connect that answers only a name's public addresses, and fails when it has none. */
export function publicLookup(resolve: Resolve = systemResolve): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : (options.family ?? 0), options.hints).then(
      (addresses) => {
        const allowed = addresses.filter(({ address }) => isPublicAddress(address));
        if (allowed.length === 0) {
          const err: NodeJS.ErrnoException = new Error(`${hostname} has no public address`);
          err.code = 'ENOTPUBLIC';
          return callback(err, '', 0);
        }
        if (options.all) callback(null, allowed);
        else callback(null, allowed[0]!.address, allowed[0]!.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, '', 0),
    );
  };
}

/** An HTTP dispatcher (for fetch's `dispatcher`) that connects to public addresses only. */
export const publicOnlyAgent = (resolve?: Resolve): Agent => new Agent({ connect: { lookup: publicLookup(resolve) } });
