// Calls to other people's servers (Lightning Addresses: lnurl/address.ts) reach public addresses
// only. A name is resolved as the connection is made, and only the public addresses it resolves to
// are connected to: a name that points at tipd's own machine or network (or is made to, between a
// check and the connection: DNS rebinding) is never reached.
import dns from 'node:dns';
import type { LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import { Agent } from 'undici';

/** Whether `address` (an IP address) is a public unicast one: no loopback, private, link-local, reserved… range. */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  const parsed = ipaddr.process(address); // IPv4-mapped IPv6 as the IPv4 address it is
  return parsed.range() === 'unicast';
}

/** How names are resolved: every address of a name (dns.lookup by default; tests give their own). */
export type Resolve = (hostname: string, family: number) => Promise<dns.LookupAddress[]>;

const systemResolve: Resolve = (hostname, family) => dns.promises.lookup(hostname, { all: true, family });

/** A `lookup` for net.connect that answers only a name's public addresses, and fails when it has none. */
export function publicLookup(resolve: Resolve = systemResolve): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : (options.family ?? 0)).then(
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
